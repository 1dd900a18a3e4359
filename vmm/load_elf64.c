/* ELF64 executables, entered directly in 64-bit long mode (vmm/abi.h). */
#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vmm/abi.h"
#include "vmm/loader.h"
#include "vmm/vm.h"

int
load_elf64(struct vm *vm, const uint8_t *img, size_t len,
    struct boot_state *bs, char *err, size_t errlen)
{
	Elf64_Ehdr eh;
	if (len < sizeof(eh)) {
		snprintf(err, errlen, "truncated ELF header");
		return -ENOEXEC;
	}
	memcpy(&eh, img, sizeof(eh));
	if (eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64 ||
	    eh.e_type != ET_EXEC) {
		snprintf(err, errlen, "not a little-endian x86-64 ELF executable");
		return -ENOEXEC;
	}
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 ||
	    eh.e_phnum > 64 || eh.e_phoff > len ||
	    (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff) {
		snprintf(err, errlen, "bad ELF program header table");
		return -ENOEXEC;
	}
	uint64_t lo = UINT64_MAX, hi = 0;
	bool entry_ok = false;
	for (int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, img + eh.e_phoff + (size_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (ph.p_offset > len || ph.p_filesz > len - ph.p_offset ||
		    ph.p_paddr + ph.p_memsz < ph.p_paddr) {
			snprintf(err, errlen, "segment %d lies outside the file", i);
			return -ENOEXEC;
		}
		int r = loader_copy(vm, ph.p_paddr, img + ph.p_offset,
		    ph.p_filesz, ph.p_memsz, err, errlen);
		if (r < 0)
			return r;
		if (ph.p_paddr < lo)
			lo = ph.p_paddr;
		if (ph.p_paddr + ph.p_memsz > hi)
			hi = ph.p_paddr + ph.p_memsz;
		/* Identity-mapped: the entry is a physical address too. */
		if (eh.e_entry >= ph.p_vaddr && eh.e_entry < ph.p_vaddr + ph.p_memsz &&
		    (ph.p_flags & PF_X))
			entry_ok = ph.p_vaddr == ph.p_paddr;
	}
	if (lo == UINT64_MAX) {
		snprintf(err, errlen, "no loadable segment");
		return -ENOEXEC;
	}
	if (!entry_ok) {
		snprintf(err, errlen, "entry point 0x%" PRIx64 " is not in an "
		    "identity-mapped executable segment", (uint64_t)eh.e_entry);
		return -ENOEXEC;
	}
	if (hi > HYVE_BOOT_IDMAP_LIMIT) {
		snprintf(err, errlen, "kernel extends above 4 GiB, beyond the "
		    "boot identity map");
		return -ENOEXEC;
	}
	bs->mode = BOOT_LONG64;
	bs->entry = eh.e_entry;
	bs->arg0 = HYVE_BOOT_INFO;
	bs->arg1 = HYVE_BOOT_MAGIC;
	bs->kernel_start = lo;
	bs->kernel_end = hi;
	return 0;
}
