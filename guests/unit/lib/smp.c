/* Application processors: bring-up, per-CPU data, work hand-off, IPIs. */
#include <stddef.h>
#include "apic.h"
#include "idt.h"
#include "smp.h"
#include "string.h"
#include "test.h"
#include "x86.h"

_Static_assert(sizeof(struct cpu) == 128, "smp_tramp.S indexes cpus[] by 128");
_Static_assert(offsetof(struct cpu, stack_top) == 8, "smp_tramp.S reads stack_top at 8");

struct cpu cpus[SMP_MAX_CPUS];
static uint8_t ap_stacks[SMP_MAX_CPUS][SMP_STACK_SIZE] __attribute__((aligned(4096)));
static unsigned bsp_index;
static volatile int smp_ready;
static volatile uint64_t n_online;

extern const char smp_tramp_start[], smp_tramp_end[];
extern const char tramp_cr3[], tramp_cr4[], tramp_efer[];

void smp_ap_main(uint64_t index, uint64_t method);

static void wake_handler(struct trap_frame *f)
{
	(void)f;
	apic_eoi();
}

static void set_gs(struct cpu *c)
{
	c->self = c;
	wrmsr(MSR_GS_BASE, (uint64_t)(uintptr_t)c);
}

unsigned smp_ncpus(void)
{
	return boot_info.ncpus < SMP_MAX_CPUS ? boot_info.ncpus : SMP_MAX_CPUS;
}

unsigned smp_online(void)
{
	return (unsigned)n_online;
}

unsigned smp_cpu_index(void)
{
	return smp_ready ? this_cpu()->index : 0;
}

void smp_init(void)
{
	struct cpu *c;

	apic_init();
	irq_install(SMP_VEC_WAKE, wake_handler);
	if (smp_ready)
		return;
	bsp_index = apic_id();
	if (bsp_index >= SMP_MAX_CPUS) {
		printf("BSP APIC ID %u is beyond %u CPUs\n", bsp_index, SMP_MAX_CPUS);
		unit_exit(2);
	}
	c = &cpus[bsp_index];
	c->index = bsp_index;
	c->apic_id = bsp_index;
	c->stack_top = 0;
	c->fault_vector = -1;
	c->online = 1;
	c->online_tsc = rdtsc();
	set_gs(c);
	n_online = 1;
	smp_ready = 1;
}

int smp_method_from_cmdline(enum smp_method *m)
{
	char v[16];

	if (!cmdline_get("ap", v, sizeof(v)))
		return 0;
	if (!strcmp(v, "sipi"))
		*m = SMP_SIPI;
	else if (!strcmp(v, "direct"))
		*m = SMP_DIRECT;
	else
		return -1;
	return 1;
}

void ipi_raw(uint32_t low, uint32_t dest)
{
	if (apic_x2()) {
		wrmsr(MSR_X2APIC_BASE + (APIC_ICR >> 4), ((uint64_t)dest << 32) | low);
		return;
	}
	apic_write(APIC_ICR2, dest << 24);
	apic_write(APIC_ICR, low);
	while (apic_read(APIC_ICR) & ICR_PENDING)
		spin_relax();
}

int wait_eq(const volatile uint64_t *p, uint64_t want, uint64_t timeout_cycles)
{
	uint64_t t0 = rdtsc();

	while (*p != want) {
		if (rdtsc() - t0 > timeout_cycles)
			return -1;
		spin_relax();
	}
	return 0;
}

int wait_eq_hlt(const volatile uint64_t *p, uint64_t want, uint64_t timeout_cycles)
{
	uint64_t t0 = rdtsc();
	uint64_t flags = read_rflags();

	for (;;) {
		irq_disable();
		if (*p == want)
			break;
		if (rdtsc() - t0 > timeout_cycles) {
			if (flags & X86_RFLAGS_IF)
				irq_enable();
			return -1;
		}
		safe_halt();
	}
	if (flags & X86_RFLAGS_IF)
		irq_enable();
	return 0;
}

int smp_exception(uint64_t vector, uint64_t error, uint64_t rip)
{
	struct cpu *c;

	if (!smp_ready)
		return 0;
	c = this_cpu();
	if (c->index == bsp_index)
		return 0;
	c->fault_error = error;
	c->fault_rip = rip;
	__atomic_store_n(&c->fault_vector, (int)vector, __ATOMIC_RELEASE);
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* Runs on each AP once it is in 64-bit mode, on its own stack. */
void smp_ap_main(uint64_t index, uint64_t method)
{
	struct cpu *c = &cpus[index];

	set_gs(c);
	idt_load();
	apic_init();
	c->cpuid1_apic_id = cpuid(1).b >> 24;
	c->cpuid_b_x2apic_id = cpuid_count(0xb, 0).d;
	c->cpuid_1f_x2apic_id = cpuid(0).a >= 0x1f ? cpuid_count(0x1f, 0).d : 0xffffffffu;
	c->lapic_id_reg = apic_read(APIC_ID);
	c->apic_id = apic_id();
	c->method = (uint32_t)method;
	c->online_tsc = rdtsc();
	__atomic_store_n(&c->online, 1, __ATOMIC_RELEASE);
	__atomic_fetch_add(&n_online, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		uint64_t req;

		irq_disable();
		req = __atomic_load_n(&c->seq_req, __ATOMIC_ACQUIRE);
		if (req != c->seq_done) {
			void (*fn)(void *) = c->fn;
			void *arg = c->arg;

			irq_enable();
			fn(arg);
			irq_disable();
			__atomic_store_n(&c->seq_done, req, __ATOMIC_RELEASE);
			continue;
		}
		safe_halt();
	}
}

uint32_t smp_direct_start(uint32_t apic_id_, uint64_t entry, uint64_t stack,
			  uint64_t arg, uint64_t cr3)
{
	static struct hyve_ap_start req __attribute__((aligned(64)));

	req.magic = HYVE_APSTART_MAGIC;
	req.apic_id = apic_id_;
	req.entry = entry;
	req.stack = stack;
	req.arg = arg;
	req.cr3 = cr3;
	barrier();
	outl(HYVE_PORT_APSTART, (uint32_t)(uintptr_t)&req);
	return inl(HYVE_PORT_APSTART);
}

static void prepare_trampoline(void)
{
	uint8_t *t = (uint8_t *)(uintptr_t)SMP_TRAMPOLINE;
	size_t n = (size_t)(smp_tramp_end - smp_tramp_start);
	uint32_t cr3 = (uint32_t)read_cr3(), cr4 = (uint32_t)read_cr4();
	uint32_t efer = (uint32_t)rdmsr(MSR_EFER);

	memcpy(t, smp_tramp_start, n);
	memcpy(t + (tramp_cr3 - smp_tramp_start), &cr3, 4);
	memcpy(t + (tramp_cr4 - smp_tramp_start), &cr4, 4);
	memcpy(t + (tramp_efer - smp_tramp_start), &efer, 4);
}

unsigned smp_boot(enum smp_method m, uint64_t timeout_cycles,
		  uint64_t *cycles, uint32_t *err)
{
	unsigned n = smp_ncpus(), i, want = n;
	uint64_t t0, t1;
	uint32_t first_err = 0;

	smp_init();
	for (i = 0; i < n; i++) {
		if (i == bsp_index || cpus[i].online)
			continue;
		cpus[i].index = i;
		cpus[i].self = &cpus[i];
		cpus[i].fault_vector = -1;
		cpus[i].stack_top = ap_stacks[i] + SMP_STACK_SIZE;
	}
	if (m == SMP_SIPI)
		prepare_trampoline();
	barrier();
	t0 = rdtsc();
	if (m == SMP_SIPI) {
		/* INIT to each AP, then two start-up IPIs.  KVM's local APIC
		 * keeps the order of the events, so the waits real hardware
		 * needs between them are left out. */
		for (i = 0; i < n; i++)
			if (i != bsp_index && !cpus[i].online)
				ipi_raw(ICR_INIT | ICR_ASSERT, i);
		for (i = 0; i < n; i++)
			if (i != bsp_index && !cpus[i].online)
				ipi_raw(ICR_STARTUP | ICR_ASSERT | (SMP_TRAMPOLINE >> 12), i);
		for (i = 0; i < n; i++)
			if (i != bsp_index && !cpus[i].online)
				ipi_raw(ICR_STARTUP | ICR_ASSERT | (SMP_TRAMPOLINE >> 12), i);
	} else {
		for (i = 0; i < n; i++) {
			uint32_t st;

			if (i == bsp_index || cpus[i].online)
				continue;
			st = smp_direct_start(i, (uint64_t)(uintptr_t)smp_ap_entry_direct,
					      (uint64_t)(uintptr_t)cpus[i].stack_top, i, read_cr3());
			if (st != HYVE_APS_OK && !first_err)
				first_err = st;
		}
	}
	while (n_online < want && rdtsc() - t0 < timeout_cycles)
		spin_relax();
	t1 = rdtsc();
	if (cycles)
		*cycles = t1 - t0;
	if (err)
		*err = first_err;
	return (unsigned)n_online;
}

void smp_call(unsigned cpu, void (*fn)(void *), void *arg)
{
	struct cpu *c = &cpus[cpu];

	c->fn = fn;
	c->arg = arg;
	__atomic_store_n(&c->seq_req, c->seq_req + 1, __ATOMIC_RELEASE);
	ipi_send(cpu, SMP_VEC_WAKE);
}

int smp_wait(unsigned cpu, uint64_t timeout_cycles)
{
	struct cpu *c = &cpus[cpu];
	uint64_t t0 = rdtsc();

	while (__atomic_load_n(&c->seq_done, __ATOMIC_ACQUIRE) != c->seq_req) {
		if (c->fault_vector >= 0 || rdtsc() - t0 > timeout_cycles)
			return -1;
		spin_relax();
	}
	return 0;
}

unsigned smp_call_all(void (*fn)(void *), void *arg, uint64_t timeout_cycles)
{
	unsigned i, bad = 0;

	for (i = 0; i < SMP_MAX_CPUS; i++)
		if (i != bsp_index && cpus[i].online)
			smp_call(i, fn, arg);
	for (i = 0; i < SMP_MAX_CPUS; i++)
		if (i != bsp_index && cpus[i].online)
			bad += smp_wait(i, timeout_cycles) < 0;
	return bad;
}
