/*
 * A VM's lifecycle: create (memory, module VM, irqchip, devices, kernel,
 * vCPUs), run (vCPU threads plus a watchdog), stop, reset and destroy.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devices/device.h"
#include "vmm/acpi.h"
#include "vmm/control.h"
#include "vmm/cpuid.h"
#include "vmm/loader.h"
#include "vmm/log.h"
#include "vmm/exit_log.h"
#include "vmm/vm.h"

#define WATCHDOG_MS 100
/* Rounds in a row in which every vCPU must be seen halted with interrupts
 * off before the VM is declared stuck.  One round is not enough: a Linux
 * guest waiting for a paravirtual spinlock halts with interrupts off and
 * is woken by another vCPU's KICK_CPU hypercall inside the module, with no
 * exit to user space, so two vCPUs can each be caught halted in turn while
 * the guest still makes progress. */
#define WATCHDOG_DEAD_ROUNDS 10

bool
vm_stopping(struct vm *vm)
{
	return __atomic_load_n(&vm->state, __ATOMIC_ACQUIRE) == VM_STOPPING;
}

static void
kick_all(struct vm *vm)
{
	for (int i = 0; i < vm->ncpus; i++)
		vcpu_kick(&vm->vcpus[i]);
}

void
vm_request_stop(struct vm *vm, int status, const char *fmt, ...)
{
	pthread_mutex_lock(&vm->lock);
	if (vm->state != VM_STOPPING) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(vm->exit_reason, sizeof(vm->exit_reason), fmt, ap);
		va_end(ap);
		vm->exit_status = status;
		__atomic_store_n(&vm->state, VM_STOPPING, __ATOMIC_RELEASE);
		pthread_cond_broadcast(&vm->cond);
	}
	pthread_mutex_unlock(&vm->lock);
	kick_all(vm);
}

void
vm_request_reset(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	if (vm->state != VM_STOPPING) {
		vm->reset_requested = true;
		__atomic_store_n(&vm->state, VM_STOPPING, __ATOMIC_RELEASE);
		pthread_cond_broadcast(&vm->cond);
	}
	pthread_mutex_unlock(&vm->lock);
	kick_all(vm);
}

int
vm_suspend(struct vm *vm)
{
	int r = 0;
	pthread_mutex_lock(&vm->lock);
	if (vm->state == VM_RUNNING)
		__atomic_store_n(&vm->state, VM_SUSPENDED, __ATOMIC_RELEASE);
	else if (vm->state == VM_STOPPING)
		r = -ESRCH;
	pthread_mutex_unlock(&vm->lock);
	if (r == 0)
		kick_all(vm);
	return r;
}

int
vm_resume(struct vm *vm)
{
	int r = 0;
	pthread_mutex_lock(&vm->lock);
	if (vm->state == VM_SUSPENDED) {
		__atomic_store_n(&vm->state, VM_RUNNING, __ATOMIC_RELEASE);
		pthread_cond_broadcast(&vm->cond);
	} else if (vm->state == VM_STOPPING) {
		r = -ESRCH;
	}
	pthread_mutex_unlock(&vm->lock);
	return r;
}

static int
create_devices(struct vm *vm, char *err, size_t errlen)
{
	for (const struct device_emul *const *p = device_first();
	    p < device_end(); p++) {
		const struct device_emul *d = *p;
		if (d->kind == DEV_BUILTIN ||
		    (d->kind == DEV_TEST && !vm->cfg.no_testdevs)) {
			int r = d->init(vm, NULL, err, errlen);
			if (r < 0)
				return r;
		}
	}
	for (int i = 0; i < vm->cfg.ndevs; i++) {
		const struct dev_config *dc = &vm->cfg.devs[i];
		const struct device_emul *d = device_find(dc->emul);
		bool want_pci = dc->slot[0] != '\0';
		if (d == NULL || d->kind == DEV_BUILTIN || d->kind == DEV_TEST ||
		    (d->kind == DEV_PCI) != want_pci) {
			snprintf(err, errlen, "unknown %s device '%s'",
			    want_pci ? "PCI (-s)" : "LPC (-l)", dc->emul);
			return -ENOENT;
		}
		int r = d->init(vm, dc, err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

static int
setup_vcpus(struct vm *vm, char *err, size_t errlen)
{
	for (int i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		int r = cpuid_setup(v, &vm->cfg);
		if (r < 0) {
			snprintf(err, errlen, "vCPU %d: cannot set CPUID: %s", i,
			    strerror(-r));
			return r;
		}
	}
	return 0;
}

static int
load_and_boot(struct vm *vm, char *err, size_t errlen)
{
	struct boot_state bs;
	int r = acpi_build(vm);
	if (r < 0) {
		snprintf(err, errlen, "cannot write the ACPI tables: %s",
		    strerror(-r));
		return r;
	}
	r = load_kernel(vm, &bs, err, errlen);
	if (r < 0)
		return r;
	r = boot_setup_bsp(vm, &bs);
	if (r < 0)
		snprintf(err, errlen, "cannot set the boot vCPU's registers: %s",
		    strerror(-r));
	return r;
}

/* Signals are taken by the main thread (sigtimedwait) and the vCPU kick;
 * block them before any thread (vCPU or device worker) exists, so every
 * thread inherits the mask. */
static void
block_signals(void)
{
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
}

int
vm_create(struct vm **out, const struct vm_config *cfg)
{
	char err[300] = "";
	block_signals();
	struct vm *vm = calloc(1, sizeof(*vm));
	if (vm == NULL)
		return -ENOMEM;
	vm->cfg = *cfg;
	vm->ncpus = cfg->ncpus;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");
	vm->mem.fd = -1;

	int r = hv_vm_create(&vm->hv);
	if (r < 0) {
		snprintf(err, sizeof(err), "cannot create a VM in /dev/kvm: %s",
		    strerror(-r));
		goto fail;
	}
	r = mem_create(&vm->mem, mem_node_dir(), cfg->name, cfg->mem_size,
	    cfg->mem_ondemand, err, sizeof(err));
	if (r < 0)
		goto fail;
	r = mem_map_into(&vm->mem, vm->hv);
	if (r < 0) {
		snprintf(err, sizeof(err), "cannot map guest memory: %s",
		    strerror(-r));
		goto fail;
	}
	r = hv_vm_create_irqchip(vm->hv);
	if (r < 0) {
		snprintf(err, sizeof(err), "cannot create the in-kernel "
		    "interrupt controller: %s", strerror(-r));
		goto fail;
	}
	vm->vcpus = calloc((size_t)vm->ncpus, sizeof(*vm->vcpus));
	if (vm->vcpus == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	for (int i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		v->vm = vm;
		v->id = i;
		v->host_cpu = cfg->pin[i];
		v->ipi_fd = -EBADF;
		pthread_mutex_init(&v->call_lock, NULL);
		pthread_cond_init(&v->call_cond, NULL);
		r = hv_vcpu_create(vm->hv, i, &v->hv);
		if (r < 0) {
			snprintf(err, sizeof(err), "cannot create vCPU %d: %s", i,
			    strerror(-r));
			goto fail;
		}
	}
	r = setup_vcpus(vm, err, sizeof(err));
	if (r < 0)
		goto fail;
	r = create_devices(vm, err, sizeof(err));
	if (r < 0)
		goto fail;
	r = load_and_boot(vm, err, sizeof(err));
	if (r < 0)
		goto fail;
	*out = vm;
	return 0;
fail:
	if (err[0])
		pr_err("%s", err);
	else
		pr_err("cannot create VM %s: %s", cfg->name, strerror(-r));
	vm_destroy(vm);
	return r;
}

/* Every vCPU halted with interrupts off (or waiting for a start-up IPI
 * that nobody can send), WATCHDOG_DEAD_ROUNDS rounds in a row: nothing can
 * wake the VM. */
static void
watchdog(struct vm *vm, int *dead_rounds)
{
	int dead = 0;
	for (int i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (!atomic_load(&v->thread_started)) {
			dead++;         /* only a running vCPU can start it */
			continue;
		}
		unsigned long n = atomic_load(&v->nexits);
		if (n != v->watch_seen) {
			v->watch_seen = n;
			v->dead_halted = false;
			continue;
		}
		if (atomic_load(&v->in_run) && !atomic_load(&v->halt_check)) {
			atomic_store(&v->halt_check, true);
			vcpu_kick(v);
		}
		dead += v->dead_halted;
	}
	*dead_rounds = dead == vm->ncpus ? *dead_rounds + 1 : 0;
	if (*dead_rounds >= WATCHDOG_DEAD_ROUNDS)
		vm_request_stop(vm, HYVE_EXIT_HALTED, "all vCPUs halted with "
		    "interrupts disabled (vCPU 0 at rip 0x%" PRIx64 ")",
		    vm->vcpus[0].last_rip);
}

/* The main thread: waits for a stop, serves signals and the watchdog. */
static void
main_loop(struct vm *vm)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	struct timespec tick = { 0, WATCHDOG_MS * 1000000L };
	int dead_rounds = 0;
	while (!vm_stopping(vm)) {
		int sig = sigtimedwait(&set, NULL, &tick);
		if (sig > 0) {
			vm->stop_signal = sig;
			vm_request_stop(vm, 128 + sig, "stopped by signal %d", sig);
			break;
		}
		if (__atomic_load_n(&vm->state, __ATOMIC_ACQUIRE) == VM_RUNNING)
			watchdog(vm, &dead_rounds);
		else
			dead_rounds = 0;
	}
}

/* With INIT/SIPI every vCPU gets its thread now (an AP waits in the module
 * for its start-up IPI); with direct start only the BSP does, and an AP's
 * thread is created when the guest starts it (vmm/smp.c). */
static int
start_vcpus(struct vm *vm)
{
	int n = vm->cfg.ap_direct ? 1 : vm->ncpus;
	for (int i = 0; i < n; i++) {
		int r = vcpu_start(&vm->vcpus[i]);
		if (r < 0) {
			vm_request_stop(vm, HYVE_EXIT_INTERNAL, "cannot start vCPU "
			    "%d thread: %s", i, strerror(-r));
			return r;
		}
	}
	return 0;
}

static void
join_vcpus(struct vm *vm)
{
	kick_all(vm);
	for (int i = 0; i < vm->ncpus; i++)
		vcpu_join(&vm->vcpus[i]);
}

/* A reset reloads the kernel into zeroed memory, puts every vCPU back in
 * its power-on state and runs the devices' reset hooks. */
static int
do_reset(struct vm *vm)
{
	char err[300] = "";
	memset(vm->mem.lo, 0, vm->mem.lo_size);
	if (vm->mem.hi)
		memset(vm->mem.hi, 0, vm->mem.hi_size);
	for (int i = 0; i < vm->nhooks; i++)
		if (vm->hooks[i].on_reset)
			vm->hooks[i].fn(vm->hooks[i].arg);
	for (int i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		struct hv_sregs s;
		int r = hv_vcpu_get_sregs(v->hv, &s);
		if (r == 0) {
			s.apic_base = 0xfee00000ull | (1u << 11) | (i == 0 ? 1u << 8 : 0);
			r = hv_vcpu_set_sregs(v->hv, &s);
		}
		if (r == 0)
			r = hv_vcpu_set_mp_state(v->hv, i == 0 ? HV_MP_RUNNABLE :
			    HV_MP_UNINITIALIZED);
		if (r < 0) {
			pr_err("reset: vCPU %d: %s", i, strerror(-r));
			return r;
		}
	}
	int r = load_and_boot(vm, err, sizeof(err));
	if (r < 0)
		pr_err("reset: %s", err);
	return r;
}

void *
vm_dev_alloc(struct vm *vm, size_t size)
{
	void *p = calloc(1, size);
	if (p != NULL && vm_add_hook(vm, false, free, p) < 0) {
		free(p);
		p = NULL;
	}
	return p;
}

int
vm_add_hook(struct vm *vm, bool on_reset, void (*fn)(void *), void *arg)
{
	if (vm->nhooks == VM_MAX_HOOKS)
		return -ENOSPC;
	vm->hooks[vm->nhooks++] = (struct vm_hook){ on_reset, fn, arg };
	return 0;
}

/* After a stop by signal (a user's, or a test's time limit), at -v: where
 * each vCPU was, so that a guest that hung can be told apart from one
 * that was busy.  The vCPU threads have left the module (and been joined);
 * a vCPU that never entered it (an AP not yet started directly) has
 * nothing to say. */
static void
report_vcpus(struct vm *vm)
{
	if (log_verbosity < LOG_INFO)
		return;
	char event[40];
	snprintf(event, sizeof(event), "stopped by signal %d", vm->stop_signal);
	for (int i = 0; i < vm->ncpus; i++)
		if (stat_read(&vm->vcpus[i].stats.runs) > 0)
			exit_log_report(&vm->vcpus[i], LOG_INFO, event, false);
}

int
vm_run(struct vm *vm)
{
	block_signals();
	vcpu_signal_setup();

	if (control_start(vm) < 0 && !vm_stopping(vm))
		pr_warn("control socket unavailable; hyvectl cannot reach %s",
		    vm->cfg.name);
	for (;;) {
		if (start_vcpus(vm) == 0)
			main_loop(vm);
		join_vcpus(vm);
		if (vm->stop_signal)
			report_vcpus(vm);
		if (!vm->reset_requested)
			break;
		pr_info("guest reset");
		vm->reset_requested = false;
		if (do_reset(vm) < 0) {
			vm->exit_status = HYVE_EXIT_INTERNAL;
			snprintf(vm->exit_reason, sizeof(vm->exit_reason),
			    "reset failed");
			break;
		}
		pthread_mutex_lock(&vm->lock);
		__atomic_store_n(&vm->state, VM_RUNNING, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&vm->lock);
	}
	control_stop(vm);
	fflush(stdout);
	return vm->exit_status;
}

void
vm_destroy(struct vm *vm)
{
	if (vm == NULL)
		return;
	if (vm->vcpus) {
		for (int i = 0; i < vm->ncpus; i++) {
			struct vcpu *v = &vm->vcpus[i];
			hv_vcpu_destroy(v->hv);
			if (v->ipi_fd >= 0)
				close(v->ipi_fd);
			pthread_mutex_destroy(&v->call_lock);
			pthread_cond_destroy(&v->call_cond);
		}
		free(vm->vcpus);
	}
	for (int i = vm->nhooks - 1; i >= 0; i--)
		if (!vm->hooks[i].on_reset)
			vm->hooks[i].fn(vm->hooks[i].arg);
	mem_destroy(&vm->mem);
	hv_vm_destroy(vm->hv);
	bus_fini(&vm->pio);
	bus_fini(&vm->mmio);
	pthread_mutex_destroy(&vm->lock);
	pthread_cond_destroy(&vm->cond);
	free(vm);
}
