/* A minimal virtio driver for the device unit tests (see vdrv.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "devices/device.h"
#include "devices/pci/pci.h"
#include "devices/virtio/virtio.h"
#include "vmm/tests/fakevm.h"
#include "vmm/tests/vdrv.h"

#define BAR_CFG 4
#define OFF_DEVICE 0x2000
#define OFF_NOTIFY 0x3000
#define RINGS 0x100000u
#define QSTRIDE 0x8000u

static uint64_t desc_gpa(unsigned q) { return RINGS + q * QSTRIDE; }

/* Legacy: the available ring follows the descriptors, the used ring the
 * available ring at the next 4 KiB. */
static uint64_t
avail_gpa(const struct vdrv *v, unsigned q)
{
	return desc_gpa(q) + (v->legacy ? 16u * v->qsize[q] : 0x2000);
}

static uint64_t
used_gpa(const struct vdrv *v, unsigned q)
{
	if (!v->legacy)
		return desc_gpa(q) + 0x4000;
	return (avail_gpa(v, q) + 6 + 2u * v->qsize[q] + 4095) & ~4095ull;
}

int
vdrv_attach(struct vdrv *v, const char *name, const char *emul,
    const char *conf, char *err, size_t errlen)
{
	memset(v, 0, sizeof(*v));
	struct vm *vm = fakevm_new(VDRV_RAM, 0);
	if (vm == NULL)
		return -1;
	snprintf(vm->cfg.name, sizeof(vm->cfg.name), "%s", name);
	v->vm = vm;
	v->cpu.vm = vm;
	int r = fakevm_add(vm, "hostbridge", NULL, NULL, err, errlen);
	if (r == 0)
		r = fakevm_add(vm, emul, "3", conf, err, errlen);
	if (r < 0)
		return r;
	v->f = pci_lookup(vm, 3, 0);
	if (v->f == NULL)
		return -1;
	v->d = v->f->priv;
	return 0;
}

void
vdrv_detach(struct vdrv *v)
{
	struct vm *vm = v->vm;
	if (vm == NULL)
		return;
	fakevm_free(vm);
	v->vm = NULL;
}

uint8_t *
vdrv_mem(struct vdrv *v, uint64_t gpa)
{
	return v->vm->mem.lo + gpa;
}

static uint64_t
bar_rw(struct vdrv *v, int bar, unsigned off, unsigned len, uint64_t val,
    bool write)
{
	uint8_t data[8];
	memcpy(data, &val, 8);
	v->f->ops->bar_io(&v->cpu, v->f, bar, off, data, len, write);
	uint64_t out = 0;
	memcpy(&out, data, len);
	return out;
}

uint64_t
vdrv_read(struct vdrv *v, unsigned off, unsigned len)
{
	return bar_rw(v, BAR_CFG, off, len, 0, false);
}

void
vdrv_write(struct vdrv *v, unsigned off, unsigned len, uint64_t val)
{
	bar_rw(v, BAR_CFG, off, len, val, true);
}

uint64_t
vdrv_legacy_read(struct vdrv *v, unsigned off, unsigned len)
{
	return bar_rw(v, 0, off, len, 0, false);
}

void
vdrv_legacy_write(struct vdrv *v, unsigned off, unsigned len, uint64_t val)
{
	bar_rw(v, 0, off, len, val, true);
}

uint16_t
vdrv_legacy_queue(struct vdrv *v, unsigned q)
{
	memset(vdrv_mem(v, desc_gpa(q)), 0, QSTRIDE);
	v->legacy = true;
	vdrv_legacy_write(v, VIRTIO_PCI_QUEUE_SEL, 2, q);
	v->qsize[q] = (uint16_t)vdrv_legacy_read(v, VIRTIO_PCI_QUEUE_NUM, 2);
	v->avail_idx[q] = v->used_seen[q] = v->next_desc[q] = 0;
	vdrv_legacy_write(v, VIRTIO_PCI_QUEUE_PFN, 4, desc_gpa(q) / 4096);
	return v->qsize[q];
}

uint64_t
vdrv_cfg_read(struct vdrv *v, unsigned off, unsigned len)
{
	return vdrv_read(v, OFF_DEVICE + off, len);
}

void
vdrv_cfg_write(struct vdrv *v, unsigned off, unsigned len, uint64_t val)
{
	vdrv_write(v, OFF_DEVICE + off, len, val);
}

uint64_t
vdrv_device_features(struct vdrv *v)
{
	vdrv_write(v, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
	uint64_t lo = vdrv_read(v, VIRTIO_PCI_COMMON_DF, 4);
	vdrv_write(v, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
	return lo | vdrv_read(v, VIRTIO_PCI_COMMON_DF, 4) << 32;
}

uint8_t
vdrv_status(struct vdrv *v)
{
	return (uint8_t)vdrv_read(v, VIRTIO_PCI_COMMON_STATUS, 1);
}

bool
vdrv_negotiate(struct vdrv *v, uint64_t features)
{
	vdrv_write(v, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	uint8_t st = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
	vdrv_write(v, VIRTIO_PCI_COMMON_STATUS, 1, st);
	for (unsigned i = 0; i < 2; i++) {
		vdrv_write(v, VIRTIO_PCI_COMMON_GFSELECT, 4, i);
		vdrv_write(v, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)(features >> 32 * i));
	}
	st |= VIRTIO_CONFIG_S_FEATURES_OK;
	vdrv_write(v, VIRTIO_PCI_COMMON_STATUS, 1, st);
	return vdrv_status(v) & VIRTIO_CONFIG_S_FEATURES_OK;
}

void
vdrv_queue(struct vdrv *v, unsigned q, uint16_t size)
{
	memset(vdrv_mem(v, desc_gpa(q)), 0, QSTRIDE);
	v->qsize[q] = size;
	v->avail_idx[q] = v->used_seen[q] = v->next_desc[q] = 0;
	vdrv_write(v, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
	vdrv_write(v, VIRTIO_PCI_COMMON_Q_SIZE, 2, size);
	vdrv_write(v, VIRTIO_PCI_COMMON_Q_DESCLO, 8, desc_gpa(q));
	vdrv_write(v, VIRTIO_PCI_COMMON_Q_AVAILLO, 8, avail_gpa(v, q));
	vdrv_write(v, VIRTIO_PCI_COMMON_Q_USEDLO, 8, used_gpa(v, q));
	vdrv_write(v, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
}

void
vdrv_driver_ok(struct vdrv *v)
{
	vdrv_write(v, VIRTIO_PCI_COMMON_STATUS, 1,
	    vdrv_status(v) | VIRTIO_CONFIG_S_DRIVER_OK);
}

uint16_t
vdrv_add(struct vdrv *v, unsigned q, const struct vbuf *b, unsigned n)
{
	uint16_t size = v->qsize[q];
	uint16_t head = v->next_desc[q];
	uint8_t *table = vdrv_mem(v, desc_gpa(q));
	for (unsigned i = 0; i < n; i++) {
		uint16_t at = (uint16_t)((head + i) % size);
		uint16_t next = (uint16_t)((at + 1) % size);
		uint16_t flags = (uint16_t)((b[i].write ? VRING_DESC_F_WRITE : 0) |
		    (i + 1 < n ? VRING_DESC_F_NEXT : 0));
		memcpy(table + 16 * at, &b[i].gpa, 8);
		memcpy(table + 16 * at + 8, &b[i].len, 4);
		memcpy(table + 16 * at + 12, &flags, 2);
		memcpy(table + 16 * at + 14, &next, 2);
	}
	v->next_desc[q] = (uint16_t)((head + n) % size);
	uint8_t *avail = vdrv_mem(v, avail_gpa(v, q));
	uint16_t idx = v->avail_idx[q];
	memcpy(avail + 4 + 2 * (idx % size), &head, 2);
	v->avail_idx[q] = (uint16_t)(idx + 1);
	__atomic_store_n((uint16_t *)(avail + 2), v->avail_idx[q],
	    __ATOMIC_RELEASE);
	return head;
}

void
vdrv_kick(struct vdrv *v, unsigned q)
{
	if (v->legacy)
		vdrv_legacy_write(v, VIRTIO_PCI_QUEUE_NOTIFY, 2, q);
	else
		vdrv_write(v, OFF_NOTIFY + 4 * q, 2, q);
}

bool
vdrv_used(struct vdrv *v, unsigned q, uint32_t *id, uint32_t *len, int ms)
{
	uint8_t *used = vdrv_mem(v, used_gpa(v, q));
	for (int t = 0; t <= ms; t++) {
		uint16_t idx = __atomic_load_n((uint16_t *)(used + 2),
		    __ATOMIC_ACQUIRE);
		if (idx != v->used_seen[q]) {
			uint8_t *e = used + 4 + 8 * (v->used_seen[q] % v->qsize[q]);
			memcpy(id, e, 4);
			memcpy(len, e + 4, 4);
			v->used_seen[q]++;
			return true;
		}
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	return false;
}
