/*
 * Reads the kernel file and hands it to the loader for its format (a Linux
 * bzImage, an ELF64 executable, or a Multiboot kernel, in that order).  Every
 * field of the image is untrusted: offsets, sizes and addresses are checked
 * against the file and guest RAM before anything is copied.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/abi.h"
#include "vmm/loader.h"
#include "vmm/vm.h"

int
loader_copy(struct vm *vm, uint64_t gpa, const void *src, uint64_t filesz,
    uint64_t memsz, char *err, size_t errlen)
{
	if (filesz > memsz || gpa < HYVE_BOOT_FREE || gpa + memsz < gpa ||
	    (gpa < HYVE_ACPI_END && gpa + memsz > HYVE_ACPI_BASE)) {
		snprintf(err, errlen, "segment at 0x%" PRIx64 " overlaps the boot "
		    "area or the ACPI tables, or is malformed", gpa);
		return -ENOEXEC;
	}
	uint8_t *dst = gpa_to_hva(&vm->mem, gpa, memsz);
	if (dst == NULL) {
		snprintf(err, errlen, "segment 0x%" PRIx64 "-0x%" PRIx64 " lies "
		    "outside guest RAM (%" PRIu64 " MiB)", gpa, gpa + memsz,
		    vm->mem.size >> 20);
		return -ENOEXEC;
	}
	memcpy(dst, src, filesz);
	memset(dst + filesz, 0, memsz - filesz);
	return 0;
}

int
load_kernel(struct vm *vm, struct boot_state *bs, char *err, size_t errlen)
{
	const char *path = vm->cfg.kernel;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "kernel %s: %s", path, strerror(errno));
		return -errno;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 64) {
		snprintf(err, errlen, "kernel %s: not a regular file of at least "
		    "64 bytes", path);
		close(fd);
		return -ENOEXEC;
	}
	size_t len = (size_t)st.st_size;
	uint8_t *img = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (img == MAP_FAILED) {
		snprintf(err, errlen, "kernel %s: %s", path, strerror(errno));
		return -errno;
	}
	memset(bs, 0, sizeof(*bs));
	int r;
	bool lx = linux_is_bzimage(img, len);
	if (!lx && vm->cfg.initrd != NULL) {
		snprintf(err, errlen, "not a Linux bzImage, which -i INITRD needs");
		r = -ENOEXEC;
	} else if (lx) {
		r = load_linux(vm, img, len, bs, err, errlen);
	} else if (memcmp(img, "\177ELF", 4) == 0 && img[4] == 2) {
		r = load_elf64(vm, img, len, bs, err, errlen);
	} else {
		r = load_multiboot(vm, img, len, bs, err, errlen);
	}
	munmap(img, len);
	if (r < 0 && err[0] != '\0') {
		char tmp[512];
		snprintf(tmp, sizeof(tmp), "kernel %s: %s", path, err);
		snprintf(err, errlen, "%s", tmp);
	}
	return r;
}
