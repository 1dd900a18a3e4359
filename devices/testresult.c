/* hyve-testresult: per-case reports from test kernels (vmm/abi.h).  The
 * report and its strings are guest memory: every address and length is
 * checked, and a bad report is refused with an error code the guest reads
 * back, never followed outside guest RAM. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "devices/device.h"
#include "vmm/abi.h"
#include "vmm/vm.h"

struct testresult {
	uint32_t last_error;
};

/* Copy a NUL-terminated guest string of at most HYVE_TR_STR_MAX bytes. */
static int
guest_string(struct vm *vm, uint64_t gpa, char *out)
{
	for (uint32_t i = 0; i < HYVE_TR_STR_MAX; i++) {
		const char *p = gpa_to_hva(&vm->mem, gpa + i, 1);
		if (p == NULL)
			return HYVE_TRE_ADDR;
		char c = *(volatile const char *)p;
		out[i] = (c == '\n' || c == '\r') ? ' ' : c;
		if (c == '\0')
			return HYVE_TRE_OK;
	}
	return HYVE_TRE_STRING;
}

static uint32_t
take_report(struct vm *vm, uint32_t gpa)
{
	struct hyve_test_report rep;
	const void *p = gpa_to_hva(&vm->mem, gpa, sizeof(rep));
	if (p == NULL)
		return HYVE_TRE_ADDR;
	memcpy(&rep, p, sizeof(rep));
	if (rep.magic != HYVE_TR_MAGIC)
		return HYVE_TRE_MAGIC;
	char name[HYVE_TR_STR_MAX], msg[HYVE_TR_STR_MAX] = "";
	uint32_t e = guest_string(vm, rep.name, name);
	if (e == HYVE_TRE_OK && rep.message != 0)
		e = guest_string(vm, rep.message, msg);
	if (e != HYVE_TRE_OK)
		return e;
	const char *sep = msg[0] ? ": " : "";
	switch (rep.status) {
	case HYVE_TR_PASS:
		atomic_fetch_add(&vm->tests_passed, 1);
		fprintf(stderr, "hyve: test %s: PASS%s%s\n", name, sep, msg);
		break;
	case HYVE_TR_FAIL:
		atomic_fetch_add(&vm->tests_failed, 1);
		fprintf(stderr, "hyve: test %s: FAIL%s%s\n", name, sep, msg);
		break;
	case HYVE_TR_SKIP:
		atomic_fetch_add(&vm->tests_skipped, 1);
		fprintf(stderr, "hyve: test %s: SKIP%s%s\n", name, sep, msg);
		break;
	case HYVE_TR_INFO:
		fprintf(stderr, "hyve: info %s = %" PRIu64 "%s%s\n", name,
		    rep.value, sep, msg);
		break;
	default:
		return HYVE_TRE_STATUS;
	}
	return HYVE_TRE_OK;
}

static int
testresult_io(struct vcpu *vcpu, uint64_t addr, uint8_t *data, unsigned len,
    bool write, void *opaque)
{
	(void)addr;
	struct testresult *t = opaque;
	if (len != 4)
		return -EINVAL;
	if (write) {
		uint32_t gpa;
		memcpy(&gpa, data, 4);
		uint32_t e = take_report(vcpu->vm, gpa);
		__atomic_store_n(&t->last_error, e, __ATOMIC_RELAXED);
		if (e != HYVE_TRE_OK)
			fprintf(stderr, "hyve: testresult: vCPU %d sent a bad "
			    "report at 0x%x (error %u)\n", vcpu->id, gpa, e);
	} else {
		uint32_t e = __atomic_load_n(&t->last_error, __ATOMIC_RELAXED);
		memcpy(data, &e, 4);
	}
	return 0;
}

static int
testresult_init(struct vm *vm, const struct dev_config *dc, char *err,
    size_t errlen)
{
	(void)dc;
	struct testresult *t = vm_dev_alloc(vm, sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	int r = bus_register(&vm->pio, HYVE_PORT_TESTRESULT, 4, testresult_io,
	    t, "hyve-testresult");
	if (r < 0)
		snprintf(err, errlen, "hyve-testresult: %s", strerror(-r));
	return r;
}

static const struct device_emul testresult = {
	.name = "hyve-testresult", .kind = DEV_TEST, .init = testresult_init,
};
DEVICE_EMUL(testresult);
