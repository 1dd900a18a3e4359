/* hyve-scratch-mmio: a 4 KiB MMIO register file for instruction-emulation
 * tests; byte i starts as i & 0xff (vmm/abi.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "devices/device.h"
#include "vmm/abi.h"
#include "vmm/vm.h"

struct scratch {
	pthread_mutex_t lock;
	uint8_t mem[HYVE_SCRATCH_MMIO_LEN];
};

static int
scratch_io(struct vcpu *vcpu, uint64_t addr, uint8_t *data, unsigned len,
    bool write, void *opaque)
{
	(void)vcpu;
	struct scratch *s = opaque;
	uint64_t off = addr - HYVE_SCRATCH_MMIO;
	if (off + len > HYVE_SCRATCH_MMIO_LEN)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	if (write)
		memcpy(s->mem + off, data, len);
	else
		memcpy(data, s->mem + off, len);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static void
scratch_reset(void *arg)
{
	struct scratch *s = arg;
	for (unsigned i = 0; i < HYVE_SCRATCH_MMIO_LEN; i++)
		s->mem[i] = (uint8_t)i;
}

static void
scratch_destroy(void *arg)
{
	pthread_mutex_destroy(&((struct scratch *)arg)->lock);
}

static int
scratch_init(struct vm *vm, const struct dev_config *dc, char *err,
    size_t errlen)
{
	(void)dc;
	struct scratch *s = vm_dev_alloc(vm, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	scratch_reset(s);
	int r = vm_add_hook(vm, false, scratch_destroy, s);
	if (r == 0)
		r = vm_add_hook(vm, true, scratch_reset, s);
	if (r == 0)
		r = bus_register(&vm->mmio, HYVE_SCRATCH_MMIO,
		    HYVE_SCRATCH_MMIO_LEN, scratch_io, s, "hyve-scratch-mmio");
	if (r < 0)
		snprintf(err, errlen, "hyve-scratch-mmio: %s", strerror(-r));
	return r;
}

static const struct device_emul scratch = {
	.name = "hyve-scratch-mmio", .kind = DEV_TEST, .init = scratch_init,
};
DEVICE_EMUL(scratch);
