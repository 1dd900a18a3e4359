/*
 * Exceptions and interrupts.  All 256 IDT vectors go to trap_dispatch.
 * An exception is either fixed up (exception table, see EXC_ENTRY in x86.h),
 * caught by exc_catch(), or reported as unexpected: the library prints the
 * vector, error code and RIP and fails the running case.
 */
#ifndef UNIT_IDT_H
#define UNIT_IDT_H

#include <stdint.h>

struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error_code;
	uint64_t rip, cs, rflags, rsp, ss;
};

struct exc_info {
	int vector;             /* -1: no exception */
	uint64_t error_code;
	uint64_t rip;
	uint64_t cr2;           /* for #PF */
};

typedef void (*irq_handler_t)(struct trap_frame *f);

void idt_init(void);
/* Loads the IDT that idt_init built (for APs). */
void idt_load(void);
const char *exc_name(unsigned vector);

/* Interrupt handlers for vectors 32..255.  The handler sends the EOI. */
void irq_install(unsigned vector, irq_handler_t handler);
unsigned long irq_count(unsigned vector);   /* deliveries so far */
/* With interrupts enabled until `vector` has been delivered `want` times
 * in all or `cycles` TSC cycles passed; whether it was.  Interrupts are
 * disabled again on return. */
int irq_wait(unsigned vector, unsigned long want, uint64_t cycles);
/* Interrupts enabled for `cycles` TSC cycles, to let stray ones arrive. */
void irq_settle(uint64_t cycles);

/* NMIs (vector 2) go to this handler when one is installed (NULL: none);
 * otherwise an NMI is an unexpected exception. */
void nmi_install(irq_handler_t handler);

/* Runs fn(arg).  Returns -1 if it completed, else the vector of the
 * exception it raised (details in *info if non-NULL); execution then
 * resumes here with the interrupt flag as it was when the exception hit. */
int exc_catch(void (*fn)(void *), void *arg, struct exc_info *info);

/* Details of the last exception fixed up through the exception table. */
struct exc_info exc_last_info(void);

#endif
