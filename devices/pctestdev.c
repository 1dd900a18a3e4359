/* pc-testdev (QEMU; bhyve): a 4-byte scratch port at 0xe0 with byte lanes,
 * 64 KiB of scratch memory at 0xff000000, and interrupt-line ports from
 * 0x2000 (write 1 to raise line N, 0 to lower it). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "devices/device.h"
#include "vmm/abi.h"
#include "vmm/vm.h"

struct pctestdev {
	pthread_mutex_t lock;
	uint8_t port[4];
	uint8_t iomem[HYVE_TESTDEV_IOMEM_LEN];
};

static int
port_io(struct vcpu *vcpu, uint64_t addr, uint8_t *data, unsigned len,
    bool write, void *opaque)
{
	(void)vcpu;
	struct pctestdev *t = opaque;
	unsigned off = (unsigned)(addr - HYVE_PORT_TESTDEV);
	if (off + len > sizeof(t->port))
		return -EINVAL;
	pthread_mutex_lock(&t->lock);
	if (write)
		memcpy(t->port + off, data, len);
	else
		memcpy(data, t->port + off, len);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

static int
iomem_io(struct vcpu *vcpu, uint64_t addr, uint8_t *data, unsigned len,
    bool write, void *opaque)
{
	(void)vcpu;
	struct pctestdev *t = opaque;
	uint64_t off = addr - HYVE_TESTDEV_IOMEM;
	if (off + len > HYVE_TESTDEV_IOMEM_LEN)
		return -EINVAL;
	pthread_mutex_lock(&t->lock);
	if (write)
		memcpy(t->iomem + off, data, len);
	else
		memcpy(data, t->iomem + off, len);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

static int
irq_io(struct vcpu *vcpu, uint64_t addr, uint8_t *data, unsigned len,
    bool write, void *opaque)
{
	(void)opaque;
	if (!write) {
		memset(data, 0, len);
		return 0;
	}
	if (len != 1)
		return -EINVAL;
	uint32_t line = (uint32_t)(addr - HYVE_PORT_TESTDEV_IRQ);
	return hv_vm_irq_line(vcpu->vm->hv, line, data[0] != 0);
}

static void
pctestdev_reset(void *arg)
{
	struct pctestdev *t = arg;
	memset(t->port, 0, sizeof(t->port));
	memset(t->iomem, 0, sizeof(t->iomem));
}

static void
pctestdev_destroy(void *arg)
{
	struct pctestdev *t = arg;
	pthread_mutex_destroy(&t->lock);
}

static int
pctestdev_init(struct vm *vm, const struct dev_config *dc, char *err,
    size_t errlen)
{
	(void)dc;
	struct pctestdev *t = vm_dev_alloc(vm, sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	int r = vm_add_hook(vm, false, pctestdev_destroy, t);
	if (r == 0)
		r = vm_add_hook(vm, true, pctestdev_reset, t);
	if (r == 0)
		r = bus_register(&vm->pio, HYVE_PORT_TESTDEV, 4, port_io, t,
		    "pc-testdev-ioport");
	if (r == 0)
		r = bus_register(&vm->pio, HYVE_PORT_TESTDEV_IRQ,
		    HYVE_TESTDEV_IRQ_LINES, irq_io, t, "pc-testdev-irq-line");
	if (r == 0)
		r = bus_register(&vm->mmio, HYVE_TESTDEV_IOMEM,
		    HYVE_TESTDEV_IOMEM_LEN, iomem_io, t, "pc-testdev-iomem");
	if (r < 0)
		snprintf(err, errlen, "pc-testdev: %s", strerror(-r));
	return r;
}

static const struct device_emul pctestdev = {
	.name = "pc-testdev", .kind = DEV_TEST, .init = pctestdev_init,
};
DEVICE_EMUL(pctestdev);
