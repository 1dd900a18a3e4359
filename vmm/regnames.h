/*
 * Register names shared by the control socket (hyvectl getreg/setreg) and
 * any other code that names vCPU registers: each name maps to one field of
 * struct hv_regs or struct hv_sregs, with its width.
 *
 *   rax..r15 rip rflags           general registers (64 bits)
 *   cr0 cr2 cr3 cr4 cr8 efer apic_base
 *   SEG SEG_base SEG_limit SEG_ar  for SEG in cs ds es fs gs ss tr ldt:
 *                                  selector (16 bits), base (64), limit (32),
 *                                  access rights in VMX layout (17 bits:
 *                                  type 0-3, s 4, dpl 5-6, p 7, avl 12,
 *                                  l 13, db 14, g 15, unusable 16)
 *   gdt_base gdt_limit idt_base idt_limit
 */
#ifndef HYVE_REGNAMES_H
#define HYVE_REGNAMES_H

#include <stdbool.h>
#include <stdint.h>

#include "kmod/hv.h"

enum reg_class { REG_GPR, REG_SREG };

struct regname {
	const char *name;
	enum reg_class cls;
	unsigned bits;          /* width: values above it are refused */
	unsigned kind;          /* private to regnames.c: field kind */
	unsigned off;           /* private: offset in hv_regs or hv_sregs */
};

extern const struct regname regnames[];
extern const unsigned nregnames;

/* The entry for name, or NULL. */
const struct regname *regname_find(const char *name);

/* Read or write one register in a GPR or SREG snapshot (which one is
 * used follows reg->cls; the other may be NULL).  reg_set refuses a value
 * wider than reg->bits with -ERANGE and changes nothing then. */
uint64_t reg_get(const struct regname *reg, const struct hv_regs *r,
    const struct hv_sregs *s);
int reg_set(const struct regname *reg, struct hv_regs *r, struct hv_sregs *s,
    uint64_t value);

/* Segment access rights in VMX layout, both ways. */
uint32_t seg_ar_pack(const struct hv_seg *seg);
void seg_ar_unpack(struct hv_seg *seg, uint32_t ar);

#endif
