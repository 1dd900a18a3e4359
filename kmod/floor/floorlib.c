#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "kmod/floor/floorlib.h"
#include "vmm/abi.h"

#define TSS_ADDR (HYVE_BOOT_GDT + 0x100)

const char *floor_prog = "floor";
uint8_t *floor_mem;
uint64_t floor_mem_size;

void
floor_die(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", floor_prog);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(status);
}

void
floor_on_alarm(int sig)
{
	(void)sig;
	static const char m[] = ": timed out\n";
	(void)!write(2, floor_prog, strlen(floor_prog));
	(void)!write(2, m, sizeof(m) - 1);
	_exit(FLOOR_EXIT_INTERNAL);
}

void *
floor_gpa(uint64_t gpa, uint64_t len)
{
	if (gpa > floor_mem_size || len > floor_mem_size - gpa)
		return NULL;
	return floor_mem + gpa;
}

uint64_t
floor_load_elf(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		floor_die(FLOOR_EXIT_USAGE, "kernel %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size <= 0 ||
	    (uint64_t)st.st_size > floor_mem_size)
		floor_die(FLOOR_EXIT_USAGE, "kernel %s: unusable size", path);
	size_t len = (size_t)st.st_size;
	uint8_t *img = malloc(len);
	if (img == NULL || read(fd, img, len) != (ssize_t)len)
		floor_die(FLOOR_EXIT_USAGE, "kernel %s: cannot read", path);
	close(fd);
	Elf64_Ehdr eh;
	if (len < sizeof(eh))
		floor_die(FLOOR_EXIT_USAGE, "%s: truncated ELF header", path);
	memcpy(&eh, img, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64 ||
	    eh.e_type != ET_EXEC || eh.e_phentsize != sizeof(Elf64_Phdr) ||
	    eh.e_phnum == 0 || eh.e_phnum > 64 || eh.e_phoff > len ||
	    (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff)
		floor_die(FLOOR_EXIT_USAGE, "%s: not an x86-64 ELF executable",
		    path);
	bool entry_ok = false;
	for (int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, img + eh.e_phoff + (size_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (ph.p_offset > len || ph.p_filesz > len - ph.p_offset ||
		    ph.p_filesz > ph.p_memsz)
			floor_die(FLOOR_EXIT_USAGE, "%s: segment %d lies outside "
			    "the file", path, i);
		uint8_t *dst = floor_gpa(ph.p_paddr, ph.p_memsz);
		if (dst == NULL || ph.p_paddr < HYVE_BOOT_FREE)
			floor_die(FLOOR_EXIT_USAGE, "%s: segment %d at 0x%" PRIx64
			    " is outside the floor's %" PRIu64 " MiB of RAM", path,
			    i, (uint64_t)ph.p_paddr, floor_mem_size >> 20);
		memcpy(dst, img + ph.p_offset, ph.p_filesz);
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
		if (eh.e_entry >= ph.p_vaddr &&
		    eh.e_entry - ph.p_vaddr < ph.p_memsz && (ph.p_flags & PF_X))
			entry_ok = ph.p_vaddr == ph.p_paddr;
	}
	if (!entry_ok)
		floor_die(FLOOR_EXIT_USAGE, "%s: entry point 0x%" PRIx64 " is not "
		    "in an identity-mapped executable segment", path,
		    (uint64_t)eh.e_entry);
	free(img);
	return eh.e_entry;
}

void
floor_write_boot_memory(const char *cmdline, unsigned ncpus)
{
	uint8_t *mem = floor_mem;
	uint64_t gdt[5] = {
		0, 0x00af9b000000ffffull, 0x00cf93000000ffffull,
		0x00008b0000000067ull | ((uint64_t)(TSS_ADDR & 0xffffff) << 16) |
		    ((uint64_t)(TSS_ADDR >> 24) << 56),
		0,
	};
	memcpy(mem + HYVE_BOOT_GDT, gdt, sizeof(gdt));
	uint64_t *pml4 = (uint64_t *)(mem + HYVE_BOOT_PML4);
	uint64_t *pdpt = pml4 + 512;
	pml4[0] = (HYVE_BOOT_PML4 + 0x1000) | 0x3;
	for (uint64_t i = 0; i < 4; i++) {
		uint64_t *pd = pml4 + 1024 + 512 * i;
		pdpt[i] = (HYVE_BOOT_PML4 + 0x2000 + i * 0x1000) | 0x3;
		for (uint64_t j = 0; j < 512; j++)
			pd[j] = ((i << 30) + (j << 21)) | 0x83;
	}
	size_t cl = strlen(cmdline);
	if (cl >= HYVE_BOOT_CMDLINE_MAX)
		floor_die(FLOOR_EXIT_USAGE, "command line longer than %u bytes",
		    HYVE_BOOT_CMDLINE_MAX - 1);
	memcpy(mem + HYVE_BOOT_CMDLINE, cmdline, cl + 1);
	struct hyve_bootinfo bi = {
		.magic = HYVE_BOOT_MAGIC, .version = 1,
		.mem_lo = floor_mem_size, .ncpus = ncpus,
		.cmdline_len = (uint32_t)cl, .cmdline = HYVE_BOOT_CMDLINE,
	};
	memcpy(mem + HYVE_BOOT_INFO, &bi, sizeof(bi));
}

void
floor_set_long_mode(int vcpu_fd, uint64_t cr3, uint64_t rip, uint64_t rsp,
    uint64_t rdi, uint64_t rsi)
{
	struct kvm_sregs s;
	if (ioctl(vcpu_fd, KVM_GET_SREGS, &s) < 0)
		floor_die(FLOOR_EXIT_INTERNAL, "KVM_GET_SREGS: %s", strerror(errno));
	struct kvm_segment code = {
		.base = 0, .limit = 0xffffffff, .selector = 0x08, .type = 0xb,
		.present = 1, .s = 1, .l = 1, .g = 1,
	};
	struct kvm_segment data = code;
	data.selector = 0x10;
	data.type = 0x3;
	data.l = 0;
	data.db = 1;
	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.tr = (struct kvm_segment){ .base = TSS_ADDR, .limit = 0x67,
	    .selector = 0x18, .type = 0xb, .present = 1 };
	s.ldt = (struct kvm_segment){ .type = 0x2, .unusable = 1 };
	s.gdt.base = HYVE_BOOT_GDT;
	s.gdt.limit = 5 * 8 - 1;
	s.idt.base = 0;
	s.idt.limit = 0;
	s.cr0 = 0x80010033ull;          /* PE MP ET NE WP PG */
	s.cr3 = cr3;
	s.cr4 = 0x620ull;               /* PAE OSFXSR OSXMMEXCPT */
	s.efer = 0xd01ull;              /* SCE LME LMA NXE */
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &s) < 0)
		floor_die(FLOOR_EXIT_INTERNAL, "KVM_SET_SREGS: %s", strerror(errno));
	struct kvm_regs r;
	memset(&r, 0, sizeof(r));
	r.rip = rip;
	r.rflags = 0x2;
	r.rsp = rsp;
	r.rdi = rdi;
	r.rsi = rsi;
	if (ioctl(vcpu_fd, KVM_SET_REGS, &r) < 0)
		floor_die(FLOOR_EXIT_INTERNAL, "KVM_SET_REGS: %s", strerror(errno));
}

/* A NUL-terminated guest string of at most HYVE_TR_STR_MAX bytes. */
static int
guest_string(uint64_t gpa, char *out)
{
	for (uint32_t i = 0; i < HYVE_TR_STR_MAX; i++) {
		const char *p = floor_gpa(gpa + i, 1);
		if (p == NULL)
			return -1;
		out[i] = (*p == '\n' || *p == '\r') ? ' ' : *p;
		if (*p == '\0')
			return 0;
	}
	return -1;
}

uint32_t
floor_take_report(uint32_t gpa)
{
	struct hyve_test_report rep;
	const void *p = floor_gpa(gpa, sizeof(rep));
	if (p == NULL)
		return HYVE_TRE_ADDR;
	memcpy(&rep, p, sizeof(rep));
	if (rep.magic != HYVE_TR_MAGIC)
		return HYVE_TRE_MAGIC;
	char name[HYVE_TR_STR_MAX], msg[HYVE_TR_STR_MAX] = "";
	if (guest_string(rep.name, name) < 0 ||
	    (rep.message != 0 && guest_string(rep.message, msg) < 0))
		return HYVE_TRE_STRING;
	const char *sep = msg[0] ? ": " : "";
	static const char *const word[] = { "", "PASS", "FAIL", "SKIP" };
	switch (rep.status) {
	case HYVE_TR_PASS:
	case HYVE_TR_FAIL:
	case HYVE_TR_SKIP:
		fprintf(stderr, "%s: test %s: %s%s%s\n", floor_prog, name,
		    word[rep.status], sep, msg);
		break;
	case HYVE_TR_INFO:
		fprintf(stderr, "%s: info %s = %" PRIu64 "%s%s\n", floor_prog,
		    name, rep.value, sep, msg);
		break;
	default:
		return HYVE_TRE_STATUS;
	}
	return HYVE_TRE_OK;
}
