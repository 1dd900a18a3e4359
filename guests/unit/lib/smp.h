/*
 * Application processors: per-CPU data and stacks, AP bring-up by either
 * method, work handed to APs, and IPI helpers.
 *
 * A CPU's index is its local APIC ID (hyve and QEMU number them 0..N-1);
 * IDs at or above SMP_MAX_CPUS are not brought up.  Each CPU finds its
 * struct cpu through GS (GS base = &cpus[index]).
 *
 * Bring-up methods:
 *   SMP_SIPI    the architected INIT, start-up IPI, start-up IPI sequence,
 *               sent to each AP by APIC ID.  The AP starts in real mode at
 *               the trampoline (smp_tramp.S, copied to SMP_TRAMPOLINE), which
 *               enters protected mode, then long mode with the BSP's CR3,
 *               CR4 and EFER, and jumps to the kernel.
 *   SMP_DIRECT  hyve's hyve-apstart port (vmm/abi.h, hyve -o ap-start=direct):
 *               the VMM starts the AP in 64-bit mode at the kernel's entry.
 * Either way the AP loads the IDT, enables its local APIC (the BSP's mode),
 * marks itself online and waits with STI; HLT for work (smp_call), which the
 * BSP signals with an IPI at SMP_VEC_WAKE.
 *
 * Code running on an AP must not call the test_* reporting functions: it
 * records what it saw in memory that the BSP checks.  An exception on an AP
 * is recorded in its struct cpu (fault_*) and the AP stops there.
 */
#ifndef UNIT_SMP_H
#define UNIT_SMP_H

#include <stdint.h>

#define SMP_MAX_CPUS   64
#define SMP_STACK_SIZE 0x4000
#define SMP_TRAMPOLINE 0x10000u         /* real-mode entry: SIPI vector 0x10 */
#define SMP_VEC_WAKE   0xf0             /* "look at your mailbox" */

enum smp_method { SMP_SIPI, SMP_DIRECT };

struct cpu {
	struct cpu *self;               /* %gs:0 */
	uint8_t *stack_top;             /* offset 8: smp_tramp.S reads it */
	uint32_t index;                 /* == APIC ID */
	uint32_t apic_id;               /* as the AP read it */
	volatile uint32_t online;
	volatile uint32_t method;       /* how it came up (enum smp_method) */
	volatile uint64_t online_tsc;   /* TSC when it marked itself online */
	/* The mailbox: fn(arg) runs when seq_req moves past seq_done. */
	void (*volatile fn)(void *);
	void *volatile arg;
	volatile uint64_t seq_req, seq_done;
	/* An exception taken on this AP (vector -1: none). */
	volatile int fault_vector;
	volatile uint64_t fault_rip, fault_error;
	/* Startup information the AP gathered (for the BSP's checks). */
	volatile uint32_t cpuid1_apic_id, cpuid_b_x2apic_id, cpuid_1f_x2apic_id;
	volatile uint32_t lapic_id_reg;
} __attribute__((aligned(128)));        /* smp_tramp.S: 128 bytes each */

extern struct cpu cpus[SMP_MAX_CPUS];

/* The calling CPU's data and index. */
static inline struct cpu *this_cpu(void)
{
	struct cpu *c;

	__asm__ volatile("movq %%gs:0, %0" : "=r"(c));
	return c;
}

/* Sets up the BSP's per-CPU data and the wake-up vector; the local APIC is
 * enabled (apic_init).  Idempotent. */
void smp_init(void);
unsigned smp_cpu_index(void);

/*
 * Starts every AP that boot_info.ncpus says exists (up to SMP_MAX_CPUS) by
 * the method given, and waits until each is online or `timeout_cycles` TSC
 * cycles have passed.  Returns the number of CPUs online, the BSP included.
 * *cycles (if not NULL) receives the TSC cycles from the first start signal
 * to the last AP online.  *err (if not NULL) the first hyve-apstart error
 * status, or 0.
 */
unsigned smp_boot(enum smp_method m, uint64_t timeout_cycles,
		  uint64_t *cycles, uint32_t *err);
unsigned smp_ncpus(void);               /* CPUs configured (boot info) */
unsigned smp_online(void);              /* CPUs online, BSP included */
int smp_method_from_cmdline(enum smp_method *m); /* "ap=sipi|direct" */

/* The hyve-apstart request for one AP; returns the port's status. */
uint32_t smp_direct_start(uint32_t apic_id, uint64_t entry, uint64_t stack,
			  uint64_t arg, uint64_t cr3);
extern const char smp_ap_entry_direct[];

/* Runs fn(arg) on CPU `cpu` (an online AP).  smp_call returns at once;
 * smp_wait waits until it has finished (0) or timeout_cycles passed (-1). */
void smp_call(unsigned cpu, void (*fn)(void *), void *arg);
int smp_wait(unsigned cpu, uint64_t timeout_cycles);
/* On every online AP; waits for all.  Returns how many did not finish. */
unsigned smp_call_all(void (*fn)(void *), void *arg, uint64_t timeout_cycles);

/* IPIs.  `dest` is an APIC ID (physical) or a logical destination; the
 * helpers encode ICR for x2APIC or xAPIC and wait for xAPIC's delivery
 * status to clear. */
#define ICR_FIXED      0x000u
#define ICR_LOWPRI     0x100u
#define ICR_NMI        0x400u
#define ICR_INIT       0x500u
#define ICR_STARTUP    0x600u
#define ICR_LOGICAL    0x800u
#define ICR_PENDING    0x1000u
#define ICR_ASSERT     0x4000u
#define ICR_LEVEL      0x8000u
#define ICR_SELF       0x40000u
#define ICR_ALL        0x80000u
#define ICR_ALL_BUT_SELF 0xc0000u
void ipi_raw(uint32_t low, uint32_t dest);
static inline void ipi_send(uint32_t apic_id, unsigned vector)
{
	ipi_raw(ICR_FIXED | ICR_ASSERT | (vector & 0xff), apic_id);
}
static inline void ipi_nmi(uint32_t apic_id)
{
	ipi_raw(ICR_NMI | ICR_ASSERT, apic_id);
}

/* A spin-wait step.  Not PAUSE: under some backends (kvm_pvm) every PAUSE
 * exits to the host and costs microseconds. */
static inline void spin_relax(void)
{
	__asm__ volatile("" ::: "memory");
}

/* Waits until *p == want, or timeout_cycles pass (returns -1). */
int wait_eq(const volatile uint64_t *p, uint64_t want, uint64_t timeout_cycles);
/* The same, halting between checks (interrupts must wake the CPU). */
int wait_eq_hlt(const volatile uint64_t *p, uint64_t want, uint64_t timeout_cycles);

/* Timeouts: cycles of the TSC.  The TSC rate is not known to the guest;
 * these are generous bounds (a ~3 GHz TSC assumed). */
#define CYCLES_PER_MS 3000000ull
#define SMP_TIMEOUT   (20000ull * CYCLES_PER_MS)

/* Called by trap_dispatch for exceptions: on an AP records the fault and
 * stops that CPU (never returns); on the BSP returns 0. */
int smp_exception(uint64_t vector, uint64_t error, uint64_t rip);

static inline void atomic_inc64(volatile uint64_t *p)
{
	__atomic_fetch_add(p, 1, __ATOMIC_SEQ_CST);
}

#endif
