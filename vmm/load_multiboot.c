/* Multiboot (version 1) kernels: a.out-kludge or ELF32 images, entered in
 * 32-bit protected mode with EAX = 0x2BADB002 and EBX = the boot info. */
#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vmm/abi.h"
#include "vmm/loader.h"
#include "vmm/vm.h"

#define MB_MAGIC        0x1BADB002u
#define MB_BOOT_MAGIC   0x2BADB002u
#define MB_SEARCH       8192u
#define MB_F_AOUT_KLUDGE (1u << 16)
#define MB_F_UNSUPPORTED 0x0000fffcu    /* video mode etc.: bit 2 and up */

#define MBI_ADDR   HYVE_BOOT_INFO
#define MBI_MMAP   0x4000u

struct mb_header {
	uint32_t magic, flags, checksum;
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

static int
load_aout_kludge(struct vm *vm, const uint8_t *img, size_t len, size_t hoff,
    const struct mb_header *h, struct boot_state *bs, char *err, size_t errlen)
{
	if (h->load_addr > h->header_addr || hoff < h->header_addr - h->load_addr) {
		snprintf(err, errlen, "Multiboot header addresses are inconsistent");
		return -ENOEXEC;
	}
	uint64_t foff = hoff - (h->header_addr - h->load_addr);
	uint64_t end = h->load_end_addr ? h->load_end_addr :
	    h->load_addr + (len - foff);
	if (end < h->load_addr || end - h->load_addr > len - foff) {
		snprintf(err, errlen, "Multiboot load range exceeds the file");
		return -ENOEXEC;
	}
	uint64_t bss = h->bss_end_addr ? h->bss_end_addr : end;
	if (bss < end) {
		snprintf(err, errlen, "Multiboot bss ends before the image");
		return -ENOEXEC;
	}
	int r = loader_copy(vm, h->load_addr, img + foff, end - h->load_addr,
	    bss - h->load_addr, err, errlen);
	if (r < 0)
		return r;
	if (h->entry_addr < h->load_addr || h->entry_addr >= end) {
		snprintf(err, errlen, "Multiboot entry 0x%x outside the image",
		    h->entry_addr);
		return -ENOEXEC;
	}
	bs->entry = h->entry_addr;
	bs->kernel_start = h->load_addr;
	bs->kernel_end = bss;
	return 0;
}

static int
load_elf32(struct vm *vm, const uint8_t *img, size_t len,
    struct boot_state *bs, char *err, size_t errlen)
{
	Elf32_Ehdr eh;
	if (len < sizeof(eh) || memcmp(img, "\177ELF", 4) != 0 ||
	    img[EI_CLASS] != ELFCLASS32) {
		snprintf(err, errlen, "Multiboot kernel is neither ELF32 nor "
		    "uses the a.out kludge");
		return -ENOEXEC;
	}
	memcpy(&eh, img, sizeof(eh));
	if (eh.e_machine != EM_386 || eh.e_phentsize != sizeof(Elf32_Phdr) ||
	    eh.e_phnum == 0 || eh.e_phnum > 64 || eh.e_phoff > len ||
	    (uint64_t)eh.e_phnum * sizeof(Elf32_Phdr) > len - eh.e_phoff) {
		snprintf(err, errlen, "bad ELF32 headers");
		return -ENOEXEC;
	}
	uint64_t lo = UINT64_MAX, hi = 0;
	for (int i = 0; i < eh.e_phnum; i++) {
		Elf32_Phdr ph;
		memcpy(&ph, img + eh.e_phoff + (size_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (ph.p_offset > len || ph.p_filesz > len - ph.p_offset) {
			snprintf(err, errlen, "segment %d lies outside the file", i);
			return -ENOEXEC;
		}
		int r = loader_copy(vm, ph.p_paddr, img + ph.p_offset,
		    ph.p_filesz, ph.p_memsz, err, errlen);
		if (r < 0)
			return r;
		if (ph.p_paddr < lo)
			lo = ph.p_paddr;
		if ((uint64_t)ph.p_paddr + ph.p_memsz > hi)
			hi = (uint64_t)ph.p_paddr + ph.p_memsz;
	}
	if (lo == UINT64_MAX || eh.e_entry < lo || eh.e_entry >= hi) {
		snprintf(err, errlen, "no loadable segment holds the entry point");
		return -ENOEXEC;
	}
	bs->entry = eh.e_entry;
	bs->kernel_start = lo;
	bs->kernel_end = hi;
	return 0;
}

int
load_multiboot(struct vm *vm, const uint8_t *img, size_t len,
    struct boot_state *bs, char *err, size_t errlen)
{
	size_t lim = len < MB_SEARCH ? len : MB_SEARCH;
	const struct mb_header *found = NULL;
	struct mb_header h;
	size_t off;
	for (off = 0; off + 12 <= lim; off += 4) {
		memcpy(&h, img + off, 12);
		if (h.magic == MB_MAGIC && h.magic + h.flags + h.checksum == 0) {
			found = &h;
			break;
		}
	}
	if (found == NULL) {
		snprintf(err, errlen, "not an ELF64 kernel and no Multiboot header "
		    "in its first %u bytes", MB_SEARCH);
		return -ENOEXEC;
	}
	if (h.flags & MB_F_UNSUPPORTED) {
		snprintf(err, errlen, "Multiboot flags 0x%x ask for features hyve "
		    "does not offer (video mode)", h.flags);
		return -ENOEXEC;
	}
	int r;
	if (h.flags & MB_F_AOUT_KLUDGE) {
		if (off + sizeof(h) > len) {
			snprintf(err, errlen, "truncated Multiboot header");
			return -ENOEXEC;
		}
		memcpy(&h, img + off, sizeof(h));
		r = load_aout_kludge(vm, img, len, off, &h, bs, err, errlen);
	} else {
		r = load_elf32(vm, img, len, bs, err, errlen);
	}
	if (r < 0)
		return r;

	/* Boot information: memory, command line, memory map. */
	uint8_t *mbi = gpa_to_hva(&vm->mem, MBI_ADDR, 0x3000);
	if (mbi == NULL) {
		snprintf(err, errlen, "guest RAM too small for boot information");
		return -ENOMEM;
	}
	memset(mbi, 0, 0x1000);
	uint32_t w[13] = { 0 };
	uint64_t upper = vm->mem.lo_size > 0x100000 ? vm->mem.lo_size - 0x100000 : 0;
	w[0] = (1u << 0) | (1u << 2) | (1u << 6);
	w[1] = 640;
	w[2] = (uint32_t)(upper >> 10);
	w[4] = HYVE_BOOT_CMDLINE;
	/* mmap entries: size(4) base(8) len(8) type(4) */
	uint8_t *mm = gpa_to_hva(&vm->mem, MBI_MMAP, 0x100);
	uint32_t n = 0;
	struct { uint64_t base, len; } ranges[3] = {
		{ 0, 0x9fc00 }, { 0x100000, upper },
		{ HYVE_HIGHMEM_START, vm->mem.hi_size },
	};
	for (int i = 0; i < 3; i++) {
		if (ranges[i].len == 0)
			continue;
		uint32_t sz = 20, type = 1;
		memcpy(mm + n, &sz, 4);
		memcpy(mm + n + 4, &ranges[i].base, 8);
		memcpy(mm + n + 12, &ranges[i].len, 8);
		memcpy(mm + n + 20, &type, 4);
		n += 24;
	}
	w[11] = n;
	w[12] = MBI_MMAP;
	memcpy(mbi, w, sizeof(w));
	bs->mode = BOOT_PROT32;
	bs->arg0 = MB_BOOT_MAGIC;
	bs->arg1 = MBI_ADDR;
	return 0;
}
