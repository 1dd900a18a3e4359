/*
 * Linux bzImage kernels, by the x86 boot protocol (Documentation/arch/x86/
 * boot.rst, zero-page.rst) and its 64-bit entry: the protected-mode part of
 * the image is loaded at its preferred address, an initramfs high in RAM
 * below 4 GiB, the command line and the zero page (struct boot_params: the
 * image's setup header, the e820 map, the RSDP's address) in the boot area
 * below 1 MiB, and the kernel is entered 0x200 bytes into its protected-mode
 * part, in long mode, with RSI = the zero page.  Every header field comes
 * from the image and is checked before it is used.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/abi.h"
#include "vmm/loader.h"
#include "vmm/vm.h"

/* The setup header: the same offsets in the image and in the zero page. */
#define HDR_START           0x1f1
#define HDR_SETUP_SECTS     0x1f1   /* u8, 0 means 4 */
#define HDR_SYSSIZE         0x1f4   /* u32, 16-byte units */
#define HDR_BOOT_FLAG       0x1fe   /* u16, 0xaa55 */
#define HDR_JUMP            0x200   /* the header ends at 0x202 + byte 0x201 */
#define HDR_MAGIC           0x202   /* "HdrS" */
#define HDR_VERSION         0x206   /* u16 */
#define HDR_TYPE_OF_LOADER  0x210   /* u8 */
#define HDR_LOADFLAGS       0x211   /* u8 */
#define HDR_CODE32_START    0x214   /* u32 */
#define HDR_RAMDISK_IMAGE   0x218   /* u32 */
#define HDR_RAMDISK_SIZE    0x21c   /* u32 */
#define HDR_HEAP_END_PTR    0x224   /* u16 */
#define HDR_CMD_LINE_PTR    0x228   /* u32 */
#define HDR_INITRD_ADDR_MAX 0x22c   /* u32 */
#define HDR_KERNEL_ALIGN    0x230   /* u32 */
#define HDR_RELOCATABLE     0x234   /* u8 */
#define HDR_XLOADFLAGS      0x236   /* u16 */
#define HDR_CMDLINE_SIZE    0x238   /* u32 */
#define HDR_SETUP_DATA      0x250   /* u64 */
#define HDR_PREF_ADDRESS    0x258   /* u64 */
#define HDR_INIT_SIZE       0x260   /* u32 */
#define HDR_ROOM_END        0x290   /* where the zero page's header room ends */

/* Zero-page fields outside the setup header. */
#define ZP_ACPI_RSDP_ADDR   0x070   /* u64 */
#define ZP_EXT_RAMDISK_IMAGE 0x0c0  /* u32 */
#define ZP_EXT_RAMDISK_SIZE 0x0c4   /* u32 */
#define ZP_EXT_CMD_LINE_PTR 0x0c8   /* u32 */
#define ZP_E820_ENTRIES     0x1e8   /* u8 */
#define ZP_E820_TABLE       0x2d0   /* 20-byte entries */
#define ZP_E820_MAX         128
#define ZP_SIZE             0x1000

#define LOADED_HIGH   0x01
#define CAN_USE_HEAP  0x80
#define XLF_KERNEL_64 0x0001
#define MIN_VERSION   0x020c        /* 2.12: xloadflags, the 64-bit entry */
#define ENTRY64_OFFSET 0x200
#define LOADER_UNDEFINED 0xff
#define E820_RAM      1
#define E820_RESERVED 2
#define LOW_RAM_END   0x9fc00u      /* the BIOS area starts here */
#define HIGH_RAM_START 0x100000u

static uint32_t
rd32(const uint8_t *p, size_t off)
{
	uint32_t v;
	memcpy(&v, p + off, 4);
	return v;
}

static uint16_t
rd16(const uint8_t *p, size_t off)
{
	uint16_t v;
	memcpy(&v, p + off, 2);
	return v;
}

static uint64_t
rd64(const uint8_t *p, size_t off)
{
	uint64_t v;
	memcpy(&v, p + off, 8);
	return v;
}

static void
wr16(uint8_t *p, size_t off, uint16_t v)
{
	memcpy(p + off, &v, 2);
}

static void
wr32(uint8_t *p, size_t off, uint32_t v)
{
	memcpy(p + off, &v, 4);
}

static void
wr64(uint8_t *p, size_t off, uint64_t v)
{
	memcpy(p + off, &v, 8);
}

bool
linux_is_bzimage(const uint8_t *img, size_t len)
{
	return len >= HDR_MAGIC + 4 && memcmp(img + HDR_MAGIC, "HdrS", 4) == 0;
}

/* The memory map: conventional RAM, the BIOS area (with hyve's ACPI
 * tables), RAM from 1 MiB, the PCI ECAM window, RAM above 4 GiB. */
static void
write_e820(const struct vm *vm, uint8_t *zp)
{
	struct { uint64_t base, len; uint32_t type; } e[] = {
		{ 0, LOW_RAM_END, E820_RAM },
		{ LOW_RAM_END, HIGH_RAM_START - LOW_RAM_END, E820_RESERVED },
		{ HIGH_RAM_START, vm->mem.lo_size > HIGH_RAM_START ?
		    vm->mem.lo_size - HIGH_RAM_START : 0, E820_RAM },
		{ HYVE_PCI_ECAM, HYVE_PCI_ECAM_LEN, E820_RESERVED },
		{ HYVE_HIGHMEM_START, vm->mem.hi_size, E820_RAM },
	};
	uint8_t n = 0;
	for (size_t i = 0; i < sizeof(e) / sizeof(e[0]); i++) {
		if (e[i].len == 0)
			continue;
		uint8_t *ent = zp + ZP_E820_TABLE + (size_t)n * 20;
		wr64(ent, 0, e[i].base);
		wr64(ent, 8, e[i].len);
		wr32(ent, 16, e[i].type);
		n++;
	}
	zp[ZP_E820_ENTRIES] = n;
}

/* Read all of fd into guest memory at dst. */
static int
read_all(int fd, uint8_t *dst, uint64_t len)
{
	uint64_t done = 0;
	while (done < len) {
		size_t chunk = len - done > (1u << 30) ? (1u << 30) :
		    (size_t)(len - done);
		ssize_t n = pread(fd, dst + done, chunk, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;        /* the file shrank under us */
		done += (uint64_t)n;
	}
	return 0;
}

/* The initramfs goes as high as RAM below 4 GiB and the kernel's
 * initrd_addr_max allow, page-aligned, above the kernel's init_size. */
static int
load_initrd(struct vm *vm, uint8_t *zp, uint64_t kernel_end,
    char *err, size_t errlen)
{
	const char *path = vm->cfg.initrd;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "initrd %s: %s", path, strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
		snprintf(err, errlen, "initrd %s: not a non-empty regular file",
		    path);
		close(fd);
		return -ENOEXEC;
	}
	uint64_t size = (uint64_t)st.st_size;
	uint64_t max = rd32(zp, HDR_INITRD_ADDR_MAX);
	if (max == 0)
		max = 0x37ffffff;       /* the protocol's default before 2.03 */
	uint64_t top = vm->mem.lo_size;
	if (top > max + 1)
		top = max + 1;
	if (top > HYVE_BOOT_IDMAP_LIMIT)
		top = HYVE_BOOT_IDMAP_LIMIT;
	if (size > UINT32_MAX || size > top || ((top - size) & ~0xfffull) <
	    kernel_end) {
		snprintf(err, errlen, "initrd %s (%" PRIu64 " KiB) does not fit "
		    "between the kernel's end at 0x%" PRIx64 " and 0x%" PRIx64
		    " (end of RAM below 4 GiB or the kernel's initrd_addr_max)",
		    path, size >> 10, kernel_end, top);
		close(fd);
		return -ENOEXEC;
	}
	uint64_t addr = (top - size) & ~0xfffull;
	uint8_t *dst = gpa_to_hva(&vm->mem, addr, size);
	int r = dst ? read_all(fd, dst, size) : -EFAULT;
	close(fd);
	if (r < 0) {
		snprintf(err, errlen, "initrd %s: %s", path, strerror(-r));
		return r;
	}
	wr32(zp, HDR_RAMDISK_IMAGE, (uint32_t)addr);
	wr32(zp, HDR_RAMDISK_SIZE, (uint32_t)size);
	wr32(zp, ZP_EXT_RAMDISK_IMAGE, 0);
	wr32(zp, ZP_EXT_RAMDISK_SIZE, 0);
	return 0;
}

/* Check the image's header; on success *hdr_end is the end of the setup
 * header and *setup_len the bytes before the protected-mode kernel. */
static int
check_header(const uint8_t *img, size_t len, size_t *hdr_end,
    size_t *setup_len, char *err, size_t errlen)
{
	if (len < HDR_ROOM_END) {
		snprintf(err, errlen, "truncated Linux setup header");
		return -ENOEXEC;
	}
	uint16_t ver = rd16(img, HDR_VERSION);
	if (rd16(img, HDR_BOOT_FLAG) != 0xaa55) {
		snprintf(err, errlen, "Linux setup header lacks the 0xaa55 "
		    "boot flag");
		return -ENOEXEC;
	}
	if (ver < MIN_VERSION) {
		snprintf(err, errlen, "Linux boot protocol %u.%02u is too old: "
		    "hyve needs 2.12 or later (64-bit entry)", ver >> 8,
		    ver & 0xff);
		return -ENOEXEC;
	}
	*hdr_end = HDR_MAGIC + (size_t)img[HDR_JUMP + 1];
	if (*hdr_end < HDR_INIT_SIZE + 4 || *hdr_end > HDR_ROOM_END) {
		snprintf(err, errlen, "Linux setup header length 0x%zx does not "
		    "match protocol %u.%02u", *hdr_end - HDR_START, ver >> 8,
		    ver & 0xff);
		return -ENOEXEC;
	}
	if (!(rd16(img, HDR_XLOADFLAGS) & XLF_KERNEL_64)) {
		snprintf(err, errlen, "Linux kernel has no 64-bit entry point "
		    "(xloadflags lacks XLF_KERNEL_64)");
		return -ENOEXEC;
	}
	if (!(img[HDR_LOADFLAGS] & LOADED_HIGH)) {
		snprintf(err, errlen, "not a bzImage: the kernel does not load "
		    "high (loadflags lacks LOADED_HIGH)");
		return -ENOEXEC;
	}
	unsigned sects = img[HDR_SETUP_SECTS] ? img[HDR_SETUP_SECTS] : 4;
	*setup_len = ((size_t)sects + 1) * 512;
	if (*setup_len < *hdr_end || *setup_len >= len) {
		snprintf(err, errlen, "setup_sects %u does not fit the file "
		    "(%zu bytes)", sects, len);
		return -ENOEXEC;
	}
	return 0;
}

/* Where the protected-mode kernel goes: pref_address (1 MiB if unset),
 * rounded up to kernel_alignment for a relocatable kernel. */
static int
place_kernel(const struct vm *vm, const uint8_t *img, uint64_t pm_len,
    uint64_t *load, uint64_t *end, char *err, size_t errlen)
{
	uint64_t pref = rd64(img, HDR_PREF_ADDRESS);
	uint64_t init = rd32(img, HDR_INIT_SIZE);
	if (pref == 0)
		pref = HIGH_RAM_START;
	if (img[HDR_RELOCATABLE]) {
		uint64_t a = rd32(img, HDR_KERNEL_ALIGN);
		if (a < 0x1000 || (a & (a - 1)) != 0) {
			snprintf(err, errlen, "kernel_alignment 0x%" PRIx64 " is "
			    "not a power of two of at least 4 KiB", a);
			return -ENOEXEC;
		}
		if (pref > UINT64_MAX - a) {
			snprintf(err, errlen, "pref_address 0x%" PRIx64 " is out "
			    "of range", pref);
			return -ENOEXEC;
		}
		pref = (pref + a - 1) & ~(a - 1);
	}
	if (init < pm_len) {
		snprintf(err, errlen, "init_size 0x%" PRIx64 " is smaller than "
		    "the kernel (0x%" PRIx64 " bytes)", init, pm_len);
		return -ENOEXEC;
	}
	if (pref < HIGH_RAM_START) {
		snprintf(err, errlen, "kernel load address 0x%" PRIx64 " lies "
		    "below 1 MiB, in the boot and BIOS areas", pref);
		return -ENOEXEC;
	}
	if (pref >= HYVE_BOOT_IDMAP_LIMIT || pref + init > vm->mem.lo_size) {
		snprintf(err, errlen, "kernel at 0x%" PRIx64 " with init_size "
		    "0x%" PRIx64 " does not fit in guest RAM below the PCI hole "
		    "(%" PRIu64 " MiB; it needs %" PRIu64 " MiB)", pref, init,
		    vm->mem.lo_size >> 20, (pref + init + 0xfffff) >> 20);
		return -ENOEXEC;
	}
	*load = pref;
	*end = pref + init;
	return 0;
}

int
load_linux(struct vm *vm, const uint8_t *img, size_t len,
    struct boot_state *bs, char *err, size_t errlen)
{
	size_t hdr_end, setup_len;
	int r = check_header(img, len, &hdr_end, &setup_len, err, errlen);
	if (r < 0)
		return r;
	uint64_t pm_len = (uint64_t)rd32(img, HDR_SYSSIZE) * 16;
	if (pm_len <= ENTRY64_OFFSET || pm_len > len - setup_len) {
		snprintf(err, errlen, "syssize gives 0x%" PRIx64 " bytes of "
		    "protected-mode kernel, but the file holds 0x%zx after the "
		    "setup code", pm_len, len - setup_len);
		return -ENOEXEC;
	}
	uint64_t load, end;
	r = place_kernel(vm, img, pm_len, &load, &end, err, errlen);
	if (r < 0)
		return r;

	const char *cl = vm->cfg.cmdline ? vm->cfg.cmdline : "";
	size_t cl_len = strlen(cl);
	uint32_t cl_max = rd32(img, HDR_CMDLINE_SIZE);
	if (cl_len > cl_max || cl_len >= LINUX_CMDLINE_MAX) {
		snprintf(err, errlen, "command line is %zu bytes; the kernel "
		    "takes at most %" PRIu32 " (hyve at most %u)", cl_len, cl_max,
		    LINUX_CMDLINE_MAX - 1);
		return -ENOEXEC;
	}
	uint8_t *zp = gpa_to_hva(&vm->mem, LINUX_ZERO_PAGE, ZP_SIZE);
	uint8_t *cmd = gpa_to_hva(&vm->mem, LINUX_CMDLINE, cl_len + 1);
	if (zp == NULL || cmd == NULL) {
		snprintf(err, errlen, "guest RAM too small for the zero page");
		return -ENOMEM;
	}

	r = loader_copy(vm, load, img + setup_len, pm_len, pm_len, err, errlen);
	if (r < 0)
		return r;

	memset(zp, 0, ZP_SIZE);
	memcpy(zp + HDR_START, img + HDR_START, hdr_end - HDR_START);
	zp[HDR_TYPE_OF_LOADER] = LOADER_UNDEFINED;
	zp[HDR_LOADFLAGS] |= CAN_USE_HEAP;
	wr16(zp, HDR_HEAP_END_PTR, 0xfe00);
	wr32(zp, HDR_CODE32_START, (uint32_t)load);
	wr64(zp, HDR_SETUP_DATA, 0);
	memcpy(cmd, cl, cl_len);
	cmd[cl_len] = '\0';
	wr32(zp, HDR_CMD_LINE_PTR, LINUX_CMDLINE);
	wr32(zp, ZP_EXT_CMD_LINE_PTR, 0);
	/* boot_params.acpi_rsdp_addr: read by kernels since 5.0 (older ones
	 * find the RSDP by scanning the BIOS area, where it also is). */
	wr64(zp, ZP_ACPI_RSDP_ADDR, HYVE_ACPI_RSDP);
	write_e820(vm, zp);

	wr32(zp, HDR_RAMDISK_IMAGE, 0);
	wr32(zp, HDR_RAMDISK_SIZE, 0);
	if (vm->cfg.initrd != NULL) {
		r = load_initrd(vm, zp, end, err, errlen);
		if (r < 0)
			return r;
	}

	bs->mode = BOOT_LINUX64;
	bs->entry = load + ENTRY64_OFFSET;
	bs->arg0 = 0;
	bs->arg1 = LINUX_ZERO_PAGE;
	bs->kernel_start = load;
	bs->kernel_end = end;
	return 0;
}
