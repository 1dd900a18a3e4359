#include "idt.h"
#include "console.h"
#include "setjmp.h"
#include "smp.h"
#include "test.h"
#include "x86.h"

struct idt_gate {
	uint16_t off0;
	uint16_t sel;
	uint8_t ist;
	uint8_t type;
	uint16_t off1;
	uint32_t off2;
	uint32_t reserved;
};

struct ex_entry {
	uint64_t from, to;
};

extern const uint64_t trap_vector_table[256];
extern const struct ex_entry __ex_table_start[], __ex_table_end[];

static struct idt_gate idt[256] __attribute__((aligned(16)));
static irq_handler_t handlers[256];
static irq_handler_t volatile nmi_handler;
static volatile unsigned long counts[256];
static struct exc_info last_fixup = { .vector = -1 };

struct catcher {
	struct unit_jmpbuf jb;
	struct exc_info info;
	int rflags_if;
};
static struct catcher *volatile active_catch;

static const char *const names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
	"#DF", "vector 9", "#TS", "#NP", "#SS", "#GP", "#PF", "vector 15",
	"#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "vector 22", "vector 23",
	"vector 24", "vector 25", "vector 26", "vector 27", "#HV", "#VC", "#SX",
	"vector 31",
};

const char *exc_name(unsigned vector)
{
	return vector < 32 ? names[vector] : "interrupt";
}

void idt_init(void)
{
	struct descriptor_table_ptr p;
	uint16_t cs;
	unsigned i;

	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	for (i = 0; i < 256; i++) {
		uint64_t a = trap_vector_table[i];

		idt[i].off0 = (uint16_t)a;
		idt[i].sel = cs;
		idt[i].ist = 0;
		idt[i].type = 0x8e;     /* present, DPL 0, 64-bit interrupt gate */
		idt[i].off1 = (uint16_t)(a >> 16);
		idt[i].off2 = (uint32_t)(a >> 32);
		idt[i].reserved = 0;
	}
	p.limit = sizeof(idt) - 1;
	p.base = (uint64_t)(uintptr_t)idt;
	lidt(&p);
}

void idt_load(void)
{
	struct descriptor_table_ptr p;

	p.limit = sizeof(idt) - 1;
	p.base = (uint64_t)(uintptr_t)idt;
	lidt(&p);
}

void nmi_install(irq_handler_t handler)
{
	nmi_handler = handler;
}

void irq_install(unsigned vector, irq_handler_t handler)
{
	if (vector >= 32 && vector < 256)
		handlers[vector] = handler;
}

unsigned long irq_count(unsigned vector)
{
	return vector < 256 ? counts[vector] : 0;
}

int irq_wait(unsigned vector, unsigned long want, uint64_t cycles)
{
	uint64_t t0 = rdtsc();

	irq_enable();
	while (irq_count(vector) < want && rdtsc() - t0 < cycles)
		cpu_relax();
	irq_disable();
	return irq_count(vector) >= want;
}

void irq_settle(uint64_t cycles)
{
	uint64_t t0 = rdtsc();

	irq_enable();
	while (rdtsc() - t0 < cycles)
		cpu_relax();
	irq_disable();
}

int exc_take_last(void)
{
	int v = last_fixup.vector;

	last_fixup.vector = -1;
	return v;
}

struct exc_info exc_last_info(void)
{
	return last_fixup;
}

int exc_catch(void (*fn)(void *), void *arg, struct exc_info *info)
{
	struct catcher c;
	struct catcher *volatile outer = active_catch;

	c.info.vector = -1;
	if (unit_setjmp(&c.jb) == 0) {
		active_catch = &c;
		fn(arg);
		active_catch = outer;
	} else {
		active_catch = outer;
		if (c.rflags_if)
			irq_enable();
	}
	if (info)
		*info = c.info;
	return c.info.vector;
}

static void fill(struct exc_info *i, const struct trap_frame *f)
{
	i->vector = (int)f->vector;
	i->error_code = f->error_code;
	i->rip = f->rip;
	i->cr2 = f->vector == EXC_PF ? read_cr2() : 0;
}

static void dump(const struct trap_frame *f)
{
	printf("unexpected exception %s (vector %lu) error code 0x%lx at RIP 0x%lx\n",
	       exc_name((unsigned)f->vector), f->vector, f->error_code, f->rip);
	printf("  rax %016lx rbx %016lx rcx %016lx rdx %016lx\n",
	       f->rax, f->rbx, f->rcx, f->rdx);
	printf("  rsi %016lx rdi %016lx rbp %016lx rsp %016lx\n",
	       f->rsi, f->rdi, f->rbp, f->rsp);
	printf("  rflags %016lx cr2 %016lx\n", f->rflags, read_cr2());
}

void trap_dispatch(struct trap_frame *f);

void trap_dispatch(struct trap_frame *f)
{
	const struct ex_entry *e;
	struct catcher *c;

	if (f->vector >= 32) {
		__atomic_fetch_add(&counts[f->vector], 1, __ATOMIC_RELAXED);
		if (handlers[f->vector])
			handlers[f->vector](f);
		else
			printf("spurious interrupt vector %lu at RIP 0x%lx\n",
			       f->vector, f->rip);
		return;
	}
	if (f->vector == EXC_NMI && nmi_handler) {
		nmi_handler(f);
		return;
	}
	for (e = __ex_table_start; e < __ex_table_end; e++) {
		if (e->from == f->rip) {
			fill(&last_fixup, f);
			f->rip = e->to;
			return;
		}
	}
	/* On an AP: recorded for the BSP, and that CPU stops. */
	smp_exception(f->vector, f->error_code, f->rip);
	c = active_catch;
	if (c) {
		fill(&c->info, f);
		c->rflags_if = (f->rflags & X86_RFLAGS_IF) != 0;
		active_catch = 0;
		unit_longjmp(&c->jb, 1);
	}
	dump(f);
	test_abort("unexpected exception %s (vector %lu) error code 0x%lx at RIP 0x%lx",
		   exc_name((unsigned)f->vector), f->vector, f->error_code, f->rip);
}
