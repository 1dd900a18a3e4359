/* Kernel loaders: a well-formed image loads; every malformed field is
 * refused with a reason and nothing is written outside guest RAM. */
#include <atf-c.h>
#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/abi.h"
#include "vmm/loader.h"
#include "vmm/tests/fakevm.h"
#include "vmm/vm.h"

#define RAM (4u << 20)

static struct vm *
mkvm(void)
{
	struct vm *vm = fakevm_new(RAM, 1);
	ATF_REQUIRE(vm != NULL);
	return vm;
}


struct img {
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	uint8_t code[64];
};

static void
mkelf(struct img *im)
{
	memset(im, 0, sizeof(*im));
	memcpy(im->eh.e_ident, ELFMAG, SELFMAG);
	im->eh.e_ident[EI_CLASS] = ELFCLASS64;
	im->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	im->eh.e_type = ET_EXEC;
	im->eh.e_machine = EM_X86_64;
	im->eh.e_entry = 0x100000;
	im->eh.e_phoff = offsetof(struct img, ph);
	im->eh.e_phentsize = sizeof(Elf64_Phdr);
	im->eh.e_phnum = 1;
	im->ph.p_type = PT_LOAD;
	im->ph.p_flags = PF_R | PF_X;
	im->ph.p_offset = offsetof(struct img, code);
	im->ph.p_vaddr = im->ph.p_paddr = 0x100000;
	im->ph.p_filesz = sizeof(im->code);
	im->ph.p_memsz = 0x2000;        /* with bss */
	memset(im->code, 0xcc, sizeof(im->code));
}

static int
load(struct vm *vm, struct img *im, char *err)
{
	struct boot_state bs;
	err[0] = '\0';
	return load_elf64(vm, (const uint8_t *)im, sizeof(*im), &bs, err, 256);
}

ATF_TC_WITHOUT_HEAD(elf64_good);
ATF_TC_BODY(elf64_good, tc)
{
	struct vm *vm = mkvm();
	struct img im;
	struct boot_state bs;
	char err[256];
	mkelf(&im);
	memset(vm->mem.lo + 0x100000, 0x77, 0x3000);
	ATF_REQUIRE_EQ(load_elf64(vm, (const uint8_t *)&im, sizeof(im), &bs,
	    err, sizeof(err)), 0);
	ATF_CHECK_EQ(bs.mode, BOOT_LONG64);
	ATF_CHECK_EQ(bs.entry, 0x100000);
	ATF_CHECK_EQ(bs.arg0, HYVE_BOOT_INFO);
	ATF_CHECK_EQ(bs.arg1, HYVE_BOOT_MAGIC);
	ATF_CHECK_EQ(bs.kernel_start, 0x100000);
	ATF_CHECK_EQ(bs.kernel_end, 0x102000);
	ATF_CHECK_EQ(vm->mem.lo[0x100000], 0xcc);
	ATF_CHECK_EQ(vm->mem.lo[0x100000 + 63], 0xcc);
	ATF_CHECK_EQ(vm->mem.lo[0x100000 + 64], 0);     /* bss zeroed */
	ATF_CHECK_EQ(vm->mem.lo[0x101fff], 0);
	ATF_CHECK_EQ(vm->mem.lo[0x102000], 0x77);       /* untouched after */
	fakevm_free(vm);
}

#define REFUSED(mutation, expect) do {                                  \
	struct img im;                                                  \
	char err[256];                                                  \
	mkelf(&im);                                                     \
	mutation;                                                       \
	ATF_CHECK_MSG(load(vm, &im, err) < 0, "accepted: %s", #mutation); \
	ATF_CHECK_MSG(strstr(err, expect) != NULL, "%s: '%s' lacks '%s'", \
	    #mutation, err, expect);                                    \
} while (0)

ATF_TC_WITHOUT_HEAD(elf64_malformed);
ATF_TC_BODY(elf64_malformed, tc)
{
	struct vm *vm = mkvm();
	REFUSED(im.eh.e_machine = EM_386, "not a little-endian x86-64");
	REFUSED(im.eh.e_type = ET_DYN, "not a little-endian x86-64");
	REFUSED(im.eh.e_phoff = 1u << 30, "program header table");
	REFUSED(im.eh.e_phnum = 1000, "program header table");
	REFUSED(im.eh.e_phentsize = 12, "program header table");
	REFUSED(im.ph.p_offset = 1u << 20, "outside the file");
	REFUSED(im.ph.p_filesz = 1u << 20, "outside the file");
	REFUSED(im.ph.p_filesz = 0x3000, "outside the file");
	REFUSED((im.ph.p_vaddr = im.ph.p_paddr = RAM - 0x1000), "outside guest RAM");
	REFUSED((im.ph.p_vaddr = im.ph.p_paddr = 0xfffffffffffff000ull), "outside the file");
	REFUSED((im.ph.p_vaddr = im.ph.p_paddr = 0x1000), "boot area");
	REFUSED(im.ph.p_memsz = 8, "malformed");
	REFUSED(im.eh.e_entry = 0x200000, "entry point");
	REFUSED(im.ph.p_flags = PF_R, "entry point");
	REFUSED(im.ph.p_type = PT_NOTE, "no loadable segment");
	fakevm_free(vm);
}

struct mbimg {
	uint32_t pad[4];
	uint32_t magic, flags, checksum;
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry;
	uint8_t code[32];
};

static void
mkmb(struct mbimg *m)
{
	memset(m, 0, sizeof(*m));
	m->magic = 0x1BADB002u;
	m->flags = 1u << 16;
	m->checksum = -(m->magic + m->flags);
	m->load_addr = 0x100000;
	m->header_addr = 0x100000 + 16;
	m->load_end_addr = 0x100000 + sizeof(*m);
	m->bss_end_addr = 0x101000;
	m->entry = 0x100000 + offsetof(struct mbimg, code);
	memset(m->code, 0x90, sizeof(m->code));
}

ATF_TC_WITHOUT_HEAD(multiboot);
ATF_TC_BODY(multiboot, tc)
{
	struct vm *vm = mkvm();
	struct mbimg m;
	struct boot_state bs;
	char err[256];
	mkmb(&m);
	ATF_REQUIRE_EQ(load_multiboot(vm, (uint8_t *)&m, sizeof(m), &bs, err,
	    sizeof(err)), 0);
	ATF_CHECK_EQ(bs.mode, BOOT_PROT32);
	ATF_CHECK_EQ(bs.arg0, 0x2BADB002u);
	ATF_CHECK_EQ(bs.entry, m.entry);
	ATF_CHECK_EQ(vm->mem.lo[bs.entry], 0x90);
	uint32_t flags;
	memcpy(&flags, vm->mem.lo + bs.arg1, 4);
	ATF_CHECK(flags & 1);                   /* memory fields valid */

	mkmb(&m);
	m.checksum++;
	ATF_CHECK(load_multiboot(vm, (uint8_t *)&m, sizeof(m), &bs, err,
	    sizeof(err)) < 0);
	ATF_CHECK(strstr(err, "no Multiboot header") != NULL);
	mkmb(&m);
	m.load_end_addr = 0x100000 + 4096;      /* beyond the file */
	ATF_CHECK(load_multiboot(vm, (uint8_t *)&m, sizeof(m), &bs, err,
	    sizeof(err)) < 0);
	mkmb(&m);
	m.entry = 0x200000;
	ATF_CHECK(load_multiboot(vm, (uint8_t *)&m, sizeof(m), &bs, err,
	    sizeof(err)) < 0);
	mkmb(&m);
	m.load_addr = RAM - 16;
	m.header_addr = RAM;
	m.load_end_addr = RAM + 100;
	ATF_CHECK(load_multiboot(vm, (uint8_t *)&m, sizeof(m), &bs, err,
	    sizeof(err)) < 0);
	mkmb(&m);
	m.flags |= 4;                           /* video mode */
	m.checksum = -(m.magic + m.flags);
	ATF_CHECK(load_multiboot(vm, (uint8_t *)&m, sizeof(m), &bs, err,
	    sizeof(err)) < 0);
	fakevm_free(vm);
}

ATF_TP_ADD_TCS(tp)
{
	ATF_TP_ADD_TC(tp, elf64_good);
	ATF_TP_ADD_TC(tp, elf64_malformed);
	ATF_TP_ADD_TC(tp, multiboot);
	return atf_no_error();
}
