/*
 * bench/ipi's guest: IPI round trip, HLT wake-up latency and AP bring-up
 * time, timed with RDTSC from inside the VM.  The same ELF runs under hyve
 * and under the floor (kmod/floor/ipifloor).
 *
 * Command line: case=bringup|pingpong|hlt_wake[,...]  ap=sipi|direct
 * iters=N (round trips or wake-ups per sample)  reps=N (samples).
 * Figures are INFO reports, one per sample:
 *   ipi.bringup.cycles      first start signal to the last AP online
 *   ipi.pingpong.cycles     TSC cycles per round trip BSP -> CPU 1 -> BSP
 *   ipi.hlt_wake.cycles     TSC cycles from the BSP's IPI to CPU 1 running
 *                           its handler after HLT (the TSCs of the vCPUs are
 *                           the same clock under KVM)
 * and ipi.iters / ipi.reps / ipi.ncpus echo the parameters.  Every count is
 * checked; a lost IPI fails the case.
 */
#include "apic.h"
#include "idt.h"
#include "smp.h"
#include "string.h"
#include "test.h"
#include "x86.h"

#define VEC_PING 0x80
#define VEC_PONG 0x81
#define VEC_WAKE 0x82
#define MAX_ITERS 100000u
#define MAX_REPS 1000u

static enum smp_method method = SMP_SIPI;
static unsigned online, iters = 100, reps = 5;
static uint64_t boot_cycles;
static uint32_t boot_err;
static int bad_args;

static int get_num(const char *key, unsigned max, unsigned *out)
{
	char v[16];
	unsigned n = 0, i;

	if (!cmdline_get(key, v, sizeof(v)))
		return 0;
	for (i = 0; v[i] >= '0' && v[i] <= '9' && i < 9; i++)
		n = n * 10 + (unsigned)(v[i] - '0');
	if (v[i] != '\0' || n == 0 || n > max)
		return -1;
	*out = n;
	return 0;
}

void unit_setup(void)
{
	if (smp_method_from_cmdline(&method) < 0 || get_num("iters", MAX_ITERS, &iters) < 0 ||
	    get_num("reps", MAX_REPS, &reps) < 0) {
		bad_args = 1;
		return;
	}
	smp_init();
	online = smp_boot(method, SMP_TIMEOUT, &boot_cycles, &boot_err);
}

static void need(unsigned min)
{
	require(!bad_args, "bad command line (ap=sipi|direct, iters=1..%u, reps=1..%u)",
		MAX_ITERS, MAX_REPS);
	require(online == smp_ncpus(), "%u of %u CPUs online (apstart status %u)", online,
		smp_ncpus(), boot_err);
	if (smp_ncpus() < min)
		test_skip("needs %u vCPUs", min);
	test_info("ipi.iters", iters);
	test_info("ipi.reps", reps);
	test_info("ipi.ncpus", smp_ncpus());
}

TEST(bringup)
{
	need(1);
	test_info("ipi.bringup.cycles", boot_cycles);
}

static volatile uint64_t pings, pongs;

static void on_ping(struct trap_frame *f)
{
	(void)f;
	pings++;
	apic_eoi();
	ipi_send(0, VEC_PONG);
}

static void on_pong(struct trap_frame *f)
{
	(void)f;
	pongs++;
	apic_eoi();
}

TEST(pingpong)
{
	unsigned r, i;
	uint64_t t0, t1;

	need(2);
	irq_install(VEC_PING, on_ping);
	irq_install(VEC_PONG, on_pong);
	pings = pongs = 0;
	irq_enable();
	for (r = 0; r < reps; r++) {
		t0 = rdtsc();
		for (i = 0; i < iters; i++) {
			uint64_t want = pongs + 1;

			ipi_send(1, VEC_PING);
			if (wait_eq(&pongs, want, SMP_TIMEOUT) < 0) {
				irq_disable();
				test_abort("sample %u, round %u: no pong", r, i);
			}
		}
		t1 = rdtsc();
		test_info("ipi.pingpong.cycles", (t1 - t0) / iters);
	}
	irq_disable();
	expect(pings == (uint64_t)reps * iters && pongs == pings, "%lu pings, %lu pongs, "
	       "sent %lu", pings, pongs, (uint64_t)reps * iters);
	require(cpus[1].fault_vector < 0, "CPU 1 took exception %d", cpus[1].fault_vector);
}

static volatile uint64_t woke, woke_tsc, halting;

static void on_wake(struct trap_frame *f)
{
	(void)f;
	woke_tsc = rdtsc();
	woke++;
	apic_eoi();
}

/* On CPU 1: announce the HLT, then halt until the wake-up IPI. */
static void halt_once(void *arg)
{
	uint64_t want = woke + 1;

	(void)arg;
	irq_disable();
	halting = 1;
	while (woke != want)
		safe_halt();
	irq_disable();
	halting = 0;
}

TEST(hlt_wake)
{
	unsigned r, i, spin;
	uint64_t sum, t_send;

	need(2);
	irq_install(VEC_WAKE, on_wake);
	woke = 0;
	for (r = 0; r < reps; r++) {
		sum = 0;
		for (i = 0; i < iters; i++) {
			smp_call(1, halt_once, 0);
			if (wait_eq(&halting, 1, SMP_TIMEOUT) < 0)
				test_abort("sample %u, round %u: CPU 1 did not get to HLT", r, i);
			/* Let it reach the HLT itself. */
			for (spin = 0; spin < 200; spin++)
				spin_relax();
			t_send = rdtsc();
			ipi_send(1, VEC_WAKE);
			if (smp_wait(1, SMP_TIMEOUT) < 0)
				test_abort("sample %u, round %u: CPU 1 was not woken", r, i);
			require(woke_tsc > t_send, "CPU 1's TSC is behind the BSP's");
			sum += woke_tsc - t_send;
		}
		test_info("ipi.hlt_wake.cycles", sum / iters);
	}
	expect(woke == (uint64_t)reps * iters, "%lu wake-ups for %lu IPIs", woke,
	       (uint64_t)reps * iters);
}
