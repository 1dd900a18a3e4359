/* hyve-apstart: the guest's side of direct AP start-up (vmm/abi.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "devices/device.h"
#include "vmm/abi.h"
#include "vmm/smp.h"
#include "vmm/vm.h"

struct apstart {
	uint32_t status;
};

static int
apstart_io(struct vcpu *vcpu, uint64_t addr, uint8_t *data, unsigned len,
    bool write, void *opaque)
{
	(void)addr;
	struct apstart *a = opaque;
	if (len != 4)
		return -EINVAL;
	if (!write) {
		uint32_t st = __atomic_load_n(&a->status, __ATOMIC_ACQUIRE);
		memcpy(data, &st, 4);
		return 0;
	}
	uint32_t gpa;
	memcpy(&gpa, data, 4);
	struct hyve_ap_start req;
	const void *p = gpa_to_hva(&vcpu->vm->mem, gpa, sizeof(req));
	uint32_t st = HYVE_APS_EADDR;
	if (p != NULL) {
		memcpy(&req, p, sizeof(req));
		st = smp_start_ap(vcpu->vm, &req);
	}
	__atomic_store_n(&a->status, st, __ATOMIC_RELEASE);
	return 0;
}

static int
apstart_init(struct vm *vm, const struct dev_config *dc, char *err,
    size_t errlen)
{
	(void)dc;
	struct apstart *a = vm_dev_alloc(vm, sizeof(*a));
	if (a == NULL)
		return -ENOMEM;
	int r = bus_register(&vm->pio, HYVE_PORT_APSTART, 4, apstart_io, a,
	    "hyve-apstart");
	if (r < 0)
		snprintf(err, errlen, "hyve-apstart: %s", strerror(-r));
	return r;
}

static const struct device_emul apstart = {
	.name = "hyve-apstart", .kind = DEV_BUILTIN, .init = apstart_init,
};
DEVICE_EMUL(apstart);
