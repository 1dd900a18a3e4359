/* The environment a kernel is entered in: boot GDT, identity-mapped page
 * tables, boot information and the BSP's registers (vmm/abi.h). */
#include <errno.h>
#include <string.h>

#include "vmm/abi.h"
#include "vmm/loader.h"
#include "vmm/vm.h"

#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define EFER_SCE (1ull << 0)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

/* Selectors of the boot GDT: hyve's direct entry (vmm/abi.h), and the
 * layout of Linux's 64-bit boot protocol (__BOOT_CS 0x10, __BOOT_DS 0x18). */
struct gdt_layout {
	uint16_t code, data, tss;       /* the TSS descriptor takes two slots */
	uint16_t limit;
};
static const struct gdt_layout gdt_hyve = { 0x08, 0x10, 0x18, 5 * 8 - 1 };
static const struct gdt_layout gdt_linux = { 0x10, 0x18, 0x20, 6 * 8 - 1 };
#define TSS_ADDR (HYVE_BOOT_GDT + 0x100)

static void
write_gdt(uint8_t *gdt, bool longmode, const struct gdt_layout *l)
{
	uint64_t code = longmode ? 0x00af9b000000ffffull : 0x00cf9b000000ffffull;
	uint64_t data = 0x00cf93000000ffffull;
	/* 64-bit TSS (busy), base TSS_ADDR, limit 0x67 */
	uint64_t tss = 0x00008b0000000067ull |
	    ((uint64_t)(TSS_ADDR & 0xffffff) << 16) |
	    ((uint64_t)(TSS_ADDR >> 24) << 56);
	memset(gdt, 0, (size_t)l->limit + 1);
	memcpy(gdt + l->code, &code, 8);
	memcpy(gdt + l->data, &data, 8);
	memcpy(gdt + l->tss, &tss, 8);
}

static void
write_pagetables(uint8_t *base)
{
	/* PML4 at HYVE_BOOT_PML4, PDPT next, then four page directories of
	 * 2 MiB pages covering [0, 4 GiB). */
	uint64_t *pml4 = (uint64_t *)base;
	uint64_t *pdpt = (uint64_t *)(base + 0x1000);
	memset(base, 0, 0x6000);
	pml4[0] = (HYVE_BOOT_PML4 + 0x1000) | 0x3;
	for (int i = 0; i < 4; i++) {
		uint64_t pd_gpa = HYVE_BOOT_PML4 + 0x2000 + (uint64_t)i * 0x1000;
		uint64_t *pd = (uint64_t *)(base + 0x2000 + i * 0x1000);
		pdpt[i] = pd_gpa | 0x3;
		for (int j = 0; j < 512; j++)
			pd[j] = (((uint64_t)i << 30) + ((uint64_t)j << 21)) | 0x83;
	}
}

static struct hv_seg
flat(uint16_t sel, uint8_t type, bool code64)
{
	return (struct hv_seg){
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
		.present = 1, .dpl = 0, .db = code64 ? 0 : 1, .s = 1,
		.l = code64 ? 1 : 0, .g = 1,
	};
}

static int
set_cpu_state(struct vcpu *v, bool lm, const struct gdt_layout *l,
    uint64_t cr3, uint64_t rip, uint64_t rsp, uint64_t a0, uint64_t a1)
{
	struct hv_sregs s;
	int r = hv_vcpu_get_sregs(v->hv, &s);
	if (r < 0)
		return r;
	s.cs = flat(l->code, 0xb, lm);
	s.ds = s.es = s.fs = s.gs = s.ss = flat(l->data, 0x3, false);
	s.tr = (struct hv_seg){ .base = TSS_ADDR, .limit = 0x67,
	    .selector = l->tss, .type = 0xb, .present = 1 };
	s.ldt = (struct hv_seg){ .unusable = 1, .type = 0x2, .present = 0 };
	s.gdt = (struct hv_dtable){ HYVE_BOOT_GDT, l->limit };
	s.idt = (struct hv_dtable){ 0, 0 };
	if (lm) {
		s.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
		s.cr3 = cr3;
		s.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
		s.efer = EFER_LME | EFER_LMA | EFER_NXE | EFER_SCE;
	} else {
		s.cr0 = CR0_PE | CR0_ET;
		s.cr3 = 0;
		s.cr4 = 0;
		s.efer = 0;
	}
	r = hv_vcpu_set_sregs(v->hv, &s);
	if (r < 0)
		return r;
	struct hv_regs g;
	memset(&g, 0, sizeof(g));
	g.rip = rip;
	g.rflags = 0x2;
	if (lm) {
		g.rsp = rsp;
		g.rdi = a0;
		g.rsi = a1;
	} else {
		g.rax = a0;
		g.rbx = a1;
	}
	return hv_vcpu_set_regs(v->hv, &g);
}

/* Put vCPU v in the direct-entry state (or Multiboot's 32-bit state). */
int
boot_set_cpu_state(struct vcpu *v, bool lm, uint64_t cr3, uint64_t rip,
    uint64_t rsp, uint64_t a0, uint64_t a1)
{
	return set_cpu_state(v, lm, &gdt_hyve, cr3, rip, rsp, a0, a1);
}

int
boot_setup_bsp(struct vm *vm, const struct boot_state *bs)
{
	bool lm = bs->mode != BOOT_PROT32;
	const struct gdt_layout *l = bs->mode == BOOT_LINUX64 ? &gdt_linux :
	    &gdt_hyve;
	uint8_t *low = gpa_to_hva(&vm->mem, 0, HYVE_BOOT_FREE);
	if (low == NULL)
		return -ENOMEM;
	write_gdt(low + HYVE_BOOT_GDT, lm, l);
	memset(low + TSS_ADDR, 0, 0x68);

	const char *cl = vm->cfg.cmdline ? vm->cfg.cmdline : "";
	size_t cl_len = strnlen(cl, HYVE_BOOT_CMDLINE_MAX - 1);
	memcpy(low + HYVE_BOOT_CMDLINE, cl, cl_len);
	low[HYVE_BOOT_CMDLINE + cl_len] = '\0';

	if (lm) {
		write_pagetables(low + HYVE_BOOT_PML4);
		struct hyve_bootinfo bi = {
			.magic = HYVE_BOOT_MAGIC, .version = 1,
			.mem_lo = vm->mem.lo_size, .mem_hi = vm->mem.hi_size,
			.ncpus = (uint32_t)vm->ncpus, .cmdline_len = (uint32_t)cl_len,
			.cmdline = HYVE_BOOT_CMDLINE,
			.kernel_start = bs->kernel_start, .kernel_end = bs->kernel_end,
		};
		memcpy(low + HYVE_BOOT_INFO, &bi, sizeof(bi));
	}
	return set_cpu_state(&vm->vcpus[0], lm, l, HYVE_BOOT_PML4, bs->entry,
	    HYVE_BOOT_STACK, bs->arg0, bs->arg1);
}
