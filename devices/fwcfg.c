/*
 * QEMU's fw_cfg through its port interface (selector 0x510, data 0x511):
 * signature, interface ID, RAM size, CPU counts and a file directory with
 * hyve's own items.  Test kernels and firmware learn the machine's shape
 * from it.  Items are built once when the VM is created.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "devices/device.h"
#include "vmm/abi.h"
#include "vmm/version.h"
#include "vmm/vm.h"

#define FWCFG_FILE_FIRST 0x0020
#define MAX_ITEM 512

struct item {
	uint16_t key;
	uint16_t len;
	uint8_t data[MAX_ITEM];
};

struct fwcfg {
	pthread_mutex_t lock;
	struct item items[8];
	int nitems;
	int cur;                /* selected item index, -1 none */
	uint32_t off;
};

static struct item *
add(struct fwcfg *f, uint16_t key, const void *data, size_t len)
{
	struct item *it = &f->items[f->nitems++];
	it->key = key;
	it->len = (uint16_t)len;
	memcpy(it->data, data, len);
	return it;
}

static void
be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
build(struct fwcfg *f, struct vm *vm)
{
	uint32_t id = 1;
	uint64_t ram = vm->mem.size;
	uint16_t ncpus = (uint16_t)vm->ncpus;
	char ver[32];
	int vlen = snprintf(ver, sizeof(ver), "hyve %s", hyve_version);
	f->nitems = 0;
	add(f, HYVE_FWCFG_SIGNATURE, "QEMU", 4);
	add(f, HYVE_FWCFG_ID, &id, 4);
	add(f, HYVE_FWCFG_RAM_SIZE, &ram, 8);
	add(f, HYVE_FWCFG_NB_CPUS, &ncpus, 2);
	add(f, HYVE_FWCFG_MAX_CPUS, &ncpus, 2);
	add(f, FWCFG_FILE_FIRST, ver, (size_t)vlen);
	/* The directory: count, then {size BE32, select BE16, reserved,
	 * name[56]} per file. */
	uint8_t dir[4 + 64];
	memset(dir, 0, sizeof(dir));
	be32(dir, 1);
	be32(dir + 4, (uint32_t)vlen);
	dir[8] = FWCFG_FILE_FIRST >> 8;
	dir[9] = FWCFG_FILE_FIRST & 0xff;
	strcpy((char *)dir + 12, "etc/hyve/version");
	add(f, HYVE_FWCFG_FILE_DIR, dir, sizeof(dir));
}

static int
fwcfg_io(struct vcpu *vcpu, uint64_t addr, uint8_t *data, unsigned len,
    bool write, void *opaque)
{
	(void)vcpu;
	struct fwcfg *f = opaque;
	pthread_mutex_lock(&f->lock);
	if (addr == HYVE_PORT_FWCFG_SEL && len == 2) {
		if (write) {
			uint16_t key;
			memcpy(&key, data, 2);
			f->cur = -1;
			f->off = 0;
			for (int i = 0; i < f->nitems; i++)
				if (f->items[i].key == key)
					f->cur = i;
		} else {
			uint16_t key = f->cur >= 0 ? f->items[f->cur].key : 0xffff;
			memcpy(data, &key, 2);
		}
	} else if (addr == HYVE_PORT_FWCFG_DATA && !write) {
		/* Past the end of an item, or none selected: zeros. */
		for (unsigned i = 0; i < len; i++) {
			const struct item *it = f->cur >= 0 ? &f->items[f->cur] : NULL;
			data[i] = (it && f->off < it->len) ? it->data[f->off] : 0;
			if (it && f->off < it->len)
				f->off++;
		}
	} else if (write) {
		/* Writes to the data port are ignored, as on QEMU >= 2.4. */
	} else {
		memset(data, 0, len);
	}
	pthread_mutex_unlock(&f->lock);
	return 0;
}

static void
fwcfg_reset(void *arg)
{
	struct fwcfg *f = arg;
	f->cur = -1;
	f->off = 0;
}

static void
fwcfg_destroy(void *arg)
{
	pthread_mutex_destroy(&((struct fwcfg *)arg)->lock);
}

static int
fwcfg_init(struct vm *vm, const struct dev_config *dc, char *err, size_t errlen)
{
	(void)dc;
	struct fwcfg *f = vm_dev_alloc(vm, sizeof(*f));
	if (f == NULL)
		return -ENOMEM;
	pthread_mutex_init(&f->lock, NULL);
	build(f, vm);
	f->cur = -1;
	int r = vm_add_hook(vm, false, fwcfg_destroy, f);
	if (r == 0)
		r = vm_add_hook(vm, true, fwcfg_reset, f);
	if (r == 0)
		r = bus_register(&vm->pio, HYVE_PORT_FWCFG_SEL, 2, fwcfg_io, f,
		    "fw_cfg");
	if (r < 0)
		snprintf(err, errlen, "fw_cfg: %s", strerror(-r));
	return r;
}

static const struct device_emul fwcfg = {
	.name = "fw_cfg", .kind = DEV_BUILTIN, .init = fwcfg_init,
};
DEVICE_EMUL(fwcfg);
