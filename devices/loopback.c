/* hyve-loopback: a FIFO port, a byte-lane register and a level port for
 * port-I/O tests (vmm/abi.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "devices/device.h"
#include "vmm/abi.h"
#include "vmm/vm.h"

struct loopback {
	pthread_mutex_t lock;
	uint8_t fifo[HYVE_LOOP_FIFO_SIZE];
	uint32_t head, count;
	uint8_t reg[4];
};

static void
fifo_io(struct loopback *l, uint8_t *data, unsigned len, bool write)
{
	for (unsigned i = 0; i < len; i++) {
		if (write) {
			if (l->count == HYVE_LOOP_FIFO_SIZE)
				return;         /* full: dropped */
			l->fifo[(l->head + l->count) % HYVE_LOOP_FIFO_SIZE] = data[i];
			l->count++;
		} else if (l->count == 0) {
			data[i] = 0xff;
		} else {
			data[i] = l->fifo[l->head];
			l->head = (l->head + 1) % HYVE_LOOP_FIFO_SIZE;
			l->count--;
		}
	}
}

static int
loopback_io(struct vcpu *vcpu, uint64_t addr, uint8_t *data, unsigned len,
    bool write, void *opaque)
{
	(void)vcpu;
	struct loopback *l = opaque;
	int r = 0;
	pthread_mutex_lock(&l->lock);
	if (addr >= HYVE_PORT_LOOP_FIFO && addr + len <= HYVE_PORT_LOOP_FIFO + 4) {
		fifo_io(l, data, len, write);
	} else if (addr >= HYVE_PORT_LOOP_REG &&
	    addr + len <= HYVE_PORT_LOOP_REG + 4) {
		unsigned off = (unsigned)(addr - HYVE_PORT_LOOP_REG);
		if (write)
			memcpy(l->reg + off, data, len);
		else
			memcpy(data, l->reg + off, len);
	} else if (addr == HYVE_PORT_LOOP_LEVEL && len == 4) {
		if (write)
			l->head = l->count = 0;
		else
			memcpy(data, &l->count, 4);
	} else {
		r = -EINVAL;
	}
	pthread_mutex_unlock(&l->lock);
	return r;
}

static void
loopback_reset(void *arg)
{
	struct loopback *l = arg;
	l->head = l->count = 0;
	memset(l->reg, 0, sizeof(l->reg));
}

static void
loopback_destroy(void *arg)
{
	pthread_mutex_destroy(&((struct loopback *)arg)->lock);
}

static int
loopback_init(struct vm *vm, const struct dev_config *dc, char *err,
    size_t errlen)
{
	(void)dc;
	struct loopback *l = vm_dev_alloc(vm, sizeof(*l));
	if (l == NULL)
		return -ENOMEM;
	pthread_mutex_init(&l->lock, NULL);
	int r = vm_add_hook(vm, false, loopback_destroy, l);
	if (r == 0)
		r = vm_add_hook(vm, true, loopback_reset, l);
	if (r == 0)
		r = bus_register(&vm->pio, HYVE_PORT_LOOP_FIFO, 12, loopback_io,
		    l, "hyve-loopback");
	if (r < 0)
		snprintf(err, errlen, "hyve-loopback: %s", strerror(-r));
	return r;
}

static const struct device_emul loopback = {
	.name = "hyve-loopback", .kind = DEV_TEST, .init = loopback_init,
};
DEVICE_EMUL(loopback);
