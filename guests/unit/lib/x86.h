/* Inline helpers for the instructions test kernels use.  The *_safe forms
 * recover from an exception through the exception table (idt.c): they
 * return the vector that was raised, or -1 when the instruction completed. */
#ifndef UNIT_X86_H
#define UNIT_X86_H

#include <stdint.h>

/* One exception-table entry: if the instruction at label `from` faults,
 * execution resumes at label `to` with the vector in exc_last. */
#define EXC_ENTRY(from, to) \
	".pushsection .ex_table, \"a\"\n\t.balign 8\n\t.quad " from ", " to "\n\t.popsection\n\t"

int exc_take_last(void);        /* vector of the last fixed-up fault, or -1 */

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

static inline int rdmsr_safe(uint32_t msr, uint64_t *v)
{
	uint32_t lo = 0, hi = 0;
	(void)exc_take_last();
	__asm__ volatile("1: rdmsr\n\t2:\n\t" EXC_ENTRY("1b", "2b")
			 : "+a"(lo), "+d"(hi) : "c"(msr) : "memory");
	*v = ((uint64_t)hi << 32) | lo;
	return exc_take_last();
}

static inline int wrmsr_safe(uint32_t msr, uint64_t v)
{
	(void)exc_take_last();
	__asm__ volatile("1: wrmsr\n\t2:\n\t" EXC_ENTRY("1b", "2b")
			 :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
	return exc_take_last();
}

struct cpuid_regs { uint32_t a, b, c, d; };

static inline struct cpuid_regs cpuid_count(uint32_t leaf, uint32_t sub)
{
	struct cpuid_regs r;
	__asm__ volatile("cpuid" : "=a"(r.a), "=b"(r.b), "=c"(r.c), "=d"(r.d) : "a"(leaf), "c"(sub));
	return r;
}

static inline struct cpuid_regs cpuid(uint32_t leaf) { return cpuid_count(leaf, 0); }

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline uint64_t rdtscp(uint32_t *aux)
{
	uint32_t lo, hi, c;
	__asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(c));
	*aux = c;
	return ((uint64_t)hi << 32) | lo;
}

static inline uint64_t read_rflags(void)
{
	uint64_t f;
	__asm__ volatile("pushfq; popq %0" : "=r"(f));
	return f;
}

#define X86_RFLAGS_IF (1u << 9)

static inline uint64_t read_cr0(void) { uint64_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr2(void) { uint64_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr3(void) { uint64_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr4(void) { uint64_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }

static inline void irq_disable(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void irq_enable(void) { __asm__ volatile("sti" ::: "memory"); }
/* sti;hlt: the STI shadow guarantees a pending interrupt wakes the HLT. */
static inline void safe_halt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }
static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void barrier(void) { __asm__ volatile("" ::: "memory"); }

struct __attribute__((packed)) descriptor_table_ptr {
	uint16_t limit;
	uint64_t base;
};

static inline void lidt(const struct descriptor_table_ptr *p) { __asm__ volatile("lidt %0" :: "m"(*p)); }
static inline void sidt(struct descriptor_table_ptr *p) { __asm__ volatile("sidt %0" : "=m"(*p)); }

/* Well-known MSRs. */
#define MSR_IA32_TSC            0x10u
#define MSR_IA32_APIC_BASE      0x1bu
#define MSR_IA32_SYSENTER_CS    0x174u
#define MSR_IA32_SYSENTER_ESP   0x175u
#define MSR_IA32_SYSENTER_EIP   0x176u
#define MSR_IA32_CR_PAT         0x277u
#define MSR_IA32_TSC_DEADLINE   0x6e0u
#define MSR_X2APIC_BASE         0x800u
#define MSR_EFER                0xc0000080u
#define MSR_STAR                0xc0000081u
#define MSR_LSTAR               0xc0000082u
#define MSR_CSTAR               0xc0000083u
#define MSR_SFMASK              0xc0000084u
#define MSR_FS_BASE             0xc0000100u
#define MSR_GS_BASE             0xc0000101u
#define MSR_KERNEL_GS_BASE      0xc0000102u
#define MSR_TSC_AUX             0xc0000103u

#define EFER_SCE (1ull << 0)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

/* Exception vectors. */
enum {
	EXC_DE = 0, EXC_DB = 1, EXC_NMI = 2, EXC_BP = 3, EXC_OF = 4, EXC_BR = 5,
	EXC_UD = 6, EXC_NM = 7, EXC_DF = 8, EXC_TS = 10, EXC_NP = 11, EXC_SS = 12,
	EXC_GP = 13, EXC_PF = 14, EXC_MF = 16, EXC_AC = 17, EXC_MC = 18,
	EXC_XM = 19, EXC_VE = 20, EXC_CP = 21,
};

#endif
