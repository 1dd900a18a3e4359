#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/device.h"
#include "vmm/tests/fakevm.h"

struct vm *
fakevm_new(uint64_t ram, int ncpus)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	if (vm == NULL)
		return NULL;
	vm->mem.lo = calloc(1, ram);
	if (vm->mem.lo == NULL) {
		free(vm);
		return NULL;
	}
	vm->mem.lo_size = vm->mem.size = ram;
	vm->mem.fd = -1;
	vm->ncpus = ncpus;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");
	return vm;
}

int
fakevm_add(struct vm *vm, const char *emul, const char *slot,
    const char *conf, char *err, size_t errlen)
{
	const struct device_emul *d = device_find(emul);
	if (d == NULL) {
		snprintf(err, errlen, "no device %s", emul);
		return -ENOENT;
	}
	struct dev_config dc;
	memset(&dc, 0, sizeof(dc));
	snprintf(dc.emul, sizeof(dc.emul), "%s", emul);
	snprintf(dc.slot, sizeof(dc.slot), "%s", slot ? slot : "");
	snprintf(dc.conf, sizeof(dc.conf), "%s", conf ? conf : "");
	return d->init(vm, &dc, err, errlen);
}

void
fakevm_free(struct vm *vm)
{
	if (vm == NULL)
		return;
	for (int i = vm->nhooks - 1; i >= 0; i--)
		if (!vm->hooks[i].on_reset)
			vm->hooks[i].fn(vm->hooks[i].arg);
	bus_fini(&vm->pio);
	bus_fini(&vm->mmio);
	pthread_mutex_destroy(&vm->lock);
	pthread_cond_destroy(&vm->cond);
	free(vm->mem.lo);
	free(vm);
}
