/*
 * Power and reset, as the FADT describes them (vmm/abi.h): the sleep
 * control register powers off on S5 and the keyboard controller's 0xfe
 * command resets the machine.  (The reset register 0xcf9 shares its dword
 * with the PCI configuration address and lives in the host bridge.)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "devices/device.h"
#include "vmm/abi.h"
#include "vmm/log.h"
#include "vmm/vm.h"

static int
sleep_io(struct vcpu *vcpu, uint64_t addr, uint8_t *data, unsigned len,
    bool write, void *opaque)
{
	(void)opaque;
	if (!write) {
		memset(data, 0, len);   /* status: never asleep, never waking */
		return 0;
	}
	if (addr != HYVE_PORT_SLEEP_CTL)
		return 0;               /* writes to status clear nothing */
	uint8_t v = data[0];
	unsigned typ = (v >> 2) & 7;
	if (!(v & HYVE_SLP_EN))
		return 0;
	if (typ == HYVE_SLP_TYP_S5) {
		vm_request_stop(vcpu->vm, HYVE_EXIT_POWEROFF, "guest powered off "
		    "(ACPI S5)");
		return 0;
	}
	pr_warn("vCPU %d: sleep type %u requested; only S5 (off) exists",
	    vcpu->id, typ);
	return 0;
}

static int
kbd_io(struct vcpu *vcpu, uint64_t addr, uint8_t *data, unsigned len,
    bool write, void *opaque)
{
	(void)addr;
	(void)opaque;
	if (!write)
		memset(data, 0xff, len);        /* no i8042 behind it */
	else if (data[0] == 0xfe)
		vm_request_reset(vcpu->vm);
	return 0;
}

static int
pm_init(struct vm *vm, const struct dev_config *dc, char *err, size_t errlen)
{
	(void)dc;
	int r = bus_register(&vm->pio, HYVE_PORT_SLEEP_CTL, 2, sleep_io, NULL,
	    "acpi-sleep");
	if (r == 0)
		r = bus_register(&vm->pio, HYVE_PORT_KBD_CMD, 1, kbd_io, NULL,
		    "kbd-reset");
	if (r < 0)
		snprintf(err, errlen, "power management: %s", strerror(-r));
	return r;
}

static const struct device_emul pm = {
	.name = "pm", .kind = DEV_BUILTIN, .init = pm_init,
};
DEVICE_EMUL(pm);
