/*
 * vCPU threads and the run loop.  The loop only runs the vCPU, times the
 * exit, and dispatches it through the exit table; it holds no device code.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmm/exit_log.h"
#include "vmm/exits.h"
#include "vmm/log.h"
#include "vmm/vm.h"

#define SIG_KICK SIGUSR1

static void
kick_handler(int sig)
{
	(void)sig;
}

void
vcpu_signal_setup(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sa.sa_flags = SA_RESTART;       /* KVM_RUN still returns EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIG_KICK, &sa, NULL);
}

static inline uint64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Callers hold call_lock, so the thread cannot be joined meanwhile. */
static void
kick_locked(struct vcpu *v)
{
	if (atomic_load(&v->thread_started))
		hv_vcpu_kick(v->hv, SIG_KICK, (unsigned long)v->thread);
}

void
vcpu_kick(struct vcpu *v)
{
	pthread_mutex_lock(&v->call_lock);
	kick_locked(v);
	pthread_mutex_unlock(&v->call_lock);
}

int
vcpu_call(struct vcpu *v, int (*fn)(struct vcpu *, void *), void *arg)
{
	struct vcpu_call c = { .fn = fn, .arg = arg };
	pthread_mutex_lock(&v->call_lock);
	if (vm_stopping(v->vm) || !v->thread_started) {
		pthread_mutex_unlock(&v->call_lock);
		return -ESRCH;
	}
	c.next = v->calls;
	v->calls = &c;
	kick_locked(v);
	while (!c.done) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&v->call_cond, &v->call_lock, &ts);
		if (!c.done)
			kick_locked(v); /* it may have been between checks */
	}
	pthread_mutex_unlock(&v->call_lock);
	return c.result;
}

/* Run every queued call; with fail set, answer them -ESRCH instead. */
static void
service_calls(struct vcpu *v, bool fail)
{
	pthread_mutex_lock(&v->call_lock);
	while (v->calls != NULL) {
		struct vcpu_call *c = v->calls;
		v->calls = c->next;
		pthread_mutex_unlock(&v->call_lock);
		int r = fail ? -ESRCH : c->fn(v, c->arg);
		pthread_mutex_lock(&v->call_lock);
		c->result = r;
		c->done = true;
	}
	pthread_cond_broadcast(&v->call_cond);
	pthread_mutex_unlock(&v->call_lock);
}

/* Wait while the VM is suspended, still serving calls (register access is
 * what suspend is for). */
static void
wait_while_suspended(struct vcpu *v)
{
	struct vm *vm = v->vm;
	pthread_mutex_lock(&vm->lock);
	while (vm->state == VM_SUSPENDED) {
		pthread_mutex_unlock(&vm->lock);
		service_calls(v, false);
		pthread_mutex_lock(&vm->lock);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (vm->state == VM_SUSPENDED)
			pthread_cond_timedwait(&vm->cond, &vm->lock, &ts);
	}
	pthread_mutex_unlock(&vm->lock);
}

static int
apply_affinity(pthread_t t, int host_cpu)
{
	cpu_set_t set;
	if (host_cpu < 0) {
		if (sched_getaffinity(0, sizeof(set), &set) < 0)
			return -errno;
	} else {
		CPU_ZERO(&set);
		CPU_SET(host_cpu, &set);
	}
	return -pthread_setaffinity_np(t, sizeof(set), &set);
}

int
vcpu_set_affinity(struct vcpu *v, int host_cpu)
{
	pthread_mutex_lock(&v->call_lock);
	int r = 0;
	if (atomic_load(&v->thread_started))
		r = apply_affinity(v->thread, host_cpu);
	if (r == 0)
		v->host_cpu = host_cpu;
	pthread_mutex_unlock(&v->call_lock);
	return r;
}

int
vcpu_interrupt(struct vcpu *v, uint8_t vector)
{
	/* Physical destination = the vCPU's APIC ID (its index). */
	uint64_t addr = 0xfee00000ull | ((uint64_t)(v->id & 0xff) << 12);
	int r = hv_vm_signal_msi(v->vm->hv, addr, vector);
	if (r > 0)
		stat_add(&v->stats.irqs_injected, 1);
	return r;
}

static void *
vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	struct hv_exit e;

	if (v->host_cpu >= 0) {
		int r = apply_affinity(pthread_self(), v->host_cpu);
		if (r < 0)
			pr_warn("vCPU %d: cannot pin to host CPU %d: %s", v->id,
			    v->host_cpu, strerror(-r));
	}
	/* Count the IPIs this vCPU sends: the counter follows a thread, so a
	 * new thread (after a reset) takes over the total of the old one. */
	if (v->ipi_fd >= 0) {
		uint64_t n;
		if (hv_ipi_counter_read(v->ipi_fd, &n) == 0)
			v->ipi_base += n;
		close(v->ipi_fd);
	}
	if (v->ipi_fd != -ENOENT)
		v->ipi_fd = hv_ipi_counter_open((int)gettid());
	sigset_t unblock;
	sigemptyset(&unblock);
	sigaddset(&unblock, SIG_KICK);
	pthread_sigmask(SIG_UNBLOCK, &unblock, NULL);

	uint64_t t_exit = now_ns();
	int prev = -1;
	for (;;) {
		if (vm_stopping(vm))
			break;
		bool calls = __atomic_load_n(&v->calls, __ATOMIC_ACQUIRE) != NULL;
		bool suspended = __atomic_load_n(&vm->state, __ATOMIC_ACQUIRE) ==
		    VM_SUSPENDED;
		if ((calls || suspended) && (prev == HV_EXIT_IO ||
		    prev == HV_EXIT_MMIO)) {
			/* Registers are only consistent once the module has
			 * completed the instruction behind the last exit. */
			(void)hv_vcpu_complete_io(v->hv);
			prev = HV_EXIT_INTR;
		}
		if (calls)
			service_calls(v, false);
		if (suspended)
			wait_while_suspended(v);
		uint64_t t0 = now_ns();
		if (prev >= 0)
			stat_add(&v->stats.exit[prev].ns, t0 - t_exit);
		atomic_store_explicit(&v->in_run, true, memory_order_relaxed);
		int r = hv_vcpu_run(v->hv, &e);
		atomic_store_explicit(&v->in_run, false, memory_order_relaxed);
		t_exit = now_ns();
		stat_add(&v->stats.guest_ns, t_exit - t0);
		stat_add(&v->stats.runs, 1);
		if (r < 0) {
			vm_request_stop(vm, HYVE_EXIT_INTERNAL,
			    "vCPU %d: KVM_RUN failed: %s", v->id, strerror(-r));
			break;
		}
		/* The watchdog's progress counter ignores its own kicks. */
		if (e.kind != HV_EXIT_INTR)
			atomic_fetch_add_explicit(&v->nexits, 1,
			    memory_order_relaxed);
		prev = (int)e.kind;
		stat_add(&v->stats.exit[e.kind].count, 1);
		exit_log_note(v, &e);
		if (exit_handlers[e.kind](v, &e) != 0)
			break;
	}
	service_calls(v, true);
	return NULL;
}

int
vcpu_start(struct vcpu *v)
{
	/* The kick signal must be blocked in every thread but vCPU threads,
	 * which unblock it themselves. */
	pthread_mutex_lock(&v->call_lock);
	int r = pthread_create(&v->thread, NULL, vcpu_thread, v);
	if (r == 0)
		atomic_store(&v->thread_started, true);
	pthread_mutex_unlock(&v->call_lock);
	return -r;
}

void
vcpu_join(struct vcpu *v)
{
	/* The VM is stopping and the thread has been kicked; the kick stays
	 * pending in the module until the thread takes it, so it leaves. */
	pthread_mutex_lock(&v->call_lock);
	bool started = atomic_exchange(&v->thread_started, false);
	pthread_mutex_unlock(&v->call_lock);
	if (started)
		pthread_join(v->thread, NULL);
}
