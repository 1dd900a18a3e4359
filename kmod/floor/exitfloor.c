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

#include "vmm/abi.h"

#define MEM_SIZE   (32ull << 20)
#define TSS_ADDR   (HYVE_BOOT_GDT + 0x100)
#define EXIT_GUESTERR 6
#define EXIT_INTERNAL 70
#define EXIT_USAGE 64

static uint8_t *mem;
static int kvm_fd = -1, vm_fd = -1, vcpu_fd = -1;
static struct kvm_run *run;

static void
usage(void)
{
	fprintf(stderr, "usage: exitfloor [-N] [-p hostcpu] [-t seconds] "
	    "[-A cmdline] kernel\n");
}

static __attribute__((noreturn, format(printf, 2, 3))) void
die(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "exitfloor: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(status);
}

static void
on_alarm(int sig)
{
	(void)sig;
	static const char m[] = "exitfloor: timed out\n";
	(void)!write(2, m, sizeof(m) - 1);
	_exit(EXIT_INTERNAL);
}

/* Guest-physical range [gpa, gpa+len) inside RAM, or NULL. */
static void *
gpa_ptr(uint64_t gpa, uint64_t len)
{
	if (gpa > MEM_SIZE || len > MEM_SIZE - gpa)
		return NULL;
	return mem + gpa;
}

static void
load_elf(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(EXIT_USAGE, "kernel %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size > (off_t)MEM_SIZE)
		die(EXIT_USAGE, "kernel %s: unusable size", path);
	size_t len = (size_t)st.st_size;
	uint8_t *img = malloc(len);
	if (img == NULL || read(fd, img, len) != (ssize_t)len)
		die(EXIT_USAGE, "kernel %s: cannot read", path);
	close(fd);
	Elf64_Ehdr eh;
	if (len < sizeof(eh))
		die(EXIT_USAGE, "%s: truncated ELF header", path);
	memcpy(&eh, img, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64 ||
	    eh.e_type != ET_EXEC || eh.e_phentsize != sizeof(Elf64_Phdr) ||
	    eh.e_phnum == 0 || eh.e_phnum > 64 || eh.e_phoff > len ||
	    (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff)
		die(EXIT_USAGE, "%s: not an x86-64 ELF executable", path);
	bool entry_ok = false;
	for (int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, img + eh.e_phoff + (size_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (ph.p_offset > len || ph.p_filesz > len - ph.p_offset ||
		    ph.p_filesz > ph.p_memsz)
			die(EXIT_USAGE, "%s: segment %d lies outside the file",
			    path, i);
		uint8_t *dst = gpa_ptr(ph.p_paddr, ph.p_memsz);
		if (dst == NULL || ph.p_paddr < HYVE_BOOT_FREE)
			die(EXIT_USAGE, "%s: segment %d at 0x%" PRIx64 " is outside "
			    "the floor's %llu MiB of RAM", path, i,
			    (uint64_t)ph.p_paddr, MEM_SIZE >> 20);
		memcpy(dst, img + ph.p_offset, ph.p_filesz);
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
		if (eh.e_entry >= ph.p_vaddr &&
		    eh.e_entry - ph.p_vaddr < ph.p_memsz && (ph.p_flags & PF_X))
			entry_ok = ph.p_vaddr == ph.p_paddr;
	}
	if (!entry_ok)
		die(EXIT_USAGE, "%s: entry point 0x%" PRIx64 " is not in an "
		    "identity-mapped executable segment", path,
		    (uint64_t)eh.e_entry);
	free(img);
	struct kvm_regs r;
	memset(&r, 0, sizeof(r));
	r.rip = eh.e_entry;
	r.rflags = 0x2;
	r.rsp = HYVE_BOOT_STACK;
	r.rdi = HYVE_BOOT_INFO;
	r.rsi = HYVE_BOOT_MAGIC;
	if (ioctl(vcpu_fd, KVM_SET_REGS, &r) < 0)
		die(EXIT_INTERNAL, "KVM_SET_REGS: %s", strerror(errno));
}

/* The boot environment of vmm/abi.h: GDT, TSS, identity map, boot info. */
static void
write_boot_state(const char *cmdline)
{
	uint64_t gdt[5] = {
		0, 0x00af9b000000ffffull, 0x00cf93000000ffffull,
		0x00008b0000000067ull | ((uint64_t)(TSS_ADDR & 0xffffff) << 16) |
		    ((uint64_t)(TSS_ADDR >> 24) << 56),
		0,
	};
	memcpy(mem + HYVE_BOOT_GDT, gdt, sizeof(gdt));
	uint64_t *pml4 = (uint64_t *)(mem + HYVE_BOOT_PML4);
	uint64_t *pdpt = pml4 + 512;
	pml4[0] = (HYVE_BOOT_PML4 + 0x1000) | 0x3;
	for (uint64_t i = 0; i < 4; i++) {
		uint64_t *pd = pml4 + 1024 + 512 * i;
		pdpt[i] = (HYVE_BOOT_PML4 + 0x2000 + i * 0x1000) | 0x3;
		for (uint64_t j = 0; j < 512; j++)
			pd[j] = ((i << 30) + (j << 21)) | 0x83;
	}
	size_t cl = strlen(cmdline);
	if (cl >= HYVE_BOOT_CMDLINE_MAX)
		die(EXIT_USAGE, "command line longer than %u bytes",
		    HYVE_BOOT_CMDLINE_MAX - 1);
	memcpy(mem + HYVE_BOOT_CMDLINE, cmdline, cl + 1);
	struct hyve_bootinfo bi = {
		.magic = HYVE_BOOT_MAGIC, .version = 1, .mem_lo = MEM_SIZE,
		.ncpus = 1, .cmdline_len = (uint32_t)cl,
		.cmdline = HYVE_BOOT_CMDLINE,
	};
	memcpy(mem + HYVE_BOOT_INFO, &bi, sizeof(bi));

	struct kvm_sregs s;
	if (ioctl(vcpu_fd, KVM_GET_SREGS, &s) < 0)
		die(EXIT_INTERNAL, "KVM_GET_SREGS: %s", strerror(errno));
	struct kvm_segment code = {
		.base = 0, .limit = 0xffffffff, .selector = 0x08, .type = 0xb,
		.present = 1, .s = 1, .l = 1, .g = 1,
	};
	struct kvm_segment data = code;
	data.selector = 0x10;
	data.type = 0x3;
	data.l = 0;
	data.db = 1;
	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.tr = (struct kvm_segment){ .base = TSS_ADDR, .limit = 0x67,
	    .selector = 0x18, .type = 0xb, .present = 1 };
	s.ldt = (struct kvm_segment){ .type = 0x2, .unusable = 1 };
	s.gdt.base = HYVE_BOOT_GDT;
	s.gdt.limit = 5 * 8 - 1;
	s.idt.base = 0;
	s.idt.limit = 0;
	s.cr0 = 0x80010033ull;          /* PE MP ET NE WP PG */
	s.cr3 = HYVE_BOOT_PML4;
	s.cr4 = 0x620ull;               /* PAE OSFXSR OSXMMEXCPT */
	s.efer = 0xd01ull;              /* SCE LME LMA NXE */
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &s) < 0)
		die(EXIT_INTERNAL, "KVM_SET_SREGS: %s", strerror(errno));
}

static void
set_cpuid(void)
{
	int n = 256;
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + (size_t)n *
	    sizeof(struct kvm_cpuid_entry2));
	if (c == NULL)
		die(EXIT_INTERNAL, "out of memory");
	c->nent = (uint32_t)n;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0)
		die(EXIT_INTERNAL, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, c) < 0)
		die(EXIT_INTERNAL, "KVM_SET_CPUID2: %s", strerror(errno));
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
		die(EXIT_INTERNAL, "/dev/kvm: %s", strerror(errno));
	if (ioctl(kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		die(EXIT_INTERNAL, "/dev/kvm: unexpected API version");
	int run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < (int)sizeof(struct kvm_run))
		die(EXIT_INTERNAL, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
	do {
		vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	} while (vm_fd < 0 && errno == EINTR);
	if (vm_fd < 0)
		die(EXIT_INTERNAL, "KVM_CREATE_VM: %s", strerror(errno));
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0)
		(void)ioctl(vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000ul);
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (mem == MAP_FAILED)
		die(EXIT_INTERNAL, "cannot allocate guest memory: %s",
		    strerror(errno));
	struct kvm_userspace_memory_region slot = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE,
		.userspace_addr = (uint64_t)(uintptr_t)mem,
	};
	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
		die(EXIT_INTERNAL, "KVM_SET_USER_MEMORY_REGION: %s",
		    strerror(errno));
	/* hyve always has the in-kernel irqchip; so does the floor unless -N,
	 * so that both measure the same in-kernel path. */
	if (irqchip && ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		die(EXIT_INTERNAL, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
	vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0ul);
	if (vcpu_fd < 0)
		die(EXIT_INTERNAL, "KVM_CREATE_VCPU: %s", strerror(errno));
	run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
	    vcpu_fd, 0);
	if (run == MAP_FAILED)
		die(EXIT_INTERNAL, "cannot map kvm_run: %s", strerror(errno));
	set_cpuid();
	write_boot_state(cmdline);
	load_elf(kernel);
	int khz = ioctl(vcpu_fd, KVM_GET_TSC_KHZ, 0);
	fprintf(stderr, "exitfloor: tsc_khz = %d\n", khz > 0 ? khz : 0);
	fprintf(stderr, "exitfloor: host_tsc_khz = %" PRIu64 "\n",
	    host_tsc_khz());
}

/* A NUL-terminated guest string of at most HYVE_TR_STR_MAX bytes. */
static bool
guest_string(uint64_t gpa, char *out)
{
	for (uint32_t i = 0; i < HYVE_TR_STR_MAX; i++) {
		const char *p = gpa_ptr(gpa + i, 1);
		if (p == NULL)
			return false;
		out[i] = (*p == '\n' || *p == '\r') ? ' ' : *p;
		if (*p == '\0')
			return true;
	}
	return false;
}

/* A hyve-testresult report, printed as hyve prints it; the status code. */
static uint32_t
take_report(uint32_t gpa)
{
	struct hyve_test_report rep;
	const void *p = gpa_ptr(gpa, sizeof(rep));
	if (p == NULL)
		return HYVE_TRE_ADDR;
	memcpy(&rep, p, sizeof(rep));
	if (rep.magic != HYVE_TR_MAGIC)
		return HYVE_TRE_MAGIC;
	char name[HYVE_TR_STR_MAX], msg[HYVE_TR_STR_MAX] = "";
	if (!guest_string(rep.name, name) ||
	    (rep.message != 0 && !guest_string(rep.message, msg)))
		return HYVE_TRE_STRING;
	const char *sep = msg[0] ? ": " : "";
	switch (rep.status) {
	case HYVE_TR_PASS:
		fprintf(stderr, "exitfloor: test %s: PASS%s%s\n", name, sep, msg);
		break;
	case HYVE_TR_FAIL:
		fprintf(stderr, "exitfloor: test %s: FAIL%s%s\n", name, sep, msg);
		break;
	case HYVE_TR_SKIP:
		fprintf(stderr, "exitfloor: test %s: SKIP%s%s\n", name, sep, msg);
		break;
	case HYVE_TR_INFO:
		fprintf(stderr, "exitfloor: info %s = %" PRIu64 "%s%s\n", name,
		    rep.value, sep, msg);
		break;
	default:
		return HYVE_TRE_STATUS;
	}
	return HYVE_TRE_OK;
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
			*tr_status = take_report(v);
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
	die(EXIT_GUESTERR, "unexpected %s of %u bytes (count %u) at port 0x%x, "
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
			die(EXIT_INTERNAL, "KVM_RUN: %s", strerror(errno));
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
			die(EXIT_GUESTERR, "triple fault, rip 0x%" PRIx64,
			    guest_rip());
		case KVM_EXIT_MMIO:
			die(EXIT_GUESTERR, "MMIO at 0x%llx, which the floor does "
			    "not serve (rip 0x%" PRIx64 ")",
			    (unsigned long long)run->mmio.phys_addr, guest_rip());
		default:
			die(EXIT_GUESTERR, "unexpected exit reason %u, rip 0x%"
			    PRIx64, run->exit_reason, guest_rip());
		}
	}
}

int
main(int argc, char **argv)
{
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
				die(EXIT_USAGE, "bad host CPU '%s'", optarg);
			break;
		case 't':
			timeout = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || timeout < 1 ||
			    timeout > 86400)
				die(EXIT_USAGE, "bad timeout '%s' (1..86400 s)",
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
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	alarm((unsigned)timeout);
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET((int)cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0)
			die(EXIT_USAGE, "cannot pin to host CPU %ld: %s", cpu,
			    strerror(errno));
	}
	setup(argv[optind], cmdline, irqchip);
	run_loop();
}
