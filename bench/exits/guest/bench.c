/*
 * bench/exits guest: times each exit kind from inside the VM with RDTSC.
 *
 * The command line (vmm/abi.h boot info) says what to run:
 *   iters=N    iterations per repetition (same for every exit kind)
 *   warmup=N   untimed iterations before the first repetition
 *   reps=N     timed repetitions per exit kind
 *   tests=a,b  any of cpuid, pio, mmio, hlt, in that order of listing
 * For every repetition the guest sends two hyve-testresult INFO reports:
 * "exits.KIND.begin" (value: repetition number) just before the timed loop
 * and "exits.KIND.cycles" (value: TSC cycles of the whole loop) just after,
 * so the host can time the same loop by the arrival of the two lines.  A
 * wrong answer from the VMM, an exception or a bad command line is a FAIL
 * report and debug-exit status 1; success is debug-exit status 0.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/abi.h"

#define IPI_VECTOR      0x40
#define SPURIOUS_VECTOR 0xff
#define MSR_APIC_BASE   0x1b
#define APIC_BASE_EXTD  (1u << 10)
#define APIC_BASE_EN    (1u << 11)
#define MSR_X2APIC_SVR  0x80f
#define MSR_X2APIC_SELF_IPI 0x83f
#define PIO_PATTERN     0x5a3cc3a5u
#define MMIO_PATTERN    0x68797665u
#define MAX_ITERS       100000000ull
#define MAX_REPS        1000ull

void bench_main(uint64_t bootinfo, uint64_t magic);
void bench_exception(uint64_t vector, const uint64_t *frame);
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);

extern volatile uint64_t ipi_count;
extern const char exc_stubs[];
extern const char ipi_entry[], spurious_entry[];

/* gcc may emit calls to these even when freestanding. */
void *
memset(void *d, int c, size_t n)
{
	uint8_t *p = d;
	while (n--)
		*p++ = (uint8_t)c;
	return d;
}

void *
memcpy(void *d, const void *s, size_t n)
{
	uint8_t *p = d;
	const uint8_t *q = s;
	while (n--)
		*p++ = *q++;
	return d;
}

static inline void
outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint32_t
inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint64_t
rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void
wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v),
	    "d"((uint32_t)(v >> 32)) : "memory");
}

static inline void
cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d)
	    : "a"(leaf), "c"(0));
}

/* RDTSC fenced on both sides so the timed loop stays between the reads. */
static inline uint64_t
tsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi) : :
	    "memory");
	return ((uint64_t)hi << 32) | lo;
}

static __attribute__((noreturn)) void
guest_exit(uint32_t code)
{
	outl(HYVE_PORT_DEBUG_EXIT, code);
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* Small string helpers for report names and messages. */
static size_t
slen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

static void
sappend(char *buf, size_t cap, const char *s)
{
	size_t n = slen(buf);
	while (*s && n + 1 < cap)
		buf[n++] = *s++;
	buf[n] = '\0';
}

static void
sappend_u64(char *buf, size_t cap, uint64_t v, unsigned base)
{
	char tmp[24];
	int i = 0;
	do {
		tmp[i++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v != 0);
	char out[24];
	int j = 0;
	if (base == 16) {
		out[j++] = '0';
		out[j++] = 'x';
	}
	while (i > 0)
		out[j++] = tmp[--i];
	out[j] = '\0';
	sappend(buf, cap, out);
}

static struct hyve_test_report rep;

static void
report(uint32_t status, const char *name, const char *msg, uint64_t value)
{
	rep.magic = HYVE_TR_MAGIC;
	rep.status = status;
	rep.name = (uint64_t)(uintptr_t)name;
	rep.message = msg != NULL ? (uint64_t)(uintptr_t)msg : 0;
	rep.value = value;
	__asm__ volatile("" : : : "memory");
	outl(HYVE_PORT_TESTRESULT, (uint32_t)(uintptr_t)&rep);
	if (inl(HYVE_PORT_TESTRESULT) != HYVE_TRE_OK)
		guest_exit(2);          /* the VMM refused the report */
}

static void
fail(const char *name, const char *msg)
{
	report(HYVE_TR_FAIL, name, msg, 0);
	guest_exit(1);
}

void
bench_exception(uint64_t vector, const uint64_t *frame)
{
	static char msg[96];
	msg[0] = '\0';
	sappend(msg, sizeof(msg), "exception vector ");
	sappend_u64(msg, sizeof(msg), vector, 10);
	sappend(msg, sizeof(msg), " error ");
	sappend_u64(msg, sizeof(msg), frame[0], 16);
	sappend(msg, sizeof(msg), " rip ");
	sappend_u64(msg, sizeof(msg), frame[1], 16);
	fail("exits.exception", msg);
}

/* The IDT: exceptions, the self-IPI vector and the spurious vector. */
struct gate {
	uint16_t off0, sel;
	uint8_t ist, attr;
	uint16_t off1;
	uint32_t off2, zero;
};
static struct gate idt[256] __attribute__((aligned(16)));

static void
set_gate(int vec, const void *fn)
{
	uint64_t a = (uint64_t)(uintptr_t)fn;
	idt[vec] = (struct gate){
		.off0 = (uint16_t)a, .sel = 0x08, .ist = 0, .attr = 0x8e,
		.off1 = (uint16_t)(a >> 16), .off2 = (uint32_t)(a >> 32),
	};
}

static void
idt_setup(void)
{
	for (int i = 0; i < 32; i++)
		set_gate(i, exc_stubs + 16 * i);
	set_gate(IPI_VECTOR, ipi_entry);
	set_gate(SPURIOUS_VECTOR, spurious_entry);
	struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} d = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
	__asm__ volatile("lidt %0" : : "m"(d));
}

/* The timed loops.  Each returns how many answers were wrong. */
static uint64_t
loop_cpuid(uint64_t n)
{
	uint64_t bad = 0;
	for (uint64_t i = 0; i < n; i++) {
		uint32_t a, b, c, d;
		cpuid(0, &a, &b, &c, &d);
		bad += a == 0;
	}
	return bad;
}

static uint64_t
loop_pio(uint64_t n)
{
	uint64_t bad = 0;
	for (uint64_t i = 0; i < n; i++)
		bad += inl(HYVE_PORT_LOOP_REG) != PIO_PATTERN;
	return bad;
}

static uint64_t
loop_mmio(uint64_t n)
{
	volatile uint32_t *p = (volatile uint32_t *)(uintptr_t)HYVE_SCRATCH_MMIO;
	uint64_t bad = 0;
	for (uint64_t i = 0; i < n; i++)
		bad += *p != MMIO_PATTERN;
	return bad;
}

/* Self-IPI with interrupts off, then STI; HLT: the HLT exits and is woken
 * by the pending IPI, whose handler EOIs and returns after the HLT. */
static uint64_t
loop_hlt(uint64_t n)
{
	uint64_t before = ipi_count;
	for (uint64_t i = 0; i < n; i++) {
		wrmsr(MSR_X2APIC_SELF_IPI, IPI_VECTOR);
		__asm__ volatile("sti; hlt; cli" : : : "memory");
	}
	uint64_t got = ipi_count - before;
	return got > n ? got - n : n - got;
}

static void
prep_pio(void)
{
	outl(HYVE_PORT_LOOP_REG, PIO_PATTERN);
	if (inl(HYVE_PORT_LOOP_REG) != PIO_PATTERN)
		fail("exits.pio", "loopback register did not keep the pattern");
}

static void
prep_mmio(void)
{
	*(volatile uint32_t *)(uintptr_t)HYVE_SCRATCH_MMIO = MMIO_PATTERN;
}

static void
prep_hlt(void)
{
	uint32_t a, b, c, d;
	cpuid(1, &a, &b, &c, &d);
	if (!(c & (1u << 21)))
		fail("exits.hlt", "CPUID reports no x2APIC");
	wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_BASE_EN |
	    APIC_BASE_EXTD);
	wrmsr(MSR_X2APIC_SVR, 0x100 | SPURIOUS_VECTOR);
}

struct exit_kind {
	const char *name;
	void (*prep)(void);
	uint64_t (*loop)(uint64_t);
};

static const struct exit_kind kinds[] = {
	{ "cpuid", NULL, loop_cpuid },
	{ "pio", prep_pio, loop_pio },
	{ "mmio", prep_mmio, loop_mmio },
	{ "hlt", prep_hlt, loop_hlt },
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))
#define MAX_SELECTED 16

struct params {
	uint64_t iters, warmup, reps;
	int sel[MAX_SELECTED];
	int nsel;
};

static bool
parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (n == 0 || n > 12)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

static bool
streq_n(const char *a, size_t n, const char *b)
{
	if (slen(b) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

static bool
parse_tests(const char *s, size_t n, struct params *p)
{
	p->nsel = 0;
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && s[j] != ',')
			j++;
		size_t k;
		for (k = 0; k < NKINDS; k++)
			if (streq_n(s + i, j - i, kinds[k].name))
				break;
		if (k == NKINDS || p->nsel == MAX_SELECTED)
			return false;
		p->sel[p->nsel++] = (int)k;
		i = j + 1;
	}
	return p->nsel > 0;
}

static void
parse_cmdline(const char *cl, size_t len, struct params *p)
{
	size_t i = 0;
	while (i < len) {
		while (i < len && cl[i] == ' ')
			i++;
		size_t start = i, eq = 0;
		while (i < len && cl[i] != ' ') {
			if (cl[i] == '=' && eq == 0)
				eq = i;
			i++;
		}
		if (i == start)
			break;
		if (eq == 0)
			fail("exits.cmdline", "expected key=value");
		const char *k = cl + start, *v = cl + eq + 1;
		size_t kn = eq - start, vn = i - eq - 1;
		bool ok;
		if (streq_n(k, kn, "iters"))
			ok = parse_u64(v, vn, MAX_ITERS, &p->iters) && p->iters > 0;
		else if (streq_n(k, kn, "warmup"))
			ok = parse_u64(v, vn, MAX_ITERS, &p->warmup);
		else if (streq_n(k, kn, "reps"))
			ok = parse_u64(v, vn, MAX_REPS, &p->reps) && p->reps > 0;
		else if (streq_n(k, kn, "tests"))
			ok = parse_tests(v, vn, p);
		else
			fail("exits.cmdline", "unknown key (iters, warmup, reps, tests)");
		if (!ok)
			fail("exits.cmdline", "bad value");
	}
}

static void
run_kind(const struct exit_kind *k, const struct params *p)
{
	static char begin[48], cycles[48], msg[96];
	begin[0] = cycles[0] = '\0';
	sappend(begin, sizeof(begin), "exits.");
	sappend(begin, sizeof(begin), k->name);
	sappend(cycles, sizeof(cycles), begin);
	sappend(begin, sizeof(begin), ".begin");
	sappend(cycles, sizeof(cycles), ".cycles");

	if (k->prep)
		k->prep();
	uint64_t bad = k->loop(p->warmup);
	for (uint64_t r = 0; r < p->reps && bad == 0; r++) {
		report(HYVE_TR_INFO, begin, NULL, r);
		uint64_t t0 = tsc();
		bad = k->loop(p->iters);
		uint64_t t1 = tsc();
		if (t1 <= t0)
			fail(cycles, "TSC did not advance over the loop");
		if (bad == 0)
			report(HYVE_TR_INFO, cycles, NULL, t1 - t0);
	}
	if (bad != 0) {
		msg[0] = '\0';
		sappend_u64(msg, sizeof(msg), bad, 10);
		sappend(msg, sizeof(msg), " wrong answers from the VMM");
		fail(cycles, msg);
	}
}

void
bench_main(uint64_t bootinfo, uint64_t magic)
{
	idt_setup();
	const struct hyve_bootinfo *bi =
	    (const struct hyve_bootinfo *)(uintptr_t)bootinfo;
	if (magic != HYVE_BOOT_MAGIC || bi->magic != HYVE_BOOT_MAGIC)
		fail("exits.boot", "no hyve boot information");
	if (bi->cmdline_len >= HYVE_BOOT_CMDLINE_MAX ||
	    bi->cmdline >= bi->mem_lo || bi->mem_lo - bi->cmdline < bi->cmdline_len)
		fail("exits.boot", "command line outside RAM");

	struct params p = { .iters = 10000, .warmup = 1000, .reps = 5 };
	for (size_t i = 0; i < NKINDS; i++)
		p.sel[p.nsel++] = (int)i;
	parse_cmdline((const char *)(uintptr_t)bi->cmdline, bi->cmdline_len, &p);

	report(HYVE_TR_INFO, "exits.iters", NULL, p.iters);
	report(HYVE_TR_INFO, "exits.warmup", NULL, p.warmup);
	report(HYVE_TR_INFO, "exits.reps", NULL, p.reps);
	for (int i = 0; i < p.nsel; i++)
		run_kind(&kinds[p.sel[i]], &p);
	report(HYVE_TR_INFO, "exits.done", NULL, (uint64_t)p.nsel);
	guest_exit(0);
}
