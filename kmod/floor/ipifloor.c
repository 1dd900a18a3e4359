/*
 * ipifloor: the floor for bench/ipi.  The least a VMM can do to run a test
 * kernel with several vCPUs that send each other IPIs: /dev/kvm, one VM,
 * one memory slot, the in-kernel irqchip (which handles IPIs, HLT and
 * INIT/SIPI itself), N vCPUs with the CPUID table the module offers (APIC
 * IDs patched in), the BSP entered in long mode as vmm/boot.c enters it
 * (vmm/abi.h), and one thread per vCPU in a KVM_RUN loop.  In user space it
 * answers only what the guest library needs outside the timed loops:
 * hyve-testresult reports, the debug-exit port, COM1's status register,
 * and, with -d, hyve-apstart (vmm/abi.h) by setting up the AP and only then
 * creating its thread, as hyve -o ap-start=direct does.  See ipifloor(8).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "kmod/floor/floorlib.h"
#include "vmm/abi.h"

#define MAX_VCPUS  64
#define EXIT_GUESTERR 6
#define EXIT_INTERNAL 70
#define EXIT_USAGE 64

struct vcpu {
	int id, fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
};

static int kvm_fd = -1, vm_fd = -1, run_size, ncpus = 1;
static bool direct;
static struct vcpu vcpus[MAX_VCPUS];
static struct kvm_cpuid2 *cpuid_tmpl;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t tr_status, aps_status;

static void
usage(void)
{
	fprintf(stderr, "usage: ipifloor [-c ncpus] [-m MiB] [-d] [-t seconds] "
	    "[-A cmdline] kernel\n");
}

/* The module's CPUID table with this vCPU's APIC ID in leaves 1, 0xb and
 * 0x1f (the guest library finds its per-CPU data by it). */
static void
set_cpuid(struct vcpu *v)
{
	size_t sz = sizeof(*cpuid_tmpl) + cpuid_tmpl->nent *
	    sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = malloc(sz);
	if (c == NULL)
		floor_die(EXIT_INTERNAL, "out of memory");
	memcpy(c, cpuid_tmpl, sz);
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		if (e->function == 1)
			e->ebx = (e->ebx & 0x00ffffffu) | ((uint32_t)v->id << 24);
		if (e->function == 0xb || e->function == 0x1f)
			e->edx = (uint32_t)v->id;
	}
	if (ioctl(v->fd, KVM_SET_CPUID2, c) < 0)
		floor_die(EXIT_INTERNAL, "KVM_SET_CPUID2: %s", strerror(errno));
	free(c);
}

static void *vcpu_thread(void *arg);

static void
start_thread(struct vcpu *v)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int r = pthread_create(&v->thread, NULL, vcpu_thread, v);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0)
		floor_die(EXIT_INTERNAL, "cannot create vCPU %d's thread: %s", v->id,
		    strerror(r));
	v->started = true;
}

/* hyve-apstart, checked as vmm/smp.c checks it. */
static uint32_t
apstart(uint32_t gpa)
{
	struct hyve_ap_start req;
	const void *p = floor_gpa(gpa, sizeof(req));
	if (p == NULL)
		return HYVE_APS_EADDR;
	memcpy(&req, p, sizeof(req));
	if (req.magic != HYVE_APSTART_MAGIC)
		return HYVE_APS_EMAGIC;
	if (!direct)
		return HYVE_APS_EMODE;
	if (req.apic_id == 0 || req.apic_id >= (uint32_t)ncpus)
		return HYVE_APS_EID;
	uint64_t cr3 = req.cr3 ? req.cr3 : HYVE_BOOT_PML4;
	if (floor_gpa(req.entry, 1) == NULL || req.stack < 16 ||
	    floor_gpa(req.stack - 8, 8) == NULL || (cr3 & 0xfff) ||
	    floor_gpa(cr3, 4096) == NULL)
		return HYVE_APS_EADDR;
	struct vcpu *v = &vcpus[req.apic_id];
	if (v->started)
		return HYVE_APS_ESTARTED;
	floor_set_long_mode(v->fd, cr3, req.entry, req.stack, req.arg, req.apic_id);
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
	if (ioctl(v->fd, KVM_SET_MP_STATE, &mp) < 0)
		return HYVE_APS_EFAIL;
	start_thread(v);
	return HYVE_APS_OK;
}

static uint64_t
guest_rip(struct vcpu *v)
{
	struct kvm_regs r;
	return ioctl(v->fd, KVM_GET_REGS, &r) == 0 ? r.rip : 0;
}

static void
handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *d = (uint8_t *)run + run->io.data_offset;
	bool in = run->io.direction == KVM_EXIT_IO_IN;
	uint16_t port = run->io.port;
	uint32_t val = 0;
	if (run->io.count != 1)
		goto bad;
	if (port >= HYVE_PORT_COM1 && port < HYVE_PORT_COM1 + 8 && run->io.size == 1) {
		if (in)
			d[0] = port == HYVE_PORT_COM1 + 5 ? 0x60 : 0;  /* LSR: empty */
		return;
	}
	if (run->io.size != 4)
		goto bad;
	pthread_mutex_lock(&lock);
	if (port == HYVE_PORT_TESTRESULT) {
		if (in) {
			memcpy(d, &tr_status, 4);
		} else {
			memcpy(&val, d, 4);
			tr_status = floor_take_report(val);
		}
	} else if (port == HYVE_PORT_APSTART) {
		if (in) {
			memcpy(d, &aps_status, 4);
		} else {
			memcpy(&val, d, 4);
			aps_status = apstart(val);
		}
	} else if (port == HYVE_PORT_DEBUG_EXIT && !in) {
		memcpy(&val, d, 4);
		fprintf(stderr, "ipifloor: guest wrote 0x%x to the debug-exit port\n", val);
		exit((int)(((val << 1) | 1) & 0xff));
	} else {
		pthread_mutex_unlock(&lock);
		goto bad;
	}
	pthread_mutex_unlock(&lock);
	return;
bad:
	floor_die(EXIT_GUESTERR, "vCPU %d: unexpected %s of %u bytes (count %u) at port "
	    "0x%x, rip 0x%" PRIx64, v->id, in ? "IN" : "OUT", run->io.size,
	    run->io.count, port, guest_rip(v));
}

static void *
vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	for (;;) {
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			floor_die(EXIT_INTERNAL, "vCPU %d: KVM_RUN: %s", v->id, strerror(errno));
		}
		switch (v->run->exit_reason) {
		case KVM_EXIT_IO:
			handle_io(v);
			break;
		case KVM_EXIT_SHUTDOWN:
			floor_die(EXIT_GUESTERR, "vCPU %d: triple fault, rip 0x%" PRIx64,
			    v->id, guest_rip(v));
		case KVM_EXIT_MMIO:
			floor_die(EXIT_GUESTERR, "vCPU %d: MMIO at 0x%llx, which the floor "
			    "does not serve", v->id,
			    (unsigned long long)v->run->mmio.phys_addr);
		default:
			floor_die(EXIT_GUESTERR, "vCPU %d: unexpected exit reason %u, rip 0x%"
			    PRIx64, v->id, v->run->exit_reason, guest_rip(v));
		}
	}
	return NULL;
}

static void
setup(const char *kernel, const char *cmdline)
{
	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		floor_die(EXIT_INTERNAL, "/dev/kvm: %s", strerror(errno));
	if (ioctl(kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		floor_die(EXIT_INTERNAL, "/dev/kvm: unexpected API version");
	run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < (int)sizeof(struct kvm_run))
		floor_die(EXIT_INTERNAL, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
	do {
		vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	} while (vm_fd < 0 && errno == EINTR);
	if (vm_fd < 0)
		floor_die(EXIT_INTERNAL, "KVM_CREATE_VM: %s", strerror(errno));
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0)
		(void)ioctl(vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000ul);
	floor_mem = mmap(NULL, floor_mem_size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (floor_mem == MAP_FAILED)
		floor_die(EXIT_INTERNAL, "cannot allocate guest memory: %s", strerror(errno));
	struct kvm_userspace_memory_region slot = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = floor_mem_size,
		.userspace_addr = (uint64_t)(uintptr_t)floor_mem,
	};
	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
		floor_die(EXIT_INTERNAL, "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
	if (ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		floor_die(EXIT_INTERNAL, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
	int n = 256;
	cpuid_tmpl = calloc(1, sizeof(*cpuid_tmpl) + (size_t)n *
	    sizeof(struct kvm_cpuid_entry2));
	if (cpuid_tmpl == NULL)
		floor_die(EXIT_INTERNAL, "out of memory");
	cpuid_tmpl->nent = (uint32_t)n;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid_tmpl) < 0)
		floor_die(EXIT_INTERNAL, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
	for (int i = 0; i < ncpus; i++) {
		struct vcpu *v = &vcpus[i];
		v->id = i;
		v->fd = ioctl(vm_fd, KVM_CREATE_VCPU, (unsigned long)i);
		if (v->fd < 0)
			floor_die(EXIT_INTERNAL, "KVM_CREATE_VCPU %d: %s", i, strerror(errno));
		v->run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE,
		    MAP_SHARED, v->fd, 0);
		if (v->run == MAP_FAILED)
			floor_die(EXIT_INTERNAL, "cannot map kvm_run: %s", strerror(errno));
		set_cpuid(v);
	}
	floor_write_boot_memory(cmdline, (unsigned)ncpus);
	uint64_t entry = floor_load_elf(kernel);
	floor_set_long_mode(vcpus[0].fd, HYVE_BOOT_PML4, entry, HYVE_BOOT_STACK,
	    HYVE_BOOT_INFO, HYVE_BOOT_MAGIC);
	int khz = ioctl(vcpus[0].fd, KVM_GET_TSC_KHZ, 0);
	fprintf(stderr, "ipifloor: tsc_khz = %d\n", khz > 0 ? khz : 0);
}

static long
num_arg(const char *s, long lo, long hi, const char *what)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v < lo || v > hi)
		floor_die(EXIT_USAGE, "bad %s '%s' (%ld..%ld)", what, s, lo, hi);
	return v;
}

int
main(int argc, char **argv)
{
	floor_prog = "ipifloor";
	floor_mem_size = 128ull << 20;
	const char *cmdline = "";
	long timeout = 300;
	int ch;
	while ((ch = getopt(argc, argv, "A:c:dm:t:h")) != -1) {
		switch (ch) {
		case 'A':
			cmdline = optarg;
			break;
		case 'c':
			ncpus = (int)num_arg(optarg, 1, MAX_VCPUS, "vCPU count");
			break;
		case 'd':
			direct = true;
			break;
		case 'm':
			floor_mem_size = (uint64_t)num_arg(optarg, 16, 3072, "memory size (MiB)") << 20;
			break;
		case 't':
			timeout = num_arg(optarg, 1, 86400, "timeout (s)");
			break;
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		usage();
		return EXIT_USAGE;
	}
	setvbuf(stderr, NULL, _IONBF, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = floor_on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	alarm((unsigned)timeout);
	setup(argv[optind], cmdline);
	/* INIT/SIPI: every AP's thread waits in the module for its start-up
	 * IPI, as under hyve -o ap-start=sipi; direct: only the BSP runs. */
	pthread_mutex_lock(&lock);
	for (int i = 0; i < (direct ? 1 : ncpus); i++)
		start_thread(&vcpus[i]);
	pthread_mutex_unlock(&lock);
	for (;;)
		pause();
}
