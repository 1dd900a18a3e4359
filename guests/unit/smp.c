/*
 * SMP: AP bring-up (INIT/SIPI or hyve's direct start, "ap=sipi|direct" on
 * the command line, default sipi), APIC IDs against CPUID, and IPIs between
 * vCPUs: ping-pong, broadcasts, logical (cluster) destinations, NMI, HLT
 * wake-up and a storm in which every CPU sends to every other.
 *
 * unit_setup brings the APs up before the cases run; the case "bringup"
 * checks the outcome, every other case needs all CPUs online.  Counts are
 * exact: a sender never has two IPIs of one vector in flight to the same
 * CPU (the local APIC would merge them in IRR), so every IPI sent must be
 * seen once.
 */
#include "apic.h"
#include "idt.h"
#include "smp.h"
#include "string.h"
#include "test.h"
#include "x86.h"

#define VEC_PING  0x80
#define VEC_PONG  0x81
#define VEC_BCAST 0x90
#define VEC_ALL   0x91
#define VEC_LOGI  0xa0
#define VEC_WAKE2 0xb0
#define VEC_STORM 0x40          /* 0x40 + sender index, up to 0x7f */

static enum smp_method method = SMP_SIPI;
static unsigned boot_online;
static uint64_t boot_cycles;
static uint32_t boot_err;
static int bad_cmdline;

void unit_setup(void)
{
	int r = smp_method_from_cmdline(&method);

	if (r < 0) {
		bad_cmdline = 1;
		return;
	}
	smp_init();
	boot_online = smp_boot(method, SMP_TIMEOUT, &boot_cycles, &boot_err);
	printf("smp: %u of %u CPUs online by %s in %lu TSC cycles\n", boot_online,
	       smp_ncpus(), method == SMP_SIPI ? "INIT/SIPI" : "direct start",
	       boot_cycles);
}

static unsigned ncpu(void)
{
	return smp_ncpus();
}

/* Every configured CPU must be online and none may have faulted. */
static void need_all(unsigned min)
{
	require(!bad_cmdline, "bad ap= on the command line (sipi or direct)");
	if (ncpu() < min)
		test_skip("needs at least %u vCPUs (hyve -c), have %u", min, ncpu());
	require(boot_online == ncpu(), "only %u of %u CPUs came online", boot_online, ncpu());
}

static void check_faults(void)
{
	unsigned i;

	for (i = 1; i < ncpu(); i++)
		if (cpus[i].fault_vector >= 0)
			test_fail("CPU %u took %s (error 0x%lx) at RIP 0x%lx", i,
				  exc_name((unsigned)cpus[i].fault_vector),
				  cpus[i].fault_error, cpus[i].fault_rip);
}

TEST(bringup)
{
	unsigned i, n = ncpu();

	require(!bad_cmdline, "bad ap= on the command line (sipi or direct)");
	require(boot_info.ncpus <= SMP_MAX_CPUS, "%u vCPUs: the library handles %u",
		boot_info.ncpus, SMP_MAX_CPUS);
	expect(boot_err == 0, "hyve-apstart refused a start: status %u", boot_err);
	expect(boot_online == n, "%u of %u CPUs online", boot_online, n);
	for (i = 1; i < n; i++) {
		if (!cpus[i].online) {
			test_fail("CPU %u never reported in", i);
			continue;
		}
		expect(cpus[i].method == method, "CPU %u came up by method %u, not %u",
		       i, cpus[i].method, method);
		expect(cpus[i].apic_id == i, "CPU %u reports APIC ID %u", i, cpus[i].apic_id);
	}
	check_faults();
	test_info("smp_cpus_online", boot_online);
	test_info("smp_bringup_cycles", boot_cycles);
}

TEST(apic_ids)
{
	unsigned i, j, n = ncpu();
	struct cpuid_regs r1 = cpuid(1), rb = cpuid_count(0xb, 0);

	need_all(1);
	/* The BSP's own view, then every AP's. */
	expect_eq(r1.b >> 24, apic_id());
	expect_eq(rb.d, apic_id());
	if (cpuid(0).a >= 0x1f)
		expect_eq(cpuid_count(0x1f, 0).d, apic_id());
	expect_eq(cpuid_count(0xb, 1).b & 0xffff, n);
	for (i = 1; i < n; i++) {
		struct cpu *c = &cpus[i];

		expect(c->apic_id == i, "CPU %u: APIC ID %u", i, c->apic_id);
		expect(c->cpuid1_apic_id == c->apic_id, "CPU %u: CPUID.1 EBX[31:24] %u, "
		       "APIC ID %u", i, c->cpuid1_apic_id, c->apic_id);
		expect(c->cpuid_b_x2apic_id == c->apic_id, "CPU %u: CPUID.0xb EDX %u, "
		       "APIC ID %u", i, c->cpuid_b_x2apic_id, c->apic_id);
		expect(c->cpuid_1f_x2apic_id == 0xffffffffu ||
		       c->cpuid_1f_x2apic_id == c->apic_id, "CPU %u: CPUID.0x1f EDX %u, "
		       "APIC ID %u", i, c->cpuid_1f_x2apic_id, c->apic_id);
		expect(c->lapic_id_reg == (apic_x2() ? c->apic_id : c->apic_id << 24),
		       "CPU %u: APIC ID register 0x%x", i, c->lapic_id_reg);
		for (j = 0; j < i; j++)
			expect(cpus[j].apic_id != c->apic_id, "CPUs %u and %u share APIC ID %u",
			       j, i, c->apic_id);
	}
	check_faults();
}

/* ---- ping-pong: the BSP pings each AP, the AP's handler pongs back. */
#define PING_ROUNDS 200
static volatile uint64_t pings[SMP_MAX_CPUS];
static volatile uint64_t pongs;

static void on_ping(struct trap_frame *f)
{
	(void)f;
	atomic_inc64(&pings[this_cpu()->index]);
	apic_eoi();
	ipi_send(0, VEC_PONG);
}

static void on_pong(struct trap_frame *f)
{
	(void)f;
	atomic_inc64(&pongs);
	apic_eoi();
}

TEST(ipi_pingpong)
{
	unsigned i, r, n = ncpu();
	uint64_t expect_pongs = 0, t0, total = 0;

	need_all(2);
	irq_install(VEC_PING, on_ping);
	irq_install(VEC_PONG, on_pong);
	pongs = 0;
	for (i = 0; i < n; i++)
		pings[i] = 0;
	irq_enable();
	for (i = 1; i < n; i++) {
		for (r = 0; r < PING_ROUNDS; r++) {
			t0 = rdtsc();
			ipi_send(i, VEC_PING);
			expect_pongs++;
			if (wait_eq(&pongs, expect_pongs, SMP_TIMEOUT) < 0) {
				irq_disable();
				check_faults();
				test_abort("CPU %u: round %u: no pong (pings seen %lu, pongs %lu)",
					   i, r, pings[i], pongs);
			}
			total += rdtsc() - t0;
		}
	}
	irq_disable();
	for (i = 1; i < n; i++)
		expect(pings[i] == PING_ROUNDS, "CPU %u saw %lu pings, sent %u", i,
		       pings[i], PING_ROUNDS);
	expect(pings[0] == 0, "the BSP saw %lu pings", pings[0]);
	expect(pongs == expect_pongs, "%lu pongs for %lu pings", pongs, expect_pongs);
	check_faults();
	test_info("ipi_pingpong_cycles", total / expect_pongs);
}

/* ---- broadcasts: all-excluding-self and all-including-self. */
#define BCAST_ROUNDS 100
static volatile uint64_t bcasts[SMP_MAX_CPUS], alls[SMP_MAX_CPUS];

static void on_bcast(struct trap_frame *f)
{
	(void)f;
	atomic_inc64(&bcasts[this_cpu()->index]);
	apic_eoi();
}

static void on_all(struct trap_frame *f)
{
	(void)f;
	atomic_inc64(&alls[this_cpu()->index]);
	apic_eoi();
}

/* Waits until every CPU in [from, n) counted `want`. */
static int wait_all(const volatile uint64_t *cnt, unsigned from, unsigned n, uint64_t want)
{
	unsigned i;

	for (i = from; i < n; i++)
		if (wait_eq(&cnt[i], want, SMP_TIMEOUT) < 0)
			return (int)i;
	return -1;
}

TEST(ipi_broadcast)
{
	unsigned i, r, n = ncpu();
	int stuck;

	need_all(2);
	irq_install(VEC_BCAST, on_bcast);
	for (i = 0; i < n; i++)
		bcasts[i] = 0;
	irq_enable();
	for (r = 1; r <= BCAST_ROUNDS; r++) {
		ipi_raw(ICR_FIXED | ICR_ASSERT | ICR_ALL_BUT_SELF | VEC_BCAST, 0);
		stuck = wait_all(bcasts, 1, n, r);
		if (stuck >= 0) {
			irq_disable();
			check_faults();
			test_abort("round %u: CPU %d counted %lu broadcasts", r, stuck,
				   bcasts[stuck]);
		}
	}
	irq_disable();
	expect(bcasts[0] == 0, "the sender got %lu of its all-but-self broadcasts", bcasts[0]);
	for (i = 1; i < n; i++)
		expect(bcasts[i] == BCAST_ROUNDS, "CPU %u: %lu broadcasts, sent %u", i,
		       bcasts[i], BCAST_ROUNDS);
	check_faults();
}

TEST(ipi_broadcast_self)
{
	unsigned i, r, n = ncpu();
	int stuck;

	need_all(1);
	irq_install(VEC_ALL, on_all);
	for (i = 0; i < n; i++)
		alls[i] = 0;
	irq_enable();
	for (r = 1; r <= BCAST_ROUNDS; r++) {
		ipi_raw(ICR_FIXED | ICR_ASSERT | ICR_ALL | VEC_ALL, 0);
		stuck = wait_all(alls, 0, n, r);
		if (stuck >= 0) {
			irq_disable();
			check_faults();
			test_abort("round %u: CPU %d counted %lu broadcasts", r, stuck,
				   alls[stuck]);
		}
	}
	irq_disable();
	for (i = 0; i < n; i++)
		expect(alls[i] == BCAST_ROUNDS, "CPU %u: %lu broadcasts, sent %u", i,
		       alls[i], BCAST_ROUNDS);
	check_faults();
}

/* ---- logical destination, x2APIC cluster model. */
static volatile uint64_t logis[SMP_MAX_CPUS];
static volatile uint32_t ldrs[SMP_MAX_CPUS];

static void on_logi(struct trap_frame *f)
{
	(void)f;
	atomic_inc64(&logis[this_cpu()->index]);
	apic_eoi();
}

static void read_ldr(void *arg)
{
	(void)arg;
	ldrs[this_cpu()->index] = apic_read(0xd0);
}

static uint32_t x2_ldr(unsigned id)
{
	return ((id >> 4) << 16) | (1u << (id & 15));
}

TEST(ipi_logical_cluster)
{
	unsigned i, n = ncpu(), round;
	uint64_t want[SMP_MAX_CPUS];

	need_all(2);
	if (!apic_x2())
		test_skip("the CPU has no x2APIC (CPUID.1 ECX bit 21): no cluster model");
	irq_install(VEC_LOGI, on_logi);
	read_ldr(0);
	require(smp_call_all(read_ldr, 0, SMP_TIMEOUT) == 0, "an AP did not read its LDR");
	for (i = 0; i < n; i++) {
		expect(ldrs[i] == x2_ldr(i), "CPU %u: LDR 0x%x, expected 0x%x", i, ldrs[i],
		       x2_ldr(i));
		logis[i] = 0;
		want[i] = 0;
	}
	irq_enable();
	/* Round 0: odd IDs of each cluster; round 1: even IDs; round 2: one
	 * message per cluster to every member; round 3: a cluster with no
	 * CPUs (nothing may arrive). */
	for (round = 0; round < 4; round++) {
		unsigned cl, nclusters = (n + 15) / 16;

		for (cl = 0; cl <= nclusters; cl++) {
			uint32_t mask = round == 0 ? 0xaaaa : round == 1 ? 0x5555 : 0xffff;

			if ((round < 3) != (cl < nclusters))
				continue;
			ipi_raw(ICR_FIXED | ICR_ASSERT | ICR_LOGICAL | VEC_LOGI, (cl << 16) | mask);
			for (i = cl * 16; i < n && i < cl * 16 + 16; i++)
				if (mask & (1u << (i & 15)))
					want[i]++;
		}
		for (i = 0; i < n; i++)
			if (want[i] && wait_eq(&logis[i], want[i], SMP_TIMEOUT) < 0)
				test_fail("round %u: CPU %u counted %lu, expected %lu", round, i,
					  logis[i], want[i]);
	}
	/* Let stray deliveries land before the final count. */
	for (i = 0; i < 1000; i++)
		spin_relax();
	irq_disable();
	for (i = 0; i < n; i++)
		expect(logis[i] == want[i], "CPU %u got %lu logical IPIs, expected %lu", i,
		       logis[i], want[i]);
	check_faults();
}

/* ---- NMI: delivered even with RFLAGS.IF = 0. */
static volatile uint64_t nmis[SMP_MAX_CPUS];
static volatile uint64_t nmi_spinning[SMP_MAX_CPUS];

static void on_nmi(struct trap_frame *f)
{
	(void)f;
	atomic_inc64(&nmis[this_cpu()->index]);
}

/* With interrupts off, spins until an NMI arrives (or a bound). */
static void spin_for_nmi(void *arg)
{
	unsigned me = this_cpu()->index;
	uint64_t t0 = rdtsc();

	(void)arg;
	irq_disable();
	nmi_spinning[me] = 1;
	while (nmis[me] == 0 && rdtsc() - t0 < SMP_TIMEOUT)
		spin_relax();
	nmi_spinning[me] = 2;
}

TEST(ipi_nmi)
{
	unsigned i, n = ncpu();

	need_all(2);
	nmi_install(on_nmi);
	for (i = 0; i < n; i++)
		nmis[i] = nmi_spinning[i] = 0;
	for (i = 1; i < n; i++) {
		smp_call(i, spin_for_nmi, 0);
		if (wait_eq(&nmi_spinning[i], 1, SMP_TIMEOUT) < 0) {
			test_fail("CPU %u did not start spinning", i);
			continue;
		}
		ipi_nmi(i);
		if (smp_wait(i, SMP_TIMEOUT) < 0)
			test_fail("CPU %u did not finish", i);
		expect(nmis[i] == 1, "CPU %u (IF = 0) took %lu NMIs, sent 1", i, nmis[i]);
	}
	expect(nmis[0] == 0, "the BSP took %lu NMIs", nmis[0]);
	/* The BSP sends itself nothing; an AP sends the BSP one. */
	nmi_install(0);
	check_faults();
}

/* ---- HLT woken by an IPI, both directions. */
static volatile uint64_t wake_fired[SMP_MAX_CPUS], halting[SMP_MAX_CPUS];
static volatile uint64_t halts[SMP_MAX_CPUS], woke_tsc[SMP_MAX_CPUS];

static void on_wake2(struct trap_frame *f)
{
	unsigned me = this_cpu()->index;

	(void)f;
	woke_tsc[me] = rdtsc();
	atomic_inc64(&wake_fired[me]);
	apic_eoi();
}

static void halt_until_ipi(void *arg)
{
	unsigned me = this_cpu()->index;

	(void)arg;
	irq_disable();
	halting[me] = 1;
	while (!wake_fired[me]) {
		halts[me]++;
		safe_halt();
		irq_disable();
	}
}

static void wake_bsp(void *arg)
{
	(void)arg;
	ipi_send(0, VEC_WAKE2);
}

TEST(hlt_wake_ipi)
{
	unsigned i, n = ncpu();
	uint64_t t_send, lat = 0, spin;

	need_all(2);
	irq_install(VEC_WAKE2, on_wake2);
	for (i = 0; i < n; i++)
		wake_fired[i] = halting[i] = halts[i] = 0;
	for (i = 1; i < n; i++) {
		smp_call(i, halt_until_ipi, 0);
		if (wait_eq(&halting[i], 1, SMP_TIMEOUT) < 0) {
			test_fail("CPU %u did not get to its HLT", i);
			continue;
		}
		/* Give it time to be in HLT (a few thousand PAUSEs). */
		for (spin = 0; spin < 5000; spin++)
			spin_relax();
		t_send = rdtsc();
		ipi_send(i, VEC_WAKE2);
		if (smp_wait(i, SMP_TIMEOUT) < 0) {
			test_fail("CPU %u was not woken from HLT", i);
			continue;
		}
		expect(wake_fired[i] == 1, "CPU %u: %lu wake-ups, sent 1", i, wake_fired[i]);
		expect(halts[i] >= 1, "CPU %u never halted", i);
		if (woke_tsc[i] > t_send)
			lat += woke_tsc[i] - t_send;
	}
	/* The other way round: the BSP halts until CPU 1 sends it the IPI. */
	irq_disable();
	smp_call(1, wake_bsp, 0);
	halting[0] = 1;
	while (!wake_fired[0] && halts[0] < 1000000) {
		halts[0]++;
		safe_halt();
		irq_disable();
	}
	expect(wake_fired[0] == 1, "the BSP: %lu wake-ups from CPU 1, sent 1", wake_fired[0]);
	expect(smp_wait(1, SMP_TIMEOUT) == 0, "CPU 1 did not finish");
	check_faults();
	test_info("hlt_wake_ipi_cycles", lat / (n - 1));
}

/* ---- the storm: every CPU sends `count` IPIs to every other. */
static volatile uint64_t storm_recv[SMP_MAX_CPUS][SMP_MAX_CPUS]; /* [to][from] */
static volatile uint64_t storm_sent[SMP_MAX_CPUS][SMP_MAX_CPUS]; /* [from][to] */
static volatile uint64_t storm_done[SMP_MAX_CPUS];
static volatile uint64_t storm_timeout[SMP_MAX_CPUS];
static uint64_t storm_count;

static void on_storm(struct trap_frame *f)
{
	unsigned from = (unsigned)f->vector - VEC_STORM;

	storm_recv[this_cpu()->index][from]++;
	apic_eoi();
}

/* Sends to each other CPU in turn, never with one of its IPIs still
 * unhandled there (the local APIC would merge the two). */
static void storm(void *arg)
{
	unsigned me = this_cpu()->index, n = ncpu(), t;
	uint64_t left = storm_count * (n - 1), t0 = rdtsc();

	(void)arg;
	irq_enable();
	while (left) {
		for (t = 0; t < n; t++) {
			if (t == me || storm_sent[me][t] == storm_count ||
			    storm_recv[t][me] != storm_sent[me][t])
				continue;
			storm_sent[me][t]++;
			ipi_send(t, VEC_STORM + me);
			left--;
		}
		if (rdtsc() - t0 > 20 * SMP_TIMEOUT) {
			storm_timeout[me] = 1;
			break;
		}
	}
	/* Its last IPIs must have been handled before it counts as done. */
	for (t = 0; t < n; t++)
		while (t != me && storm_recv[t][me] != storm_sent[me][t] &&
		       rdtsc() - t0 < 20 * SMP_TIMEOUT)
			spin_relax();
	/* Stay interruptible until every other sender is done too. */
	__atomic_fetch_add(&storm_done[0], 1, __ATOMIC_SEQ_CST);
	while (storm_done[0] < n && rdtsc() - t0 < 20 * SMP_TIMEOUT)
		spin_relax();
}

TEST(ipi_storm)
{
	unsigned i, j, n = ncpu();
	char v[24];
	uint64_t t0, total;

	need_all(2);
	require(n <= VEC_STORM + 64 - 0x40, "too many CPUs");
	storm_count = 10000;
	if (cmdline_get("storm", v, sizeof(v))) {
		storm_count = 0;
		for (i = 0; v[i] >= '0' && v[i] <= '9'; i++)
			storm_count = storm_count * 10 + (uint64_t)(v[i] - '0');
		require(v[i] == '\0' && storm_count > 0, "bad storm=%s", v);
	}
	for (i = 0; i < n; i++) {
		irq_install(VEC_STORM + i, on_storm);
		storm_timeout[i] = 0;
		for (j = 0; j < n; j++)
			storm_recv[i][j] = storm_sent[i][j] = 0;
	}
	storm_done[0] = 0;
	t0 = rdtsc();
	for (i = 1; i < n; i++)
		smp_call(i, storm, 0);
	storm(0);
	irq_disable();
	for (i = 1; i < n; i++)
		if (smp_wait(i, SMP_TIMEOUT) < 0)
			test_fail("CPU %u did not finish the storm", i);
	total = rdtsc() - t0;
	for (i = 0; i < n; i++) {
		expect(!storm_timeout[i], "CPU %u ran out of time", i);
		for (j = 0; j < n; j++) {
			uint64_t want = i == j ? 0 : storm_count;

			if (storm_recv[i][j] != want || storm_sent[j][i] != want)
				test_fail("CPU %u got %lu IPIs from CPU %u, which sent %lu of %lu",
					  i, storm_recv[i][j], j, storm_sent[j][i], want);
		}
	}
	check_faults();
	test_info("ipi_storm_per_pair", storm_count);
	test_info("ipi_storm_total", storm_count * n * (n - 1));
	test_info("ipi_storm_cycles", total);
}

/* ---- hyve-apstart's refusals (direct start only). */
TEST(apstart_errors)
{
	uint64_t entry = (uint64_t)(uintptr_t)smp_ap_entry_direct;
	uint64_t stack = (uint64_t)(uintptr_t)cpus[0].stack_top;
	uint32_t st;

	need_all(2);
	if (!on_hyve())
		test_skip("hyve-apstart is hyve's own device");
	if (method != SMP_DIRECT) {
		st = smp_direct_start(1, entry, (uint64_t)(uintptr_t)cpus[1].stack_top, 1, 0);
		expect(st == HYVE_APS_EMODE, "under INIT/SIPI: status %u, expected %u (EMODE)",
		       st, HYVE_APS_EMODE);
		return;
	}
	stack = (uint64_t)(uintptr_t)cpus[1].stack_top;
	st = smp_direct_start(0, entry, stack, 0, 0);
	expect(st == HYVE_APS_EID, "start of the BSP: status %u, expected EID", st);
	st = smp_direct_start(ncpu(), entry, stack, 0, 0);
	expect(st == HYVE_APS_EID, "start of APIC ID %u: status %u, expected EID", ncpu(), st);
	st = smp_direct_start(1, entry, stack, 1, 0);
	expect(st == HYVE_APS_ESTARTED, "second start of CPU 1: status %u, expected ESTARTED", st);
	st = smp_direct_start(1, boot_info.mem_lo + 0x1000, stack, 1, 0);
	expect(st == HYVE_APS_EADDR, "entry beyond RAM: status %u, expected EADDR", st);
	st = smp_direct_start(1, entry, stack, 1, 0x1234);
	expect(st == HYVE_APS_EADDR, "unaligned CR3: status %u, expected EADDR", st);
	/* A bad magic. */
	{
		static struct hyve_ap_start req __attribute__((aligned(64)));

		req.magic = 0x12345678;
		req.apic_id = 1;
		outl(HYVE_PORT_APSTART, (uint32_t)(uintptr_t)&req);
		st = inl(HYVE_PORT_APSTART);
		expect(st == HYVE_APS_EMAGIC, "bad magic: status %u, expected EMAGIC", st);
		outl(HYVE_PORT_APSTART, (uint32_t)(boot_info.mem_lo + 0x100000));
		st = inl(HYVE_PORT_APSTART);
		expect(st == HYVE_APS_EADDR, "request beyond RAM: status %u, expected EADDR", st);
	}
	check_faults();
}
