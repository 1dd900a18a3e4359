/*
 * A VM: its configuration, memory, vCPUs, buses and lifecycle.
 */
#ifndef HYVE_VM_H
#define HYVE_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "kmod/hv.h"
#include "vmm/bus.h"
#include "vmm/config.h"
#include "vmm/exit_log.h"
#include "vmm/mem.h"
#include "vmm/stats.h"

/* hyve's exit statuses (odd values come from the guest's debug-exit port). */
enum {
	HYVE_EXIT_POWEROFF = 0,
	HYVE_EXIT_HALTED = 2,       /* every vCPU halted with interrupts off */
	HYVE_EXIT_TRIPLEFAULT = 4,
	HYVE_EXIT_GUESTERR = 6,     /* emulation failure, access outside memory */
	HYVE_EXIT_USAGE = 64,
	HYVE_EXIT_INTERNAL = 70,
};

struct vm;
struct pci_bus;

/* A request run on a vCPU's own thread between two runs (register access
 * from the control socket, NMI injection, ...). */
struct vcpu_call {
	int (*fn)(struct vcpu *vcpu, void *arg);
	void *arg;
	int result;
	bool done;
	struct vcpu_call *next;
};

struct vcpu {
	struct vm *vm;
	int id;
	struct hv_vcpu *hv;
	pthread_t thread;
	atomic_bool thread_started;
	atomic_bool in_run;             /* inside KVM_RUN (watchdog reads) */
	atomic_ulong nexits;            /* bumped on every exit */
	unsigned long watch_seen;       /* watchdog's last look at nexits */
	atomic_bool halt_check;         /* watchdog asks: are you stuck in HLT? */
	bool dead_halted;               /* halted with IF=0 */
	int host_cpu;                   /* pinned to, or -1 */
	int ipi_fd;                     /* IPIs sent (hv_ipi_counter), or -errno */
	uint64_t ipi_base;              /* counted by earlier threads (resets) */
	/* requests from other threads */
	pthread_mutex_t call_lock;
	pthread_cond_t call_cond;
	struct vcpu_call *calls;
	struct vcpu_stats stats;
	uint64_t last_rip;              /* for reports */
	struct exit_note exit_log[EXIT_LOG_LEN];  /* vCPU thread only */
};

enum vm_state { VM_RUNNING, VM_SUSPENDED, VM_STOPPING };

/* Device instances hook into reset and destroy. */
struct vm_hook {
	bool on_reset;                  /* else: on destroy */
	void (*fn)(void *arg);
	void *arg;
};
#define VM_MAX_HOOKS 128

struct vm {
	struct vm_config cfg;
	struct hv_vm *hv;
	struct guest_mem mem;
	struct bus pio, mmio;
	int ncpus;
	struct vcpu *vcpus;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum vm_state state;
	bool reset_requested;
	int stop_signal;                /* the signal that stopped it, or 0 */
	int exit_status;                /* valid once state == VM_STOPPING */
	char exit_reason[160];

	struct pci_bus *pci;            /* devices/pci/pcibus.h */
	struct vm_hook hooks[VM_MAX_HOOKS];
	int nhooks;

	/* test-result tallies */
	atomic_uint tests_passed, tests_failed, tests_skipped;
};

/* Lifecycle. */
int vm_create(struct vm **out, const struct vm_config *cfg);
int vm_run(struct vm *vm);              /* returns the exit status */
void vm_destroy(struct vm *vm);

/* Ask the VM to stop with status; the first caller's reason wins. */
void vm_request_stop(struct vm *vm, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void vm_request_reset(struct vm *vm);
int vm_suspend(struct vm *vm);
int vm_resume(struct vm *vm);
bool vm_stopping(struct vm *vm);
/* A device asks to be told of a reset (on_reset) or of the VM's end. */
int vm_add_hook(struct vm *vm, bool on_reset, void (*fn)(void *), void *arg);
/* Zeroed device state freed with the VM. */
void *vm_dev_alloc(struct vm *vm, size_t size);

/* Run fn on the vCPU's thread (the vCPU is out of the guest meanwhile) and
 * return its result; fails with -ESRCH once the VM is stopping. */
int vcpu_call(struct vcpu *vcpu, int (*fn)(struct vcpu *, void *), void *arg);
void vcpu_kick(struct vcpu *vcpu);
/* Pin to a host CPU (-1: any); applies now if the thread runs. */
int vcpu_set_affinity(struct vcpu *vcpu, int host_cpu);
/* A fixed interrupt with vector through the vCPU's local APIC; >0 when
 * delivered, 0 when the APIC refused it, or -errno. */
int vcpu_interrupt(struct vcpu *vcpu, uint8_t vector);

/* vcpu.c */
int vcpu_start(struct vcpu *vcpu);
void vcpu_join(struct vcpu *vcpu);
void vcpu_signal_setup(void);

#endif
