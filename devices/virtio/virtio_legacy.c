/*
 * The legacy virtio PCI register file (virtio 0.9.5, the spec's "legacy
 * interface"), in I/O BAR0 of a transitional or legacy device:
 *
 *   0x00 host features (32 bits, read-only)   0x04 guest features (32)
 *   0x08 queue PFN (32)                       0x0c queue size (16, r/o)
 *   0x0e queue select (16)                    0x10 queue notify (16)
 *   0x12 device status (8)                    0x13 ISR (8, read to clear)
 *   with MSI-X enabled: 0x14 config vector (16), 0x16 queue vector (16)
 *   then the device configuration (at 0x14, or 0x18 with MSI-X enabled).
 *
 * Values are in the guest's byte order, little-endian on x86.  Only the
 * low 32 feature bits exist here, so VIRTIO_F_VERSION_1 (bit 32) is never
 * offered and a legacy driver never negotiates it; there is no
 * FEATURES_OK step, the features count as written.  A queue's size is
 * the device's (the driver cannot change it); the driver gives one page
 * frame number and the rings follow each other from there in the legacy
 * layout: descriptors, the available ring right after them, the used ring
 * at the next 4096-byte boundary.  A PFN whose rings fall outside guest
 * RAM leaves the queue off and the device in NEEDS_RESET; PFN 0 takes the
 * queue down.  Accesses that are not one whole register read as zero and
 * are ignored when written.
 */
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "devices/pci/pci.h"
#include "devices/virtio/transport.h"
#include "vmm/log.h"

#define LEGACY_ALIGN 4096u

uint16_t
virtio_legacy_device_id(const struct virtio_ops *ops)
{
	switch (ops->device_type) {
	case 1: return 0x1000;          /* network */
	case 2: return 0x1001;          /* block */
	case 3: return 0x1003;          /* console */
	case 4: return 0x1005;          /* entropy */
	default: return (uint16_t)(0x1000 + ops->device_type - 1);
	}
}

uint64_t
virtio_legacy_bar_size(const struct virtio_dev *d)
{
	uint64_t need = VIRTIO_PCI_CONFIG_OFF(true) + d->ops->cfg_size, sz = 32;
	while (sz < need)
		sz <<= 1;
	return sz;
}

/* The rings of a queue of n entries at page frame pfn. */
static void
legacy_rings(struct virtqueue *vq, uint64_t pfn)
{
	uint64_t n = vq->size;
	vq->desc_gpa = pfn * LEGACY_ALIGN;
	vq->avail_gpa = vq->desc_gpa + 16 * n;
	vq->used_gpa = (vq->avail_gpa + 6 + 2 * n + LEGACY_ALIGN - 1) &
	    ~(uint64_t)(LEGACY_ALIGN - 1);
}

/* Take queue q down, keeping its vector; the size stays the device's. */
static void
queue_down(struct virtio_dev *d, struct virtqueue *vq)
{
	uint16_t vec = vq->msix_vector;
	vq_reset(vq);
	vq->msix_vector = vec;
	vq->size = d->queue_max;
}

static void
set_pfn(struct virtio_dev *d, unsigned q, uint32_t pfn)
{
	struct virtqueue *vq = &d->vq[q];
	if ((d->external >> q) & 1) {
		/* vhost has the rings: a reset comes first. */
		pr_warn("%s: queue %u: PFN written while the queue runs in the "
		    "kernel; ignored", d->ops->name, q);
		return;
	}
	queue_down(d, vq);
	if (pfn == 0)
		return;
	legacy_rings(vq, pfn);
	virtio_queue_enable(d, q);
}

/* Guest features: the low 32 bits, only what was offered. */
static void
set_features(struct virtio_dev *d, uint32_t v)
{
	d->driver_features = v & (uint32_t)d->offered;
	for (unsigned i = 0; i < d->nvq; i++) {
		d->vq[i].event_idx = virtio_negotiated(d, VIRTIO_RING_F_EVENT_IDX);
		d->vq[i].indirect = virtio_negotiated(d,
		    VIRTIO_RING_F_INDIRECT_DESC);
	}
}

/* One whole register at off of width len: returns false if there is none. */
static bool
reg_access(struct virtio_dev *d, unsigned off, unsigned len, uint32_t *v,
    bool write, bool msix)
{
	struct virtqueue *vq = d->queue_sel < d->nvq ? &d->vq[d->queue_sel] : NULL;
	unsigned width;
	switch (off) {
	case VIRTIO_PCI_HOST_FEATURES: case VIRTIO_PCI_GUEST_FEATURES:
	case VIRTIO_PCI_QUEUE_PFN:
		width = 4;
		break;
	case VIRTIO_PCI_QUEUE_NUM: case VIRTIO_PCI_QUEUE_SEL:
	case VIRTIO_PCI_QUEUE_NOTIFY:
		width = 2;
		break;
	case VIRTIO_PCI_STATUS: case VIRTIO_PCI_ISR:
		width = 1;
		break;
	case VIRTIO_MSI_CONFIG_VECTOR: case VIRTIO_MSI_QUEUE_VECTOR:
		if (!msix)
			return false;
		width = 2;
		break;
	default:
		return false;
	}
	if (len != width)
		return false;
	uint32_t in = *v;
	*v = 0;
	switch (off) {
	case VIRTIO_PCI_HOST_FEATURES:
		*v = (uint32_t)d->offered;
		break;
	case VIRTIO_PCI_GUEST_FEATURES:
		if (write && !(d->status & VIRTIO_CONFIG_S_DRIVER_OK))
			set_features(d, in);
		*v = (uint32_t)d->driver_features;
		break;
	case VIRTIO_PCI_QUEUE_PFN:
		if (vq && write)
			set_pfn(d, d->queue_sel, in);
		*v = vq && vq->ready ? (uint32_t)(vq->desc_gpa / LEGACY_ALIGN) : 0;
		break;
	case VIRTIO_PCI_QUEUE_NUM:
		*v = vq ? vq->size : 0;
		break;
	case VIRTIO_PCI_QUEUE_SEL:
		if (write)
			d->queue_sel = (uint16_t)in;
		*v = d->queue_sel;
		break;
	case VIRTIO_PCI_QUEUE_NOTIFY:
		if (write)
			(void)virtio_kick(d, (uint16_t)in);
		break;
	case VIRTIO_PCI_STATUS:
		if (write)
			virtio_set_status(d, (uint8_t)in);
		*v = d->status;
		break;
	case VIRTIO_PCI_ISR:
		if (!write)
			*v = virtio_isr_read(d);
		break;
	case VIRTIO_MSI_CONFIG_VECTOR:
		if (write)
			d->msix_config = virtio_vector(d, (uint16_t)in);
		*v = d->msix_config;
		break;
	case VIRTIO_MSI_QUEUE_VECTOR:
		if (vq && write)
			vq->msix_vector = virtio_vector(d, (uint16_t)in);
		*v = vq ? vq->msix_vector : VIRTIO_MSI_NO_VECTOR;
		break;
	}
	return true;
}

void
virtio_legacy_io(struct virtio_dev *d, uint64_t off, uint8_t *data,
    unsigned len, bool write)
{
	bool msix = pci_msix_enabled(d->f);
	uint64_t cfg = VIRTIO_PCI_CONFIG_OFF(msix);
	if (off >= cfg) {
		if (off + len <= cfg + d->ops->cfg_size)
			virtio_cfg_access(d, (unsigned)(off - cfg), data, len,
			    write);
		else if (!write)
			memset(data, 0, len);
		return;
	}
	uint32_t v = 0;
	if (len <= 4)
		memcpy(&v, data, len);
	if (!reg_access(d, (unsigned)off, len, &v, write, msix))
		v = 0;
	if (!write) {
		memset(data, 0, len);
		memcpy(data, &v, len < 4 ? len : 4);
	}
}
