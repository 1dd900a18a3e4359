/* Test devices reached through the bus as a guest would: the test-result
 * device must refuse every malformed report without reading outside RAM. */
#include <atf-c.h>
#include <stdlib.h>
#include <string.h>

#include "devices/device.h"
#include "vmm/abi.h"
#include "vmm/tests/fakevm.h"
#include "vmm/vm.h"

#define RAM (1u << 20)

static struct vm *
mkvm(const char *dev)
{
	struct vm *vm = fakevm_new(RAM, 0);
	char err[200];
	ATF_REQUIRE(vm != NULL);
	ATF_REQUIRE_EQ(fakevm_add(vm, dev, NULL, NULL, err, sizeof(err)), 0);
	return vm;
}


static uint32_t
submit(struct vm *vm, uint32_t gpa)
{
	struct vcpu v = { .vm = vm, .id = 0 };
	uint8_t d[4];
	memcpy(d, &gpa, 4);
	ATF_REQUIRE_EQ(bus_access(&vm->pio, &v, HYVE_PORT_TESTRESULT, d, 4,
	    true), 0);
	ATF_REQUIRE_EQ(bus_access(&vm->pio, &v, HYVE_PORT_TESTRESULT, d, 4,
	    false), 0);
	uint32_t e;
	memcpy(&e, d, 4);
	return e;
}

static void
put_report(struct vm *vm, uint32_t at, uint32_t status, uint64_t name,
    uint64_t msg)
{
	struct hyve_test_report r = { HYVE_TR_MAGIC, status, name, msg, 0 };
	memcpy(vm->mem.lo + at, &r, sizeof(r));
}

ATF_TC_WITHOUT_HEAD(testresult_reports);
ATF_TC_BODY(testresult_reports, tc)
{
	struct vm *vm = mkvm("hyve-testresult");
	strcpy((char *)vm->mem.lo + 0x2000, "case_one");
	strcpy((char *)vm->mem.lo + 0x2100, "all good");
	put_report(vm, 0x1000, HYVE_TR_PASS, 0x2000, 0x2100);
	ATF_CHECK_EQ(submit(vm, 0x1000), HYVE_TRE_OK);
	ATF_CHECK_EQ(vm->tests_passed, 1);
	put_report(vm, 0x1000, HYVE_TR_FAIL, 0x2000, 0);
	ATF_CHECK_EQ(submit(vm, 0x1000), HYVE_TRE_OK);
	ATF_CHECK_EQ(vm->tests_failed, 1);
	put_report(vm, 0x1000, HYVE_TR_SKIP, 0x2000, 0);
	ATF_CHECK_EQ(submit(vm, 0x1000), HYVE_TRE_OK);
	ATF_CHECK_EQ(vm->tests_skipped, 1);
	fakevm_free(vm);
}

ATF_TC_WITHOUT_HEAD(testresult_bad_reports);
ATF_TC_BODY(testresult_bad_reports, tc)
{
	struct vm *vm = mkvm("hyve-testresult");
	strcpy((char *)vm->mem.lo + 0x2000, "n");
	/* Report outside RAM, or straddling its end. */
	ATF_CHECK_EQ(submit(vm, 0xfff00000u), HYVE_TRE_ADDR);
	ATF_CHECK_EQ(submit(vm, RAM - 8), HYVE_TRE_ADDR);
	/* Bad magic. */
	memset(vm->mem.lo + 0x1000, 0, 64);
	ATF_CHECK_EQ(submit(vm, 0x1000), HYVE_TRE_MAGIC);
	/* Unknown status. */
	put_report(vm, 0x1000, 99, 0x2000, 0);
	ATF_CHECK_EQ(submit(vm, 0x1000), HYVE_TRE_STATUS);
	/* Name outside RAM; message at a huge address. */
	put_report(vm, 0x1000, HYVE_TR_PASS, 0x7fffffffffffull, 0);
	ATF_CHECK_EQ(submit(vm, 0x1000), HYVE_TRE_ADDR);
	put_report(vm, 0x1000, HYVE_TR_PASS, 0x2000, 0xffffffffffffffffull);
	ATF_CHECK_EQ(submit(vm, 0x1000), HYVE_TRE_ADDR);
	/* A name that runs to the end of RAM without a NUL. */
	memset(vm->mem.lo + RAM - 16, 'x', 16);
	put_report(vm, 0x1000, HYVE_TR_PASS, RAM - 16, 0);
	ATF_CHECK_EQ(submit(vm, 0x1000), HYVE_TRE_ADDR);
	/* A name longer than the limit. */
	memset(vm->mem.lo + 0x4000, 'y', 2 * HYVE_TR_STR_MAX);
	put_report(vm, 0x1000, HYVE_TR_PASS, 0x4000, 0);
	ATF_CHECK_EQ(submit(vm, 0x1000), HYVE_TRE_STRING);
	ATF_CHECK_EQ(vm->tests_passed + vm->tests_failed + vm->tests_skipped, 0);
	fakevm_free(vm);
}

ATF_TC_WITHOUT_HEAD(loopback_fifo);
ATF_TC_BODY(loopback_fifo, tc)
{
	struct vm *vm = mkvm("hyve-loopback");
	struct vcpu v = { .vm = vm };
	uint8_t d[4] = { 1, 2, 3, 4 }, o[4];
	ATF_CHECK_EQ(bus_access(&vm->pio, &v, HYVE_PORT_LOOP_FIFO, d, 4, true), 0);
	ATF_CHECK_EQ(bus_access(&vm->pio, &v, HYVE_PORT_LOOP_FIFO, d, 1, true), 0);
	ATF_CHECK_EQ(bus_access(&vm->pio, &v, HYVE_PORT_LOOP_LEVEL, o, 4, false), 0);
	ATF_CHECK_EQ(o[0], 5);
	ATF_CHECK_EQ(bus_access(&vm->pio, &v, HYVE_PORT_LOOP_FIFO, o, 2, false), 0);
	ATF_CHECK(o[0] == 1 && o[1] == 2);
	ATF_CHECK_EQ(bus_access(&vm->pio, &v, HYVE_PORT_LOOP_FIFO, o, 4, false), 0);
	ATF_CHECK(o[0] == 3 && o[1] == 4 && o[2] == 1 && o[3] == 0xff);
	/* Overfill: the FIFO keeps its capacity and drops the rest. */
	for (unsigned i = 0; i < HYVE_LOOP_FIFO_SIZE + 10; i++)
		ATF_REQUIRE_EQ(bus_access(&vm->pio, &v, HYVE_PORT_LOOP_FIFO, d, 1,
		    true), 0);
	ATF_CHECK_EQ(bus_access(&vm->pio, &v, HYVE_PORT_LOOP_LEVEL, o, 4, false), 0);
	uint32_t level;
	memcpy(&level, o, 4);
	ATF_CHECK_EQ(level, HYVE_LOOP_FIFO_SIZE);
	/* A 2-byte access to the 4-byte level port is refused. */
	ATF_CHECK(bus_access(&vm->pio, &v, HYVE_PORT_LOOP_LEVEL, o, 2, false) < 0);
	fakevm_free(vm);
}

ATF_TP_ADD_TCS(tp)
{
	ATF_TP_ADD_TC(tp, testresult_reports);
	ATF_TP_ADD_TC(tp, testresult_bad_reports);
	ATF_TP_ADD_TC(tp, loopback_fifo);
	return atf_no_error();
}
