/*
 * exitfloor: the floor for bench/exits.  The least a VMM can do to run a
 * port-I/O loop: /dev/kvm, one VM, one memory slot, one vCPU entered in
 * long mode as vmm/boot.c enters it (vmm/abi.h), and a KVM_RUN loop that
 * answers IN and OUT on the loopback register and nothing else.  Outside
 * the timed loop it also takes the guest's hyve-testresult reports and its
 * debug-exit write, so the same guest ELF runs here and under hyve.
 * See exitfloor(8).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "kmod/floor/floorlib.h"
#include "vmm/abi.h"

#define MEM_SIZE   (32ull << 20)
#define EXIT_GUESTERR 6
#define EXIT_INTERNAL 70
#define EXIT_USAGE 64

static int kvm_fd = -1, vm_fd = -1, vcpu_fd = -1;
static struct kvm_run *run;

static void
usage(void)
{
	fprintf(stderr, "usage: exitfloor [-N] [-p hostcpu] [-t seconds] "
	    "[-A cmdline] kernel\n");
}

static void
set_cpuid(void)
{
	int n = 256;
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + (size_t)n *
	    sizeof(struct kvm_cpuid_entry2));
	if (c == NULL)
		floor_die(EXIT_INTERNAL, "out of memory");
	c->nent = (uint32_t)n;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0)
		floor_die(EXIT_INTERNAL, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, c) < 0)
		floor_die(EXIT_INTERNAL, "KVM_SET_CPUID2: %s", strerror(errno));
	free(c);
}

/* Host TSC rate against CLOCK_MONOTONIC_RAW over about 100 ms. */
static uint64_t
host_tsc_khz(void)
{
	struct timespec a, b;
	unsigned lo, hi;
	clock_gettime(CLOCK_MONOTONIC_RAW, &a);
	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi));
	uint64_t t0 = ((uint64_t)hi << 32) | lo;
	struct timespec d = { 0, 100000000 };
	nanosleep(&d, NULL);
	clock_gettime(CLOCK_MONOTONIC_RAW, &b);
	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi));
	uint64_t t1 = ((uint64_t)hi << 32) | lo;
	int64_t ns = (int64_t)(b.tv_sec - a.tv_sec) * 1000000000 +
	    (b.tv_nsec - a.tv_nsec);
	return ns > 0 ? (t1 - t0) * 1000000ull / (uint64_t)ns : 0;
}

static void
setup(const char *kernel, const char *cmdline, bool irqchip)
{
	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		floor_die(EXIT_INTERNAL, "/dev/kvm: %s", strerror(errno));
	if (ioctl(kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		floor_die(EXIT_INTERNAL, "/dev/kvm: unexpected API version");
	int run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < (int)sizeof(struct kvm_run))
		floor_die(EXIT_INTERNAL, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
	do {
		vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	} while (vm_fd < 0 && errno == EINTR);
	if (vm_fd < 0)
		floor_die(EXIT_INTERNAL, "KVM_CREATE_VM: %s", strerror(errno));
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0)
		(void)ioctl(vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000ul);
	floor_mem_size = MEM_SIZE;
	floor_mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (floor_mem == MAP_FAILED)
		floor_die(EXIT_INTERNAL, "cannot allocate guest memory: %s",
		    strerror(errno));
	struct kvm_userspace_memory_region slot = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE,
		.userspace_addr = (uint64_t)(uintptr_t)floor_mem,
	};
	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
		floor_die(EXIT_INTERNAL, "KVM_SET_USER_MEMORY_REGION: %s",
		    strerror(errno));
	/* hyve always has the in-kernel irqchip; so does the floor unless -N,
	 * so that both measure the same in-kernel path. */
	if (irqchip && ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		floor_die(EXIT_INTERNAL, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
	vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0ul);
	if (vcpu_fd < 0)
		floor_die(EXIT_INTERNAL, "KVM_CREATE_VCPU: %s", strerror(errno));
	run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
	    vcpu_fd, 0);
	if (run == MAP_FAILED)
		floor_die(EXIT_INTERNAL, "cannot map kvm_run: %s", strerror(errno));
	set_cpuid();
	floor_write_boot_memory(cmdline, 1);
	floor_set_long_mode(vcpu_fd, HYVE_BOOT_PML4, floor_load_elf(kernel),
	    HYVE_BOOT_STACK, HYVE_BOOT_INFO, HYVE_BOOT_MAGIC);
	int khz = ioctl(vcpu_fd, KVM_GET_TSC_KHZ, 0);
	fprintf(stderr, "exitfloor: tsc_khz = %d\n", khz > 0 ? khz : 0);
	fprintf(stderr, "exitfloor: host_tsc_khz = %" PRIu64 "\n",
	    host_tsc_khz());
}

static uint64_t
guest_rip(void)
{
	struct kvm_regs r;
	return ioctl(vcpu_fd, KVM_GET_REGS, &r) == 0 ? r.rip : 0;
}

/* Everything but the loopback register: reports and debug-exit. */
static void
slow_io(uint32_t *tr_status)
{
	uint8_t *d = (uint8_t *)run + run->io.data_offset;
	bool in = run->io.direction == KVM_EXIT_IO_IN;
	uint32_t v;
	if (run->io.size != 4 || run->io.count != 1)
		goto bad;
	if (run->io.port == HYVE_PORT_TESTRESULT) {
		if (in) {
			memcpy(d, tr_status, 4);
		} else {
			memcpy(&v, d, 4);
			*tr_status = floor_take_report(v);
		}
		return;
	}
	if (run->io.port == HYVE_PORT_DEBUG_EXIT && !in) {
		memcpy(&v, d, 4);
		fprintf(stderr, "exitfloor: guest wrote 0x%x to the debug-exit "
		    "port\n", v);
		exit((int)(((v << 1) | 1) & 0xff));
	}
bad:
	floor_die(EXIT_GUESTERR, "unexpected %s of %u bytes (count %u) at port 0x%x, "
	    "rip 0x%" PRIx64, in ? "IN" : "OUT", run->io.size, run->io.count,
	    run->io.port, guest_rip());
}

static __attribute__((noreturn)) void
run_loop(void)
{
	uint32_t reg = 0, tr_status = 0;
	for (;;) {
		if (ioctl(vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			floor_die(EXIT_INTERNAL, "KVM_RUN: %s", strerror(errno));
		}
		if (run->exit_reason == KVM_EXIT_IO &&
		    run->io.port == HYVE_PORT_LOOP_REG && run->io.size == 4 &&
		    run->io.count == 1) {
			uint8_t *d = (uint8_t *)run + run->io.data_offset;
			if (run->io.direction == KVM_EXIT_IO_IN)
				memcpy(d, &reg, 4);
			else
				memcpy(&reg, d, 4);
			continue;
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			slow_io(&tr_status);
			break;
		case KVM_EXIT_SHUTDOWN:
			floor_die(EXIT_GUESTERR, "triple fault, rip 0x%" PRIx64,
			    guest_rip());
		case KVM_EXIT_MMIO:
			floor_die(EXIT_GUESTERR, "MMIO at 0x%llx, which the floor does "
			    "not serve (rip 0x%" PRIx64 ")",
			    (unsigned long long)run->mmio.phys_addr, guest_rip());
		default:
			floor_die(EXIT_GUESTERR, "unexpected exit reason %u, rip 0x%"
			    PRIx64, run->exit_reason, guest_rip());
		}
	}
}

int
main(int argc, char **argv)
{
	floor_prog = "exitfloor";
	const char *cmdline = "";
	bool irqchip = true;
	long cpu = -1, timeout = 300;
	int ch;
	while ((ch = getopt(argc, argv, "A:Np:t:h")) != -1) {
		char *end;
		switch (ch) {
		case 'A':
			cmdline = optarg;
			break;
		case 'N':
			irqchip = false;
			break;
		case 'p':
			cpu = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || cpu < 0 ||
			    cpu >= CPU_SETSIZE)
				floor_die(EXIT_USAGE, "bad host CPU '%s'", optarg);
			break;
		case 't':
			timeout = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || timeout < 1 ||
			    timeout > 86400)
				floor_die(EXIT_USAGE, "bad timeout '%s' (1..86400 s)",
				    optarg);
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
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET((int)cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0)
			floor_die(EXIT_USAGE, "cannot pin to host CPU %ld: %s", cpu,
			    strerror(errno));
	}
	setup(argv[optind], cmdline, irqchip);
	run_loop();
}
