/* The library's exception handling: each vector is delivered to the IDT,
 * with the right error code and RIP, and the kernel recovers. */
#include "idt.h"
#include "test.h"
#include "x86.h"

static void do_ud(void *arg)
{
	(void)arg;
	__asm__ volatile("ud2");
}

TEST(exc_ud)
{
	struct exc_info i;
	int v = exc_catch(do_ud, 0, &i);

	expect(v == EXC_UD, "ud2 raised vector %d, expected #UD", v);
	expect(*(const uint16_t *)(uintptr_t)i.rip == 0x0b0f,
	       "#UD RIP 0x%lx does not point at ud2", i.rip);
}

static void do_de(void *arg)
{
	uint32_t lo = 1, hi = 0, d = *(volatile uint32_t *)arg;

	__asm__ volatile("divl %2" : "+a"(lo), "+d"(hi) : "r"(d));
}

TEST(exc_de)
{
	volatile uint32_t zero = 0;
	int v = exc_catch(do_de, (void *)&zero, 0);

	expect(v == EXC_DE, "division by zero raised vector %d, expected #DE", v);
}

static void do_bp(void *arg)
{
	(void)arg;
	__asm__ volatile("int3");
}

TEST(exc_bp)
{
	struct exc_info i;
	int v = exc_catch(do_bp, 0, &i);

	expect(v == EXC_BP, "int3 raised vector %d, expected #BP", v);
	/* #BP is a trap: RIP points after the one-byte int3. */
	expect(*(const uint8_t *)(uintptr_t)(i.rip - 1) == 0xcc,
	       "#BP RIP 0x%lx does not follow int3", i.rip);
}

static void do_noncanonical(void *arg)
{
	(void)arg;
	(void)*(volatile uint64_t *)0x8000000000000000ull;
}

TEST(exc_gp_noncanonical)
{
	struct exc_info i;
	int v = exc_catch(do_noncanonical, 0, &i);

	expect(v == EXC_GP, "non-canonical load raised vector %d, expected #GP", v);
	expect(i.error_code == 0, "#GP error code 0x%lx, expected 0", i.error_code);
}

static void do_pf(void *arg)
{
	*(volatile uint64_t *)arg = 1;
}

TEST(exc_pf)
{
	/* Only the first 4 GiB are mapped: 64 GiB is not. */
	void *addr = (void *)(uintptr_t)0x1000000000ull;
	struct exc_info i;
	int v = exc_catch(do_pf, addr, &i);

	expect(v == EXC_PF, "write to an unmapped address raised vector %d, expected #PF", v);
	expect(i.cr2 == (uintptr_t)addr, "#PF CR2 0x%lx, expected %p", i.cr2, addr);
	/* Not present (P=0), write (W=1), supervisor. */
	expect((i.error_code & 0x7) == 0x2, "#PF error code 0x%lx, expected 0x2", i.error_code);
}

TEST(exc_fixup_table)
{
	struct exc_info i;
	uint64_t v;
	int vec;

	(void)exc_take_last();
	__asm__ volatile("1: ud2\n\t2:\n\t" EXC_ENTRY("1b", "2b") ::: "memory");
	i = exc_last_info();
	vec = exc_take_last();
	expect(vec == EXC_UD, "fixed-up ud2 recorded vector %d, expected #UD", vec);
	expect(*(const uint16_t *)(uintptr_t)i.rip == 0x0b0f,
	       "fixed-up #UD RIP 0x%lx does not point at ud2", i.rip);
	vec = rdmsr_safe(MSR_EFER, &v);
	expect(vec == -1, "rdmsr of EFER raised vector %d", vec);
	expect(v & EFER_LMA, "EFER 0x%lx without LMA in long mode", v);
}
