#include <stdarg.h>
#include "console.h"
#include "idt.h"
#include "setjmp.h"
#include "string.h"
#include "test.h"
#include "x86.h"

#define MB_BOOT_MAGIC 0x2badb002u
#define MB_INFO_MEM   (1u << 0)
#define MB_INFO_CMDLINE (1u << 2)
#define TR_ABSENT 0xffffffffu
#define CASE_MAX 64

enum { R_PASS, R_FAIL, R_SKIP };

extern const struct test_case __tests_start[], __tests_end[];
extern char __image_start[], __image_end[];

struct hyve_bootinfo boot_info;
const char *boot_cmdline = "";
static char cmdline_copy[HYVE_BOOT_CMDLINE_MAX];
static int have_testresult;
static int multiboot;

static const struct test_case *current;
static struct unit_jmpbuf case_jmp;
static int case_result;
static char case_msg[HYVE_TR_STR_MAX];
static struct hyve_test_report report __attribute__((aligned(8)));

int on_hyve(void) { return have_testresult; }
int booted_multiboot(void) { return multiboot; }
const char *test_current(void) { return current ? current->name : "(setup)"; }

__attribute__((weak)) void unit_setup(void)
{
}

void unit_exit(unsigned code)
{
	outl(HYVE_PORT_DEBUG_EXIT, code);
	/* No debug-exit device: stop here (hyve reports exit status 2). */
	for (;;)
		__asm__ volatile("cli; hlt");
}

unsigned long cmdline_uint(const char *key)
{
	char val[24];
	unsigned long n = 0;

	require(cmdline_get(key, val, sizeof(val)) && val[0], "no %s= on the command line", key);
	for (const char *p = val; *p; p++) {
		require(*p >= '0' && *p <= '9', "%s=%s is not a number", key, val);
		n = n * 10 + (unsigned long)(*p - '0');
	}
	return n;
}

int cmdline_get(const char *key, char *val, unsigned size)
{
	size_t klen = strlen(key);
	const char *p = boot_cmdline;

	while (*p) {
		const char *tok;
		unsigned n = 0;

		while (*p == ' ')
			p++;
		tok = p;
		while (*p && *p != ' ')
			p++;
		if ((size_t)(p - tok) > klen && !strncmp(tok, key, klen) && tok[klen] == '=') {
			for (tok += klen + 1; tok < p && n + 1 < size; tok++)
				val[n++] = *tok;
			if (size)
				val[n] = '\0';
			return 1;
		}
	}
	return 0;
}

static void send_report(uint32_t status, const char *name, const char *msg, uint64_t value)
{
	uint32_t err;

	if (!have_testresult)
		return;
	report.magic = HYVE_TR_MAGIC;
	report.status = status;
	report.name = (uint64_t)(uintptr_t)name;
	report.message = msg && *msg ? (uint64_t)(uintptr_t)msg : 0;
	report.value = value;
	barrier();
	outl(HYVE_PORT_TESTRESULT, (uint32_t)(uintptr_t)&report);
	err = inl(HYVE_PORT_TESTRESULT);
	if (err != HYVE_TRE_OK)
		printf("hyve-testresult rejected the report for %s: error %u\n", name, err);
}

static void record(int result, const char *fmt, va_list ap)
{
	char msg[HYVE_TR_STR_MAX];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (!current) {
		printf("error outside a test case: %s\n", msg);
		unit_exit(2);
	}
	if (case_result == R_FAIL) {
		if (result == R_FAIL)   /* keep the first message, show the rest */
			printf("  also: %s\n", msg);
		return;
	}
	case_result = result;
	memcpy(case_msg, msg, sizeof(case_msg));
}

void test_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	record(R_FAIL, fmt, ap);
	va_end(ap);
}

void test_abort(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	record(R_FAIL, fmt, ap);
	va_end(ap);
	unit_longjmp(&case_jmp, 1);
}

void test_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	record(R_SKIP, fmt, ap);
	va_end(ap);
	unit_longjmp(&case_jmp, 1);
}

void test_info(const char *name, uint64_t value)
{
	printf("INFO %s = %lu\n", name, value);
	send_report(HYVE_TR_INFO, name, 0, value);
}

static int run_case(const struct test_case *t)
{
	static const char *const label[] = { "PASS", "FAIL", "SKIP" };
	static const uint32_t status[] = { HYVE_TR_PASS, HYVE_TR_FAIL, HYVE_TR_SKIP };

	current = t;
	case_result = R_PASS;
	case_msg[0] = '\0';
	if (unit_setjmp(&case_jmp) == 0)
		t->fn();
	irq_disable();
	if (case_msg[0])
		printf("%s %s: %s\n", label[case_result], t->name, case_msg);
	else
		printf("%s %s\n", label[case_result], t->name);
	send_report(status[case_result], t->name, case_msg, 0);
	current = 0;
	return case_result;
}

static const struct test_case *find_case(const char *name, size_t len)
{
	const struct test_case *t;

	for (t = __tests_start; t < __tests_end; t++)
		if (strlen(t->name) == len && !strncmp(t->name, name, len))
			return t;
	return 0;
}

/* QEMU's fw_cfg (hyve has it too): the number of CPUs, or 0. */
static unsigned fwcfg_ncpus(void)
{
	uint8_t sig[4];
	unsigned i, n;

	outw(HYVE_PORT_FWCFG_SEL, HYVE_FWCFG_SIGNATURE);
	for (i = 0; i < 4; i++)
		sig[i] = inb(HYVE_PORT_FWCFG_DATA);
	if (memcmp(sig, "QEMU", 4))
		return 0;
	outw(HYVE_PORT_FWCFG_SEL, HYVE_FWCFG_NB_CPUS);
	n = inb(HYVE_PORT_FWCFG_DATA);
	n |= (unsigned)inb(HYVE_PORT_FWCFG_DATA) << 8;
	return n;
}

static void boot_from_multiboot(uint32_t mbi_addr)
{
	const uint32_t *mbi = (const uint32_t *)(uintptr_t)mbi_addr;
	char val[16];
	unsigned n = 0;
	const char *p;

	multiboot = 1;
	boot_info.magic = HYVE_BOOT_MAGIC;
	boot_info.version = 1;
	boot_info.ncpus = fwcfg_ncpus();
	if (!boot_info.ncpus)
		boot_info.ncpus = 1;
	boot_info.kernel_start = (uintptr_t)__image_start;
	boot_info.kernel_end = (uintptr_t)__image_end;
	if (mbi && (mbi[0] & MB_INFO_MEM))
		boot_info.mem_lo = ((uint64_t)mbi[2] + 1024) * 1024;
	if (mbi && (mbi[0] & MB_INFO_CMDLINE)) {
		boot_info.cmdline = mbi[4];
		boot_info.cmdline_len = (uint32_t)strlen((const char *)(uintptr_t)mbi[4]);
	}
	boot_cmdline = boot_info.cmdline ? (const char *)(uintptr_t)boot_info.cmdline : "";
	if (cmdline_get("ncpus", val, sizeof(val))) {
		for (p = val; *p >= '0' && *p <= '9'; p++)
			n = n * 10 + (unsigned)(*p - '0');
		if (n)
			boot_info.ncpus = n;
	}
}

static void copy_cmdline(void)
{
	size_t n = boot_info.cmdline_len;

	if (!boot_info.cmdline || n >= sizeof(cmdline_copy)) {
		boot_cmdline = "";
		return;
	}
	memcpy(cmdline_copy, (const void *)(uintptr_t)boot_info.cmdline, n);
	cmdline_copy[n] = '\0';
	boot_cmdline = cmdline_copy;
}

/* The legacy PICs: firmware leaves them delivering IRQ 0 (the PIT) at
 * vector 8, which looks like #DF.  Move them to vectors 0x20-0x2f and mask
 * every line; tests use the local APIC. */
static void pic_mask_all(void)
{
	outb(0x20, 0x11);               /* ICW1: edge, cascade, ICW4 */
	outb(0xa0, 0x11);
	outb(0x21, 0x20);               /* ICW2: vector bases */
	outb(0xa1, 0x28);
	outb(0x21, 0x04);               /* ICW3: slave on line 2 */
	outb(0xa1, 0x02);
	outb(0x21, 0x01);               /* ICW4: 8086 mode */
	outb(0xa1, 0x01);
	outb(0x21, 0xff);               /* OCW1: mask all */
	outb(0xa1, 0xff);
}

void unit_main(uint64_t bootinfo, uint32_t magic, uint32_t mbi);

void unit_main(uint64_t bootinfo, uint32_t magic, uint32_t mbi)
{
	const struct test_case *t;
	char sel[HYVE_BOOT_CMDLINE_MAX];
	unsigned failed = 0, ran = 0;

	console_init();
	idt_init();
	pic_mask_all();
	if (magic == HYVE_BOOT_MAGIC && bootinfo) {
		memcpy(&boot_info, (const void *)(uintptr_t)bootinfo, sizeof(boot_info));
		if (boot_info.magic != HYVE_BOOT_MAGIC) {
			printf("bad boot info magic 0x%x\n", boot_info.magic);
			unit_exit(2);
		}
	} else if (magic == MB_BOOT_MAGIC) {
		boot_from_multiboot(mbi);
	} else {
		printf("unknown boot protocol (magic 0x%x)\n", magic);
		unit_exit(2);
	}
	copy_cmdline();
	have_testresult = inl(HYVE_PORT_TESTRESULT) != TR_ABSENT;
	printf("unit: %s entry, %u vCPU(s), %lu MiB, cmdline \"%s\", testresult device %s\n",
	       multiboot ? "multiboot" : "64-bit direct", boot_info.ncpus,
	       boot_info.mem_lo >> 20, boot_cmdline, have_testresult ? "present" : "absent");
	unit_setup();

	if (cmdline_get("case", sel, sizeof(sel))) {
		const char *p = sel;

		while (*p) {
			const char *e = p;

			while (*e && *e != ',')
				e++;
			t = find_case(p, (size_t)(e - p));
			if (t) {
				failed += run_case(t) == R_FAIL;
			} else {
				static char name[HYVE_TR_STR_MAX];
				size_t n = (size_t)(e - p);

				if (n >= sizeof(name))
					n = sizeof(name) - 1;
				memcpy(name, p, n);
				name[n] = '\0';
				printf("FAIL %s: no such case\n", name);
				send_report(HYVE_TR_FAIL, name, "no such case", 0);
				failed++;
			}
			ran++;
			p = *e ? e + 1 : e;
		}
	} else {
		for (t = __tests_start; t < __tests_end; t++, ran++)
			failed += run_case(t) == R_FAIL;
	}
	printf("unit: %u case(s), %u failed\n", ran, failed);
	unit_exit(failed ? 1 : 0);
}
