/*
 * Test cases and their reports.  A kernel defines cases with TEST(name);
 * the library runs the ones the command line selects ("case=a,b", default
 * all) in link order, reports each through the hyve-testresult device (or,
 * without it, as "PASS name" / "FAIL name: msg" / "SKIP name: why" console
 * lines), and exits through isa-debug-exit with 0 when none failed, 1
 * otherwise.
 */
#ifndef UNIT_TEST_H
#define UNIT_TEST_H

#include <stdint.h>
#include "vmm/abi.h"
#include "console.h"

struct test_case {
	const char *name;
	void (*fn)(void);
};

#define TEST(n) \
	static void test_##n(void); \
	static const struct test_case tc_##n \
		__attribute__((used, section(".tests"), aligned(8))) = { #n, test_##n }; \
	static void test_##n(void)

/* Boot information: hyve's, or one built from the Multiboot information
 * (ncpus from "ncpus=N" on the command line, else from fw_cfg, else 1). */
extern struct hyve_bootinfo boot_info;
extern const char *boot_cmdline;
int on_hyve(void);              /* the hyve-testresult device answers */
int booted_multiboot(void);

/* Records a failure and goes on; the case fails at its end. */
void test_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Fails the case and leaves it at once. */
void test_abort(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Skips the case (unless it already failed) and leaves it. */
void test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Reports a named figure (HYVE_TR_INFO). */
void test_info(const char *name, uint64_t value);
const char *test_current(void);

/* Ends the VM through isa-debug-exit (hyve/QEMU exit with (code<<1)|1). */
void unit_exit(unsigned code) __attribute__((noreturn));

/* Looks up "key=value" on the command line; copies the value. */
int cmdline_get(const char *key, char *val, unsigned size);
/* The decimal value of key=N; a missing or malformed one fails the test. */
unsigned long cmdline_uint(const char *key);

#define expect(cond, ...) do { if (!(cond)) test_fail(__VA_ARGS__); } while (0)
#define require(cond, ...) do { if (!(cond)) test_abort(__VA_ARGS__); } while (0)
#define expect_eq(a, b) do { \
	uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b); \
	if (a_ != b_) \
		test_fail("%s:%d: %s = 0x%lx, expected %s = 0x%lx", __FILE__, \
			  __LINE__, #a, a_, #b, b_); \
} while (0)

/* A kernel may define this to run before the cases (default: nothing). */
void unit_setup(void);

#endif
