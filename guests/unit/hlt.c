/*
 * HLT, PAUSE and RDTSC: HLT wakes on a pending interrupt (LAPIC one-shot
 * timer, self-IPI), a PAUSE spin-wait ends when an interrupt sets its flag,
 * and the TSC never goes back.  The local APIC runs in x2APIC mode when the
 * CPU offers it (hyve), else in xAPIC mode (QEMU TCG 7.2).
 */
#include "apic.h"
#include "idt.h"
#include "test.h"
#include "x86.h"

#define VEC_TIMER 0x40
#define VEC_IPI   0x41
#define MAX_HALTS 100000

static volatile unsigned fired;
static volatile uint64_t fired_rip;

static void on_irq(struct trap_frame *f)
{
	fired++;
	fired_rip = f->rip;
	apic_eoi();
}

static void setup_irq(unsigned vec)
{
	apic_init();
	irq_install(vec, on_irq);
	fired = 0;
}

TEST(hlt_timer_wakeup)
{
	unsigned halts = 0;
	uint64_t t0, t1;

	setup_irq(VEC_TIMER);
	printf("  local APIC in %s mode, ID %u\n", apic_x2() ? "x2APIC" : "xAPIC", apic_id());
	t0 = rdtsc();
	apic_timer_oneshot(VEC_TIMER, 1000000);
	while (!fired && halts < MAX_HALTS) {
		safe_halt();
		irq_disable();
		halts++;
	}
	t1 = rdtsc();
	apic_timer_stop();
	require(fired, "the LAPIC timer never woke HLT (%u halts)", halts);
	expect(fired == 1, "one-shot timer fired %u times", fired);
	expect(halts >= 1, "no HLT executed");
	expect(t1 > t0, "TSC did not advance across HLT");
	test_info("hlt_timer_wakeups", halts);
}

TEST(hlt_pending_ipi)
{
	/* The IPI is raised with interrupts off, so it is pending when
	 * "sti; hlt" runs: the HLT must end at once with its delivery. */
	setup_irq(VEC_IPI);
	apic_self_ipi(VEC_IPI);
	expect(fired == 0, "self-IPI delivered with RFLAGS.IF = 0");
	safe_halt();
	irq_disable();
	expect(fired == 1, "self-IPI delivered %u times after sti; hlt", fired);
}

TEST(hlt_repeated)
{
	unsigned i;

	setup_irq(VEC_IPI);
	for (i = 0; i < 1000; i++) {
		apic_self_ipi(VEC_IPI);
		safe_halt();
		irq_disable();
		if (fired != i + 1) {
			test_fail("round %u: %u interrupts delivered", i, fired);
			break;
		}
	}
}

TEST(pause_loop)
{
	uint64_t t0, t1;
	unsigned i;

	t0 = rdtsc();
	for (i = 0; i < 200000; i++)
		cpu_relax();
	t1 = rdtsc();
	expect(t1 > t0, "TSC did not advance over 200000 PAUSEs");
	test_info("pause_cycles_per_200k", t1 - t0);
}

TEST(pause_spin_until_irq)
{
	uint64_t spins = 0;

	setup_irq(VEC_TIMER);
	apic_timer_oneshot(VEC_TIMER, 2000000);
	irq_enable();
	while (!fired && spins < 2000000000ull) {
		cpu_relax();
		spins++;
	}
	irq_disable();
	apic_timer_stop();
	require(fired, "timer interrupt never ended the PAUSE loop (%lu spins)", spins);
	expect(spins > 0, "the loop did not spin");
}

TEST(rdtsc_monotonic)
{
	uint64_t prev = rdtsc(), now, first = prev;
	unsigned i;

	for (i = 0; i < 250000; i++) {
		now = rdtsc();
		if (now < prev) {
			test_fail("read %u: TSC went back from 0x%lx to 0x%lx", i, prev, now);
			return;
		}
		prev = now;
	}
	expect(prev > first, "TSC did not advance over 250000 reads");
}

TEST(rdtscp_monotonic)
{
	uint64_t prev, now;
	uint32_t aux;
	unsigned i;

	if (!(cpuid(0x80000001).d & (1u << 27)))
		test_skip("no RDTSCP in CPUID 0x80000001 EDX");
	prev = rdtscp(&aux);
	for (i = 0; i < 100000; i++) {
		now = rdtscp(&aux);
		if (now < prev) {
			test_fail("read %u: TSC went back from 0x%lx to 0x%lx", i, prev, now);
			return;
		}
		prev = now;
	}
}
