/* Register names for hyvectl and the control socket: see regnames.h. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "vmm/regnames.h"

enum field_kind {
	F_U64,          /* a 64-bit field of hv_regs or hv_sregs */
	F_SEL, F_BASE, F_LIMIT, F_AR,   /* a struct hv_seg */
	F_DT_BASE, F_DT_LIMIT,          /* a struct hv_dtable */
};

#define GPR(n) { #n, REG_GPR, 64, F_U64, offsetof(struct hv_regs, n) }
#define CR(n) { #n, REG_SREG, 64, F_U64, offsetof(struct hv_sregs, n) }
#define SEG(n) \
	{ #n, REG_SREG, 16, F_SEL, offsetof(struct hv_sregs, n) }, \
	{ #n "_base", REG_SREG, 64, F_BASE, offsetof(struct hv_sregs, n) }, \
	{ #n "_limit", REG_SREG, 32, F_LIMIT, offsetof(struct hv_sregs, n) }, \
	{ #n "_ar", REG_SREG, 17, F_AR, offsetof(struct hv_sregs, n) }
#define DT(n) \
	{ #n "_base", REG_SREG, 64, F_DT_BASE, offsetof(struct hv_sregs, n) }, \
	{ #n "_limit", REG_SREG, 16, F_DT_LIMIT, offsetof(struct hv_sregs, n) }

const struct regname regnames[] = {
	GPR(rax), GPR(rbx), GPR(rcx), GPR(rdx), GPR(rsi), GPR(rdi), GPR(rsp),
	GPR(rbp), GPR(r8), GPR(r9), GPR(r10), GPR(r11), GPR(r12), GPR(r13),
	GPR(r14), GPR(r15), GPR(rip), GPR(rflags),
	CR(cr0), CR(cr2), CR(cr3), CR(cr4), CR(cr8), CR(efer), CR(apic_base),
	SEG(cs), SEG(ds), SEG(es), SEG(fs), SEG(gs), SEG(ss), SEG(tr), SEG(ldt),
	DT(gdt), DT(idt),
};
const unsigned nregnames = sizeof(regnames) / sizeof(regnames[0]);

const struct regname *
regname_find(const char *name)
{
	for (unsigned i = 0; i < nregnames; i++)
		if (strcmp(regnames[i].name, name) == 0)
			return &regnames[i];
	return NULL;
}

uint32_t
seg_ar_pack(const struct hv_seg *g)
{
	return (uint32_t)(g->type & 0xf) | (uint32_t)(g->s & 1) << 4 |
	    (uint32_t)(g->dpl & 3) << 5 | (uint32_t)(g->present & 1) << 7 |
	    (uint32_t)(g->avl & 1) << 12 | (uint32_t)(g->l & 1) << 13 |
	    (uint32_t)(g->db & 1) << 14 | (uint32_t)(g->g & 1) << 15 |
	    (uint32_t)(g->unusable & 1) << 16;
}

void
seg_ar_unpack(struct hv_seg *g, uint32_t ar)
{
	g->type = ar & 0xf;
	g->s = (ar >> 4) & 1;
	g->dpl = (ar >> 5) & 3;
	g->present = (ar >> 7) & 1;
	g->avl = (ar >> 12) & 1;
	g->l = (ar >> 13) & 1;
	g->db = (ar >> 14) & 1;
	g->g = (ar >> 15) & 1;
	g->unusable = (ar >> 16) & 1;
}

static void *
field(const struct regname *reg, const struct hv_regs *r,
    const struct hv_sregs *s)
{
	const void *base = reg->cls == REG_GPR ? (const void *)r :
	    (const void *)s;
	return (char *)(uintptr_t)base + reg->off;
}

uint64_t
reg_get(const struct regname *reg, const struct hv_regs *r,
    const struct hv_sregs *s)
{
	void *p = field(reg, r, s);
	switch ((enum field_kind)reg->kind) {
	case F_U64:
		return *(uint64_t *)p;
	case F_SEL:
		return ((struct hv_seg *)p)->selector;
	case F_BASE:
		return ((struct hv_seg *)p)->base;
	case F_LIMIT:
		return ((struct hv_seg *)p)->limit;
	case F_AR:
		return seg_ar_pack(p);
	case F_DT_BASE:
		return ((struct hv_dtable *)p)->base;
	case F_DT_LIMIT:
		return ((struct hv_dtable *)p)->limit;
	}
	return 0;
}

int
reg_set(const struct regname *reg, struct hv_regs *r, struct hv_sregs *s,
    uint64_t v)
{
	if (reg->bits < 64 && (v >> reg->bits) != 0)
		return -ERANGE;
	void *p = field(reg, r, s);
	switch ((enum field_kind)reg->kind) {
	case F_U64:
		*(uint64_t *)p = v;
		break;
	case F_SEL:
		((struct hv_seg *)p)->selector = (uint16_t)v;
		break;
	case F_BASE:
		((struct hv_seg *)p)->base = v;
		break;
	case F_LIMIT:
		((struct hv_seg *)p)->limit = (uint32_t)v;
		break;
	case F_AR:
		seg_ar_unpack(p, (uint32_t)v);
		break;
	case F_DT_BASE:
		((struct hv_dtable *)p)->base = v;
		break;
	case F_DT_LIMIT:
		((struct hv_dtable *)p)->limit = (uint16_t)v;
		break;
	}
	return 0;
}
