/*
 * The local APIC of one CPU: x2APIC mode switches (IA32_APIC_BASE) and the
 * #GP of the illegal ones, MSR access rules, self-IPIs, IRR/ISR/EOI,
 * priorities and TPR masking, the timer in one-shot, periodic and
 * TSC-deadline modes; and the machine's shape as firmware sees it: fw_cfg
 * and the ACPI MADT.
 *
 * Timer figures are checked against the TSC.  The guest does not know the
 * TSC's rate, so the LAPIC timer is first calibrated against it (TSC cycles
 * per 10^6 timer ticks at divide-by-1; on KVM the timer runs at 1 GHz, so
 * that is 1 ms); intervals are then programmed in timer ticks (one-shot,
 * periodic) or TSC cycles (TSC-deadline) and each firing is timed with RDTSC
 * in the handler.
 */
#include "apic.h"
#include "idt.h"
#include "string.h"
#include "test.h"
#include "x86.h"

#define BASE_BSP  (1ull << 8)
#define BASE_EXTD (1ull << 10)
#define BASE_EN   (1ull << 11)
#define BASE_ADDR 0xfee00000ull
#define MMIO(reg) (*(volatile uint32_t *)(uintptr_t)(BASE_ADDR + (reg)))
#define APIC_PPR  0xa0
#define APIC_LDR  0xd0
#define APIC_ISR  0x100
#define APIC_IRR  0x200
#define LVT_MASKED   (1u << 16)
#define LVT_PERIODIC (1u << 17)
#define LVT_TSCDEADLINE (2u << 17)

#define VEC_A 0x45
#define VEC_B 0x55
#define VEC_C 0x65
#define VEC_LOW  0x40
#define VEC_LOW2 0x41
#define VEC_HIGH 0x80
#define VEC_TIMER 0xe0
#define TIMER_SHOTS 100

/*
 * Interrupts on for a while: until *cnt reaches `want` (then `extra` more
 * spins, for anything that should not come) or WINDOW_SPINS spins.  The
 * architecture takes a pending interrupt right after the instruction that
 * follows STI (case sti_window checks that); some backends (kvm_pvm) take it
 * only at a later exit, so the other cases give it time.
 */
#define WINDOW_SPINS 3000
static void window_until(const volatile unsigned *cnt, unsigned want, unsigned extra)
{
	unsigned i;

	irq_enable();
	for (i = 0; i < WINDOW_SPINS && (!cnt || *cnt < want); i++)
		barrier();
	for (i = 0; i < extra; i++)
		barrier();
	irq_disable();
}

static int x2_available(void)
{
	return (cpuid(1).c & (1u << 21)) != 0;
}

static void need_x2(void)
{
	if (!x2_available())
		test_skip("the CPU has no x2APIC (CPUID.1 ECX bit 21)");
}

/* ---- IA32_APIC_BASE mode switches. */
static const char *mode_name(uint64_t b)
{
	switch (b & (BASE_EN | BASE_EXTD)) {
	case 0: return "disabled";
	case BASE_EN: return "xAPIC";
	case BASE_EN | BASE_EXTD: return "x2APIC";
	default: return "invalid";
	}
}

/* Writes IA32_APIC_BASE with the given mode bits; expects #GP or not. */
static void base_write(uint64_t mode, int want_gp)
{
	uint64_t before = rdmsr(MSR_IA32_APIC_BASE), after;
	uint64_t v = (before & ~(BASE_EN | BASE_EXTD)) | mode;
	int vec = wrmsr_safe(MSR_IA32_APIC_BASE, v);

	after = rdmsr(MSR_IA32_APIC_BASE);
	if (want_gp) {
		expect(vec == EXC_GP, "%s -> %s: %s, expected #GP", mode_name(before),
		       mode_name(v), vec < 0 ? "accepted" : exc_name((unsigned)vec));
		expect(after == before, "%s -> %s: refused but IA32_APIC_BASE changed to 0x%lx",
		       mode_name(before), mode_name(v), after);
	} else {
		expect(vec < 0, "%s -> %s: %s", mode_name(before), mode_name(v),
		       vec < 0 ? "ok" : exc_name((unsigned)vec));
		expect(after == v, "%s -> %s: IA32_APIC_BASE reads 0x%lx", mode_name(before),
		       mode_name(v), after);
	}
}

TEST(x2apic_transitions)
{
	uint64_t b;

	need_x2();
	apic_init();
	b = rdmsr(MSR_IA32_APIC_BASE);
	expect((b & ~0xfffull) == BASE_ADDR, "APIC base 0x%lx", (uint64_t)(b & ~0xfffull));
	expect(b & BASE_BSP, "the BSP flag is clear on the BSP");
	expect((b & (BASE_EN | BASE_EXTD)) == (BASE_EN | BASE_EXTD), "not in x2APIC mode");
	base_write(BASE_EN, 1);                 /* x2APIC -> xAPIC: illegal */
	base_write(BASE_EXTD, 1);               /* -> invalid (EXTD without EN) */
	expect(wrmsr_safe(MSR_IA32_APIC_BASE, b | (1ull << 9)) == EXC_GP,
	       "a reserved bit (9) of IA32_APIC_BASE was accepted");
	base_write(0, 0);                       /* x2APIC -> disabled */
	base_write(BASE_EXTD, 1);               /* disabled -> invalid */
	base_write(BASE_EN | BASE_EXTD, 1);     /* disabled -> x2APIC: illegal */
	base_write(BASE_EN, 0);                 /* disabled -> xAPIC */
	base_write(BASE_EN | BASE_EXTD, 0);     /* xAPIC -> x2APIC */
	base_write(BASE_EN | BASE_EXTD, 0);     /* x2APIC -> x2APIC */
	base_write(BASE_EN, 1);
	apic_init();
	expect(apic_read(APIC_ID) == 0, "x2APIC ID of the BSP is %u after the round trip",
	       apic_read(APIC_ID));
}

TEST(x2apic_msr_access)
{
	uint64_t v;
	int vec;

	need_x2();
	apic_init();
	/* x2APIC mode: the ID is read-only, DFR and ICR2 do not exist. */
	expect(rdmsr_safe(MSR_X2APIC_BASE + (APIC_ID >> 4), &v) < 0, "reading the x2APIC ID faulted");
	expect(wrmsr_safe(MSR_X2APIC_BASE + (APIC_ID >> 4), 5) == EXC_GP,
	       "writing the read-only x2APIC ID did not raise #GP");
	expect(rdmsr_safe(MSR_X2APIC_BASE + 0xe, &v) == EXC_GP, "reading DFR (MSR 0x80e) "
	       "in x2APIC mode did not raise #GP");
	expect(rdmsr_safe(MSR_X2APIC_BASE + (APIC_ICR2 >> 4), &v) == EXC_GP,
	       "reading ICR2 (MSR 0x831) in x2APIC mode did not raise #GP");
	expect(rdmsr_safe(MSR_X2APIC_BASE + (APIC_LDR >> 4), &v) < 0, "reading LDR faulted");
	expect(v == 1, "x2APIC LDR of APIC ID 0 is 0x%lx, expected cluster 0 bit 0", v);
	/* xAPIC mode (through disabled): the MSRs are gone, MMIO works. */
	wrmsr(MSR_IA32_APIC_BASE, BASE_ADDR | BASE_BSP);
	wrmsr(MSR_IA32_APIC_BASE, BASE_ADDR | BASE_BSP | BASE_EN);
	vec = rdmsr_safe(MSR_X2APIC_BASE + (APIC_ID >> 4), &v);
	expect(vec == EXC_GP, "x2APIC MSR 0x802 readable in xAPIC mode (%s)",
	       vec < 0 ? "no fault" : exc_name((unsigned)vec));
	expect(wrmsr_safe(MSR_X2APIC_BASE + (APIC_SELF_IPI >> 4), 0x40) == EXC_GP,
	       "SELF IPI MSR writable in xAPIC mode");
	expect(MMIO(APIC_ID) >> 24 == 0, "xAPIC ID register 0x%x", MMIO(APIC_ID));
	expect((MMIO(APIC_VERSION) & 0xff) >= 0x10, "xAPIC version 0x%x is not an "
	       "integrated APIC", MMIO(APIC_VERSION));
	expect(((MMIO(APIC_VERSION) >> 16) & 0xff) >= 4, "only %u LVT entries",
	       ((MMIO(APIC_VERSION) >> 16) & 0xff) + 1);
	apic_init();
}

/* ---- interrupts on this CPU. */
static volatile unsigned order[16], norder;
static volatile unsigned fired[256];
static volatile unsigned ndeliv;        /* deliveries recorded */
static volatile uint32_t isr_seen, irr_seen;

static int reg_bit(unsigned base, unsigned vec)
{
	return (apic_read(base + 0x10 * (vec / 32)) >> (vec % 32)) & 1;
}

static void record(unsigned vec)
{
	if (norder < 16)
		order[norder++] = vec;
	fired[vec & 0xff]++;
	ndeliv++;
}

static void reset_record(void)
{
	unsigned i;

	norder = 0;
	ndeliv = 0;
	for (i = 0; i < 256; i++)
		fired[i] = 0;
}

static void on_plain(struct trap_frame *f)
{
	record((unsigned)f->vector);
	apic_eoi();
}

TEST(self_ipi)
{
	unsigned i;

	apic_init();
	reset_record();
	irq_install(VEC_A, on_plain);
	irq_install(VEC_B, on_plain);
	for (i = 0; i < 100; i++) {
		apic_self_ipi(VEC_A);                    /* x2APIC: the SELF IPI MSR */
		/* ICR with the "self" shorthand, fixed, edge. */
		if (apic_x2())
			wrmsr(MSR_X2APIC_BASE + (APIC_ICR >> 4), 0x44000u | VEC_B);
		else
			apic_write(APIC_ICR, 0x44000u | VEC_B);
		if (fired[VEC_A] != i || fired[VEC_B] != i) {
			test_fail("round %u: delivered with RFLAGS.IF = 0", i);
			break;
		}
		window_until(&ndeliv, 2 * (i + 1), 0);
		if (fired[VEC_A] != i + 1 || fired[VEC_B] != i + 1) {
			test_fail("round %u: %u and %u deliveries, expected %u each", i,
				  fired[VEC_A], fired[VEC_B], i + 1);
			break;
		}
	}
	/* Higher vector first: both were pending together. */
	expect(order[0] == VEC_B && order[1] == VEC_A, "pending 0x%x and 0x%x were "
	       "delivered as 0x%x, 0x%x", VEC_A, VEC_B, order[0], order[1]);
}

/* STI; NOP; CLI: an interrupt pending while IF = 0 is taken right after
 * the instruction that follows STI (SDM vol. 3, 6.8.3). */
TEST(sti_window)
{
	unsigned i;

	apic_init();
	reset_record();
	irq_install(VEC_A, on_plain);
	for (i = 0; i < 10; i++) {
		apic_self_ipi(VEC_A);
		__asm__ volatile("sti; nop; cli" ::: "memory");
		if (fired[VEC_A] != i + 1) {
			window_until(&ndeliv, i + 1, 0);
			test_fail("round %u: the pending interrupt was not taken in STI; NOP; "
				  "CLI (%s)", i, fired[VEC_A] == i + 1 ? "it came later" : "lost");
			break;
		}
	}
}

/* The handler looks at ISR and IRR before its EOI. */
static void on_look(struct trap_frame *f)
{
	unsigned v = (unsigned)f->vector;

	record(v);
	isr_seen = reg_bit(APIC_ISR, v);
	irr_seen = reg_bit(APIC_IRR, v);
	apic_eoi();
}

static volatile unsigned no_eoi_vec;

/* Takes the interrupt but leaves the EOI to the test. */
static void on_no_eoi(struct trap_frame *f)
{
	record((unsigned)f->vector);
	no_eoi_vec = (unsigned)f->vector;
}

TEST(isr_in_service)
{
	apic_init();
	reset_record();
	irq_install(VEC_A, on_look);
	/* Pending (IF = 0): IRR set, ISR clear. */
	apic_self_ipi(VEC_A);
	expect(reg_bit(APIC_IRR, VEC_A) == 1, "IRR bit of pending vector 0x%x clear", VEC_A);
	expect(reg_bit(APIC_ISR, VEC_A) == 0, "ISR bit of pending vector 0x%x set", VEC_A);
	window_until(&ndeliv, 1, 0);
	expect(fired[VEC_A] == 1, "%u deliveries", fired[VEC_A]);
	expect(isr_seen == 1, "in service: ISR bit of 0x%x clear", VEC_A);
	expect(irr_seen == 0, "in service: IRR bit of 0x%x still set", VEC_A);
	expect(reg_bit(APIC_ISR, VEC_A) == 0, "after EOI: ISR bit of 0x%x set", VEC_A);
}

TEST(isr_blocks_until_eoi)
{
	apic_init();
	/* Without an EOI the vector stays in service: the same vector and a
	 * lower one wait in IRR; PPR shows the class in service. */
	irq_install(VEC_B, on_no_eoi);
	irq_install(VEC_A, on_plain);
	reset_record();
	apic_self_ipi(VEC_B);
	window_until(&ndeliv, 1, 0);
	require(fired[VEC_B] == 1, "0x%x not delivered", VEC_B);
	expect(reg_bit(APIC_ISR, VEC_B) == 1, "un-EOIed 0x%x not in ISR", VEC_B);
	expect((apic_read(APIC_PPR) & 0xf0) == (VEC_B & 0xf0), "PPR 0x%x with 0x%x in service",
	       apic_read(APIC_PPR), VEC_B);
	apic_self_ipi(VEC_B);
	apic_self_ipi(VEC_A);
	window_until(0, 0, 0);
	expect(fired[VEC_B] == 1 && fired[VEC_A] == 0, "delivered under an in-service 0x%x: "
	       "0x%x %u times, 0x%x %u times", VEC_B, VEC_B, fired[VEC_B] - 1, VEC_A, fired[VEC_A]);
	expect(reg_bit(APIC_IRR, VEC_B) && reg_bit(APIC_IRR, VEC_A), "IRR bits of the "
	       "blocked vectors clear");
	/* EOI: the second 0x55 is taken (and not EOIed), 0x45 still waits. */
	apic_eoi();
	window_until(&ndeliv, 2, 300);
	expect(fired[VEC_B] == 2 && fired[VEC_A] == 0, "after one EOI: 0x%x %u times, "
	       "0x%x %u times", VEC_B, fired[VEC_B], VEC_A, fired[VEC_A]);
	apic_eoi();
	window_until(&ndeliv, 3, 0);
	expect(fired[VEC_A] == 1, "after the second EOI 0x%x delivered %u times", VEC_A, fired[VEC_A]);
	expect(reg_bit(APIC_ISR, VEC_A) == 0 && reg_bit(APIC_ISR, VEC_B) == 0, "ISR not empty");
	expect(apic_read(APIC_PPR) == 0, "PPR 0x%x when idle", apic_read(APIC_PPR));
}

/* Nesting: in 0x40's handler (interrupts on) a higher class preempts, the
 * same class waits for the EOI. */
static void on_low(struct trap_frame *f)
{
	record((unsigned)f->vector);
	if (f->vector == VEC_LOW) {
		apic_self_ipi(VEC_LOW2);
		apic_self_ipi(VEC_HIGH);
		window_until(&ndeliv, 2, 300);
		record(0xff);                   /* marker: end of 0x40's window */
	}
	apic_eoi();
}

TEST(nested_priority)
{
	apic_init();
	reset_record();
	irq_install(VEC_LOW, on_low);
	irq_install(VEC_LOW2, on_low);
	irq_install(VEC_HIGH, on_low);
	apic_self_ipi(VEC_LOW);
	window_until(&ndeliv, 4, 0);
	expect(norder == 4, "%u deliveries, expected 3 and the marker", norder);
	expect(order[0] == VEC_LOW && order[1] == VEC_HIGH && order[2] == 0xff &&
	       order[3] == VEC_LOW2, "order 0x%x 0x%x 0x%x 0x%x: expected 0x%x, 0x%x (nested), "
	       "end of window, then 0x%x", order[0], order[1], order[2], order[3],
	       VEC_LOW, VEC_HIGH, VEC_LOW2);
}

TEST(tpr_masking)
{
	apic_init();
	reset_record();
	irq_install(VEC_A, on_plain);
	irq_install(VEC_B, on_plain);
	irq_install(VEC_C, on_plain);
	apic_write(APIC_TPR, 0x50);
	apic_self_ipi(VEC_A);
	apic_self_ipi(VEC_B);
	apic_self_ipi(VEC_C);
	window_until(&ndeliv, 1, 300);
	expect(fired[VEC_C] == 1, "0x%x above TPR 0x50 delivered %u times", VEC_C, fired[VEC_C]);
	expect(fired[VEC_A] == 0 && fired[VEC_B] == 0, "below or at TPR 0x50: 0x%x %u, 0x%x %u",
	       VEC_A, fired[VEC_A], VEC_B, fired[VEC_B]);
	expect(reg_bit(APIC_IRR, VEC_A) && reg_bit(APIC_IRR, VEC_B), "masked vectors not in IRR");
	expect((apic_read(APIC_PPR) & 0xf0) == 0x50, "PPR 0x%x with TPR 0x50", apic_read(APIC_PPR));
	/* CR8 is TPR[7:4]. */
	{
		uint64_t cr8;

		__asm__ volatile("mov %%cr8, %0" : "=r"(cr8));
		expect(cr8 == 5, "CR8 = %lu with TPR 0x50", cr8);
		cr8 = 4;
		__asm__ volatile("mov %0, %%cr8" :: "r"(cr8) : "memory");
	}
	expect(apic_read(APIC_TPR) == 0x40, "TPR 0x%x after CR8 = 4", apic_read(APIC_TPR));
	window_until(&ndeliv, 2, 300);
	expect(fired[VEC_B] == 1 && fired[VEC_A] == 0, "TPR 0x40: 0x%x %u times, 0x%x %u times",
	       VEC_B, fired[VEC_B], VEC_A, fired[VEC_A]);
	apic_write(APIC_TPR, 0);
	window_until(&ndeliv, 3, 0);
	expect(fired[VEC_A] == 1, "TPR 0: 0x%x delivered %u times", VEC_A, fired[VEC_A]);
	expect(norder == 3 && order[0] == VEC_C && order[1] == VEC_B && order[2] == VEC_A,
	       "delivery order 0x%x 0x%x 0x%x", order[0], order[1], order[2]);
}

/* ---- the timer. */
static volatile uint64_t tfire[TIMER_SHOTS + 2];
static volatile unsigned tcount;
static uint64_t cyc_per_mtick;          /* TSC cycles per 10^6 timer ticks */

static void on_timer(struct trap_frame *f)
{
	(void)f;
	if (tcount < TIMER_SHOTS + 2)
		tfire[tcount] = rdtsc();
	tcount++;
	apic_eoi();
}

/* TSC cycles per 10^6 timer ticks, over about 20 ms of the timer. */
static uint64_t calibrate_once(void)
{
	uint64_t t0, t1, a, b;
	uint32_t c0, c1;

	apic_write(APIC_TDCR, 0xb);
	apic_write(APIC_LVTT, LVT_MASKED | VEC_TIMER);
	apic_write(APIC_TMICT, 0xffffffffu);
	a = rdtsc();
	c0 = apic_read(APIC_TMCCT);
	b = rdtsc();
	t0 = a + (b - a) / 2;
	do {
		a = rdtsc();
		c1 = apic_read(APIC_TMCCT);
		b = rdtsc();
	} while (c0 - c1 < 20000000u && c1 != 0);
	t1 = a + (b - a) / 2;
	apic_write(APIC_TMICT, 0);
	if (c0 == c1)
		return 0;
	return (t1 - t0) * 1000000ull / (c0 - c1);
}

static uint64_t median(const uint64_t *d, unsigned n);

/* The median of five calibrations; at least three must agree within 2%
 * (one taken while the host preempted the vCPU is off by that much). */
static void calibrate(void)
{
	uint64_t c[5], med;
	unsigned i, agree = 0;

	apic_init();
	irq_install(VEC_TIMER, on_timer);
	if (cyc_per_mtick)
		return;
	for (i = 0; i < 5; i++) {
		c[i] = calibrate_once();
		require(c[i], "the LAPIC timer's current count does not move");
	}
	med = median(c, 5);
	for (i = 0; i < 5; i++)
		agree += c[i] >= med - med / 50 && c[i] <= med + med / 50;
	require(agree >= 3, "calibrations disagree: %lu %lu %lu %lu %lu TSC cycles per 10^6 "
		"ticks", c[0], c[1], c[2], c[3], c[4]);
	cyc_per_mtick = med;
	test_info("lapic_tsc_cycles_per_mtick", cyc_per_mtick);
}

/* Waits (HLT) for tcount to reach n, or for `limit` TSC cycles. */
static int wait_fires(unsigned n, uint64_t limit)
{
	uint64_t t0 = rdtsc();

	irq_disable();
	while (tcount < n) {
		if (rdtsc() - t0 > limit)
			return -1;
		safe_halt();
		irq_disable();
	}
	return 0;
}

struct spread { uint64_t mean, min, max; };

/* Sorts a copy; the median is what must be within 10%: single intervals
 * stretched by the host's scheduler (two cores shared with other guests)
 * are reported (max) but do not decide. */
static uint64_t median(const uint64_t *d, unsigned n)
{
	static uint64_t tmp[TIMER_SHOTS + 5];
	unsigned i, j;

	for (i = 0; i < n; i++) {
		uint64_t v = d[i];

		for (j = i; j > 0 && tmp[j - 1] > v; j--)
			tmp[j] = tmp[j - 1];
		tmp[j] = v;
	}
	return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

static void check_spread(const char *what, const uint64_t *d, unsigned n, uint64_t want)
{
	uint64_t sum = 0, min = ~0ull, max = 0, med = median(d, n);
	unsigned i, within = 0;
	char name[64];

	for (i = 0; i < n; i++) {
		sum += d[i];
		if (d[i] < min)
			min = d[i];
		if (d[i] > max)
			max = d[i];
		within += d[i] >= want - want / 10 && d[i] <= want + want / 10;
	}
	snprintf(name, sizeof(name), "%s_programmed_cycles", what);
	test_info(name, want);
	snprintf(name, sizeof(name), "%s_median_cycles", what);
	test_info(name, med);
	snprintf(name, sizeof(name), "%s_mean_cycles", what);
	test_info(name, sum / n);
	snprintf(name, sizeof(name), "%s_min_cycles", what);
	test_info(name, min);
	snprintf(name, sizeof(name), "%s_max_cycles", what);
	test_info(name, max);
	snprintf(name, sizeof(name), "%s_within_10pct", what);
	test_info(name, within);
	expect(med >= want - want / 10 && med <= want + want / 10,
	       "%s: median interval %lu TSC cycles over %u, programmed %lu (more than 10%% off)",
	       what, med, n, want);
}

static uint64_t deltas[TIMER_SHOTS];

static uint32_t period_ticks(const char *key, uint32_t dflt)
{
	char v[16];
	uint32_t n = 0;
	unsigned i;

	if (!cmdline_get(key, v, sizeof(v)))
		return dflt;
	for (i = 0; v[i] >= '0' && v[i] <= '9' && i < 9; i++)
		n = n * 10 + (uint32_t)(v[i] - '0');
	require(v[i] == '\0' && n >= 1000, "bad %s=%s (microseconds, at least 1000)", key, v);
	return n * 1000u;
}

TEST(timer_oneshot)
{
	uint32_t ticks = period_ticks("oneshot_us", 5000000u);
	uint64_t want, t0;
	unsigned i;

	calibrate();
	want = cyc_per_mtick * ticks / 1000000u;
	apic_write(APIC_TDCR, 0xb);
	apic_write(APIC_LVTT, VEC_TIMER);
	for (i = 0; i < TIMER_SHOTS; i++) {
		tcount = 0;
		t0 = rdtsc();
		apic_write(APIC_TMICT, ticks);
		if (wait_fires(1, 1000 * want) < 0)
			test_abort("shot %u never fired", i);
		deltas[i] = tfire[0] - t0;
		expect(apic_read(APIC_TMCCT) == 0, "current count %u after the shot",
		       apic_read(APIC_TMCCT));
	}
	/* One-shot means one: nothing more within two intervals. */
	t0 = rdtsc();
	irq_enable();
	while (rdtsc() - t0 < 2 * want)
		;
	irq_disable();
	expect(tcount == 1, "the last one-shot fired %u times", tcount);
	check_spread("timer_oneshot", deltas, TIMER_SHOTS, want);
}

TEST(timer_periodic)
{
	uint32_t ticks = period_ticks("periodic_us", 1000000u);
	uint64_t want;
	unsigned i;

	calibrate();
	want = cyc_per_mtick * ticks / 1000000u;
	tcount = 0;
	apic_write(APIC_TDCR, 0xb);
	apic_write(APIC_LVTT, LVT_PERIODIC | VEC_TIMER);
	apic_write(APIC_TMICT, ticks);
	if (wait_fires(TIMER_SHOTS + 1, 1000 * want * TIMER_SHOTS) < 0)
		test_fail("%u periods in %lu TSC cycles", tcount, 1000 * want * TIMER_SHOTS);
	apic_timer_stop();
	require(tcount >= TIMER_SHOTS + 1, "only %u firings", tcount);
	for (i = 0; i < TIMER_SHOTS; i++)
		deltas[i] = tfire[i + 1] - tfire[i];
	check_spread("timer_periodic", deltas, TIMER_SHOTS, want);
}

TEST(timer_tsc_deadline)
{
	uint32_t ticks = period_ticks("deadline_us", 5000000u);
	uint64_t want, dl, t0;
	unsigned i;

	if (!(cpuid(1).c & (1u << 24)))
		test_skip("no TSC-deadline timer (CPUID.1 ECX bit 24)");
	calibrate();
	want = cyc_per_mtick * ticks / 1000000u;
	apic_write(APIC_LVTT, LVT_TSCDEADLINE | VEC_TIMER);
	for (i = 0; i < TIMER_SHOTS; i++) {
		tcount = 0;
		t0 = rdtsc();
		dl = t0 + want;
		wrmsr(MSR_IA32_TSC_DEADLINE, dl);
		if (wait_fires(1, 1000 * want) < 0)
			test_abort("deadline %u never fired", i);
		deltas[i] = tfire[0] - t0;
		if (tfire[0] < dl)
			test_fail("deadline %u: fired at TSC %lu, before the deadline %lu", i,
				  tfire[0], dl);
		expect(rdmsr(MSR_IA32_TSC_DEADLINE) == 0, "IA32_TSC_DEADLINE not cleared "
		       "after firing");
	}
	/* Writing 0 disarms it. */
	tcount = 0;
	wrmsr(MSR_IA32_TSC_DEADLINE, rdtsc() + want);
	wrmsr(MSR_IA32_TSC_DEADLINE, 0);
	t0 = rdtsc();
	irq_enable();
	while (rdtsc() - t0 < 2 * want)
		;
	irq_disable();
	expect(tcount == 0, "a disarmed deadline fired %u times", tcount);
	apic_timer_stop();
	check_spread("timer_tsc_deadline", deltas, TIMER_SHOTS, want);
}

TEST(timer_masked)
{
	uint32_t c0, c1;
	uint64_t t0;

	calibrate();
	tcount = 0;
	apic_write(APIC_TDCR, 0xb);
	apic_write(APIC_LVTT, LVT_MASKED | VEC_TIMER);
	/* 10^8 ticks, so that a host that stalls the vCPU for a while between
	 * the two accesses still reads a count in flight. */
	apic_write(APIC_TMICT, 100000000u);
	c0 = apic_read(APIC_TMCCT);
	t0 = rdtsc();
	irq_enable();
	while (rdtsc() - t0 < 300 * cyc_per_mtick)
		;
	irq_disable();
	c1 = apic_read(APIC_TMCCT);
	expect(c0 > 0 && c0 <= 100000000u, "current count %u right after arming 10^8", c0);
	expect(c1 == 0, "current count %u after 3 x 10^8 ticks", c1);
	expect(tcount == 0, "masked timer fired %u times", tcount);
	apic_timer_stop();
}

/* ---- fw_cfg. */
static void fw_select(uint16_t key)
{
	outw(HYVE_PORT_FWCFG_SEL, key);
}

static uint64_t fw_read(unsigned n)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)inb(HYVE_PORT_FWCFG_DATA) << (8 * i);
	return v;
}

TEST(fwcfg)
{
	char sig[5];
	unsigned i, nfiles, found = 0;
	uint64_t ram, ncpus, maxcpus, id;

	fw_select(HYVE_FWCFG_SIGNATURE);
	for (i = 0; i < 4; i++)
		sig[i] = (char)inb(HYVE_PORT_FWCFG_DATA);
	sig[4] = '\0';
	require(!strcmp(sig, "QEMU"), "fw_cfg signature \"%s\"", sig);
	fw_select(HYVE_FWCFG_ID);
	id = fw_read(4);
	expect(id & 1, "fw_cfg ID 0x%lx lacks the traditional interface bit", id);
	fw_select(HYVE_FWCFG_NB_CPUS);
	ncpus = fw_read(2);
	expect(ncpus == boot_info.ncpus, "fw_cfg CPU count %lu, boot info %u", ncpus,
	       boot_info.ncpus);
	fw_select(HYVE_FWCFG_MAX_CPUS);
	maxcpus = fw_read(2);
	expect(maxcpus >= ncpus, "fw_cfg max CPUs %lu below the count %lu", maxcpus, ncpus);
	fw_select(HYVE_FWCFG_RAM_SIZE);
	ram = fw_read(8);
	if (!booted_multiboot())
		expect(ram == boot_info.mem_lo + boot_info.mem_hi, "fw_cfg RAM %lu bytes, boot "
		       "info %lu + %lu", ram, boot_info.mem_lo, boot_info.mem_hi);
	else
		expect(ram >= boot_info.mem_lo, "fw_cfg RAM %lu bytes below Multiboot's %lu",
		       ram, boot_info.mem_lo);
	/* Past the end of an item: zeros. */
	fw_select(HYVE_FWCFG_NB_CPUS);
	(void)fw_read(2);
	expect(fw_read(4) == 0, "reading past the end of the CPU count is not zero");
	/* The file directory (big-endian). */
	fw_select(HYVE_FWCFG_FILE_DIR);
	nfiles = (unsigned)__builtin_bswap32((uint32_t)fw_read(4));
	expect(nfiles >= 1 && nfiles < 1000, "%u fw_cfg files", nfiles);
	for (i = 0; i < nfiles && i < 1000; i++) {
		char name[57];
		unsigned j;

		(void)fw_read(8);
		for (j = 0; j < 56; j++)
			name[j] = (char)inb(HYVE_PORT_FWCFG_DATA);
		name[56] = '\0';
		if (!strcmp(name, "etc/hyve/version"))
			found = 1;
	}
	if (on_hyve())
		expect(found, "no etc/hyve/version in hyve's fw_cfg directory");
	test_info("fwcfg_ncpus", ncpus);
	test_info("fwcfg_ram_mib", ram >> 20);
}

/* ---- ACPI: RSDP -> XSDT -> MADT. */
static int acpi_sum_ok(const void *p, uint32_t n)
{
	const uint8_t *b = p;
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *b++);
	return s == 0;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

TEST(acpi_madt)
{
	const uint8_t *rsdp = 0, *xsdt, *madt = 0, *e, *end;
	uint64_t a;
	unsigned i, n, x2 = 0, lapic = 0, ioapic = 0, en_ok = 1;
	static uint8_t seen[256];

	for (a = HYVE_ACPI_BASE; a < HYVE_ACPI_END; a += 16)
		if (!memcmp((const void *)(uintptr_t)a, "RSD PTR ", 8)) {
			rsdp = (const uint8_t *)(uintptr_t)a;
			break;
		}
	if (!rsdp && booted_multiboot())
		test_skip("no RSDP in 0xe0000-0xfffff (not hyve's firmware)");
	require(rsdp, "no RSDP in 0xe0000-0xfffff");
	require(acpi_sum_ok(rsdp, 20), "RSDP checksum");
	if (rsdp[15] < 2 && booted_multiboot())
		test_skip("the firmware's RSDP has revision %u (RSDT only); this walks the XSDT",
			  rsdp[15]);
	require(rsdp[15] >= 2, "RSDP revision %u: no XSDT", rsdp[15]);
	require(acpi_sum_ok(rsdp, rd32(rsdp + 20)), "RSDP extended checksum");
	a = rd64(rsdp + 24);
	require(a && a < boot_info.mem_lo, "XSDT at 0x%lx", a);
	xsdt = (const uint8_t *)(uintptr_t)a;
	require(!memcmp(xsdt, "XSDT", 4) && acpi_sum_ok(xsdt, rd32(xsdt + 4)), "bad XSDT");
	n = (rd32(xsdt + 4) - 36) / 8;
	for (i = 0; i < n; i++) {
		const uint8_t *t = (const uint8_t *)(uintptr_t)rd64(xsdt + 36 + 8 * i);

		if (!memcmp(t, "APIC", 4))
			madt = t;
	}
	require(madt, "no MADT among the XSDT's %u tables", n);
	require(acpi_sum_ok(madt, rd32(madt + 4)), "MADT checksum");
	expect(rd32(madt + 36) == HYVE_LAPIC_BASE, "MADT local APIC address 0x%x",
	       rd32(madt + 36));
	memset(seen, 0, sizeof(seen));
	end = madt + rd32(madt + 4);
	for (e = madt + 44; e + 2 <= end; e += e[1]) {
		require(e[1] >= 2 && e + e[1] <= end, "MADT entry of type %u has length %u",
			e[0], e[1]);
		if (e[0] == 9) {                        /* Processor Local x2APIC */
			uint32_t id = rd32(e + 4);

			x2++;
			en_ok &= rd32(e + 8) & 1;
			if (id < 256) {
				expect(!seen[id], "x2APIC ID %u listed twice", id);
				seen[id] = 1;
			} else {
				test_fail("x2APIC ID %u out of range", id);
			}
		} else if (e[0] == 0) {
			lapic++;
		} else if (e[0] == 1) {
			ioapic++;
		}
	}
	expect(ioapic == 1, "%u I/O APIC entries", ioapic);
	expect(en_ok, "a Local x2APIC entry is not enabled");
	if (on_hyve()) {
		expect(x2 == boot_info.ncpus, "%u Local x2APIC entries for %u vCPUs", x2,
		       boot_info.ncpus);
		for (i = 0; i < boot_info.ncpus && i < 256; i++)
			expect(seen[i], "no x2APIC entry for APIC ID %u", i);
	} else {
		expect(x2 + lapic == boot_info.ncpus, "%u processor entries for %u CPUs",
		       x2 + lapic, boot_info.ncpus);
	}
	test_info("madt_x2apic_entries", x2);
}
