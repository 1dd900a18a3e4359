/* isa-debug-exit (QEMU; bhyve's pctestdev): a write of V ends the VM with
 * exit status (V << 1) | 1.  Reads return 0. */
#include <stdio.h>
#include <string.h>

#include "devices/device.h"
#include "vmm/abi.h"
#include "vmm/vm.h"

static int
debugexit_io(struct vcpu *vcpu, uint64_t addr, uint8_t *data, unsigned len,
    bool write, void *opaque)
{
	(void)addr;
	(void)opaque;
	if (!write) {
		memset(data, 0, len);
		return 0;
	}
	uint32_t v = 0;
	memcpy(&v, data, len);
	vm_request_stop(vcpu->vm, (int)(((v << 1) | 1) & 0xff),
	    "guest wrote 0x%x to the debug-exit port", v);
	return 0;
}

static int
debugexit_init(struct vm *vm, const struct dev_config *dc, char *err,
    size_t errlen)
{
	(void)dc;
	int r = bus_register(&vm->pio, HYVE_PORT_DEBUG_EXIT, 4, debugexit_io,
	    NULL, "isa-debug-exit");
	if (r < 0)
		snprintf(err, errlen, "isa-debug-exit: port 0x%x: %s",
		    HYVE_PORT_DEBUG_EXIT, strerror(-r));
	return r;
}

static const struct device_emul debugexit = {
	.name = "isa-debug-exit", .kind = DEV_TEST, .init = debugexit_init,
};
DEVICE_EMUL(debugexit);
