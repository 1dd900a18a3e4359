#include "virtio.h"
#include "idt.h"
#include "string.h"
#include "x86.h"
#include "vmm/abi.h"

/* virtio PCI capability types. */
#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR 3
#define CAP_DEVICE 4

#define C8(v, o)  (*(volatile uint8_t *)((v)->common + (o)))
#define C16(v, o) (*(volatile uint16_t *)((v)->common + (o)))
#define C32(v, o) (*(volatile uint32_t *)((v)->common + (o)))
#define C64(v, o) (*(volatile uint64_t *)((v)->common + (o)))

/* The MSI-X table, if the function has one: 0, or -1 if unmappable. */
static int find_msix(struct vdev *v, volatile uint8_t **bars)
{
	unsigned at = pci_find_cap(&v->pci, PCI_CAP_MSIX, 0);
	uint32_t t;

	if (!at)
		return 0;
	t = pci_cfg32(&v->pci, at + 4);
	if (!bars[t & 7])
		bars[t & 7] = pci_map_bar(&v->pci, t & 7);
	if (!bars[t & 7])
		return -1;
	v->msix = (volatile uint32_t *)(bars[t & 7] + (t & ~7u));
	v->msix_n = (pci_cfg16(&v->pci, at + 2) & 0x7ff) + 1u;
	v->msix_cap = at;
	return 0;
}

uint16_t vdev_legacy_id(unsigned type)
{
	switch (type) {
	case VIRTIO_ID_NET: return 0x1000;
	case VIRTIO_ID_BLOCK: return 0x1001;
	case VIRTIO_ID_CONSOLE: return 0x1003;
	case VIRTIO_ID_RNG: return 0x1005;
	default: return (uint16_t)(0x1000 + type - 1);
	}
}

int vdev_find_legacy(struct vdev *v, unsigned type, unsigned index)
{
	volatile uint8_t *bars[6] = { 0 };

	memset(v, 0, sizeof(*v));
	if (pci_find(VIRTIO_VENDOR, vdev_legacy_id(type), index, &v->pci) < 0)
		return -1;
	if (pci_bar_kind(&v->pci, 0) != PCI_BAR_IO)
		return -2;
	v->io = (uint16_t)pci_bar_addr(&v->pci, 0);
	if (!v->io || find_msix(v, bars) < 0)
		return -2;
	pci_enable(&v->pci, PCI_CMD_IO | PCI_CMD_MEMORY | PCI_CMD_MASTER);
	return 0;
}

uint32_t vl_read(struct vdev *v, unsigned off, unsigned len)
{
	uint16_t port = (uint16_t)(v->io + off);

	return len == 1 ? inb(port) : len == 2 ? inw(port) : inl(port);
}

void vl_write(struct vdev *v, unsigned off, unsigned len, uint32_t val)
{
	uint16_t port = (uint16_t)(v->io + off);

	if (len == 1)
		outb(port, (uint8_t)val);
	else if (len == 2)
		outw(port, (uint16_t)val);
	else
		outl(port, val);
}

static int msix_on(struct vdev *v)
{
	return v->msix_cap && (pci_cfg16(&v->pci, v->msix_cap + 2) & 0x8000);
}

int vdev_find(struct vdev *v, unsigned type, unsigned index)
{
	volatile uint8_t *bars[6] = { 0 };
	unsigned at;

	memset(v, 0, sizeof(*v));
	/* A modern device, or else a transitional one (legacy ID and the
	 * modern capabilities). */
	if (pci_find(VIRTIO_VENDOR, (uint16_t)(0x1040 + type), index, &v->pci) < 0 &&
	    pci_find(VIRTIO_VENDOR, vdev_legacy_id(type), index, &v->pci) < 0)
		return -1;
	for (at = pci_find_cap(&v->pci, PCI_CAP_VENDOR, 0); at;
	     at = pci_find_cap(&v->pci, PCI_CAP_VENDOR, at)) {
		uint8_t kind = pci_cfg8(&v->pci, at + 3), bar = pci_cfg8(&v->pci, at + 4);
		uint32_t off = pci_cfg32(&v->pci, at + 8), len = pci_cfg32(&v->pci, at + 12);
		volatile uint8_t *p;

		if (bar > 5)
			return -2;
		if (!bars[bar])
			bars[bar] = pci_map_bar(&v->pci, bar);
		if (!bars[bar])
			return -2;
		p = bars[bar] + off;
		switch (kind) {
		case CAP_COMMON:
			if (!v->common)
				v->common = p;
			break;
		case CAP_NOTIFY:
			if (!v->notify) {
				v->notify = p;
				v->notify_mult = pci_cfg32(&v->pci, at + 16);
			}
			break;
		case CAP_ISR:
			if (!v->isr)
				v->isr = p;
			break;
		case CAP_DEVICE:
			if (!v->device) {
				v->device = p;
				v->device_len = len;
			}
			break;
		}
	}
	if (!v->common || !v->notify || !v->isr || find_msix(v, bars) < 0)
		return -2;
	pci_enable(&v->pci, PCI_CMD_MEMORY | PCI_CMD_MASTER | PCI_CMD_INTX_OFF);
	return 0;
}

uint8_t vdev_status(struct vdev *v)
{
	return v->io ? (uint8_t)vl_read(v, VL_STATUS, 1) : C8(v, VC_STATUS);
}

void vdev_set_status(struct vdev *v, uint8_t s)
{
	if (v->io)
		vl_write(v, VL_STATUS, 1, s);
	else
		C8(v, VC_STATUS) = s;
}

void vdev_reset(struct vdev *v)
{
	vdev_set_status(v, 0);
	/* The reset is done when status reads 0 again. */
	while (vdev_status(v) != 0)
		cpu_relax();
}

uint64_t vdev_device_features(struct vdev *v)
{
	uint64_t f;

	if (v->io)
		return vl_read(v, VL_HOST_FEATURES, 4);
	C32(v, VC_DFSELECT) = 0;
	f = C32(v, VC_DF);
	C32(v, VC_DFSELECT) = 1;
	return f | (uint64_t)C32(v, VC_DF) << 32;
}

int vdev_negotiate(struct vdev *v, uint64_t features)
{
	vdev_reset(v);
	vdev_set_status(v, VS_ACKNOWLEDGE);
	vdev_set_status(v, VS_ACKNOWLEDGE | VS_DRIVER);
	if (v->io) {
		vl_write(v, VL_GUEST_FEATURES, 4, (uint32_t)features);
		v->features = vl_read(v, VL_GUEST_FEATURES, 4);
		return v->features == features ? 0 : -1;
	}
	C32(v, VC_GFSELECT) = 0;
	C32(v, VC_GF) = (uint32_t)features;
	C32(v, VC_GFSELECT) = 1;
	C32(v, VC_GF) = (uint32_t)(features >> 32);
	vdev_set_status(v, VS_ACKNOWLEDGE | VS_DRIVER | VS_FEATURES_OK);
	if (!(vdev_status(v) & VS_FEATURES_OK))
		return -1;
	v->features = features;
	return 0;
}

void vdev_driver_ok(struct vdev *v)
{
	vdev_set_status(v, vdev_status(v) | VS_DRIVER_OK);
}

static uint32_t cfg_read(struct vdev *v, unsigned off, unsigned len)
{
	volatile uint8_t *p = v->device + off;

	if (v->io)
		return vl_read(v, VL_CONFIG(msix_on(v)) + off, len);
	return len == 1 ? *p : len == 2 ? *(volatile uint16_t *)p : *(volatile uint32_t *)p;
}

uint8_t vdev_cfg8(struct vdev *v, unsigned off) { return (uint8_t)cfg_read(v, off, 1); }
uint16_t vdev_cfg16(struct vdev *v, unsigned off) { return (uint16_t)cfg_read(v, off, 2); }
uint32_t vdev_cfg32(struct vdev *v, unsigned off) { return cfg_read(v, off, 4); }

uint64_t vdev_cfg64(struct vdev *v, unsigned off)
{
	return vdev_cfg32(v, off) | (uint64_t)vdev_cfg32(v, off + 4) << 32;
}

uint8_t vdev_cfg_generation(struct vdev *v)
{
	if (v->io)
		return 0;               /* legacy devices have none */
	return C8(v, VC_CFGGEN);
}

void vdev_msix_entry(struct vdev *v, unsigned e, unsigned cpu, unsigned vector)
{
	volatile uint32_t *t = v->msix + 4 * e;

	t[3] = 1;
	t[0] = HYVE_LAPIC_BASE | (cpu & 0xff) << 12;
	t[1] = 0;
	t[2] = vector & 0xff;
	t[3] = 0;
}

void vdev_msix_enable(struct vdev *v)
{
	pci_set16(&v->pci, v->msix_cap + 2, 0x8000);
}

/* Legacy: the device's size, rings from mem's page frame. */
static int vq_setup_legacy(struct vdev *v, unsigned q, struct virtq *vq, uint8_t *m,
			   uint16_t size, uint16_t vector)
{
	uint16_t n;
	uintptr_t used;

	vl_write(v, VL_QUEUE_SEL, 2, q);
	n = (uint16_t)vl_read(v, VL_QUEUE_NUM, 2);
	if (n == 0 || n > VQ_MAX || (size && size != n) || ((uintptr_t)m & 4095))
		return -1;
	memset(m, 0, VQ_MEM_BYTES);
	vq->index = (uint16_t)q;
	vq->size = n;
	vq->desc = (volatile struct vring_desc *)m;
	vq->avail = (volatile uint16_t *)(m + 16u * n);
	used = ((uintptr_t)vq->avail + 6 + 2u * n + 4095) & ~(uintptr_t)4095;
	vq->used = (volatile uint32_t *)used;
	vq->event_idx = (v->features >> VF_EVENT_IDX) & 1;
	vq->vector = vector;
	if (msix_on(v)) {
		vl_write(v, VL_QUEUE_VECTOR, 2, vector);
		if (vl_read(v, VL_QUEUE_VECTOR, 2) != vector)
			return -1;
	}
	vl_write(v, VL_QUEUE_PFN, 4, (uint32_t)((uintptr_t)m >> 12));
	return vl_read(v, VL_QUEUE_PFN, 4) == (uintptr_t)m >> 12 ? 0 : -1;
}

int vq_setup(struct vdev *v, unsigned q, struct virtq *vq, void *mem,
	     uint16_t size, uint16_t vector)
{
	uint8_t *m = mem;
	uint16_t max;

	memset(vq, 0, sizeof(*vq));
	if (v->io)
		return vq_setup_legacy(v, q, vq, m, size, vector);
	if (size > VQ_MAX || (size & (size - 1)))
		return -1;
	C16(v, VC_Q_SELECT) = (uint16_t)q;
	max = C16(v, VC_Q_SIZE);
	if (max == 0 || size > max)
		return -1;
	memset(m, 0, VQ_MEM_BYTES);
	vq->index = (uint16_t)q;
	vq->size = size;
	vq->desc = (volatile struct vring_desc *)m;
	vq->avail = (volatile uint16_t *)(m + 4096);
	vq->used = (volatile uint32_t *)(m + 8192);
	vq->event_idx = (v->features >> VF_EVENT_IDX) & 1;
	vq->vector = vector;
	C16(v, VC_Q_SIZE) = size;
	C64(v, VC_Q_DESC) = (uint64_t)(uintptr_t)vq->desc;
	C64(v, VC_Q_AVAIL) = (uint64_t)(uintptr_t)vq->avail;
	C64(v, VC_Q_USED) = (uint64_t)(uintptr_t)vq->used;
	C16(v, VC_Q_MSIX) = vector;
	if (C16(v, VC_Q_MSIX) != vector)
		return -1;
	vq->notify = (volatile uint16_t *)(v->notify + (uint32_t)C16(v, VC_Q_NOFF) * v->notify_mult);
	C16(v, VC_Q_ENABLE) = 1;
	return C16(v, VC_Q_ENABLE) == 1 ? 0 : -1;
}

uint16_t vq_take_desc(struct virtq *vq)
{
	uint16_t d = vq->next_desc;

	vq->next_desc = (uint16_t)((d + 1) % vq->size);
	return d;
}

void vq_publish(struct virtq *vq, uint16_t head)
{
	vq->avail[2 + vq->avail_idx % vq->size] = head;
	vq->avail_idx++;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vq->avail[1] = vq->avail_idx;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

uint16_t vq_add(struct virtq *vq, const struct vbuf *b, unsigned n)
{
	uint16_t head = vq->next_desc, at = head;

	for (unsigned i = 0; i < n; i++) {
		uint16_t next;

		at = vq_take_desc(vq);
		next = vq->next_desc;
		vq->desc[at].addr = b[i].addr;
		vq->desc[at].len = b[i].len;
		vq->desc[at].flags = (uint16_t)((b[i].write ? VD_WRITE : 0) | (i + 1 < n ? VD_NEXT : 0));
		vq->desc[at].next = i + 1 < n ? next : 0;
	}
	vq_publish(vq, head);
	return head;
}

uint16_t vq_add_indirect(struct virtq *vq, const struct vbuf *b, unsigned n,
			 struct vring_desc *table)
{
	uint16_t head = vq_take_desc(vq);

	for (unsigned i = 0; i < n; i++) {
		table[i].addr = b[i].addr;
		table[i].len = b[i].len;
		table[i].flags = (uint16_t)((b[i].write ? VD_WRITE : 0) | (i + 1 < n ? VD_NEXT : 0));
		table[i].next = (uint16_t)(i + 1 < n ? i + 1 : 0);
	}
	vq->desc[head].addr = (uint64_t)(uintptr_t)table;
	vq->desc[head].len = (uint32_t)(16 * n);
	vq->desc[head].flags = VD_INDIRECT;
	vq->desc[head].next = 0;
	vq_publish(vq, head);
	return head;
}

void vq_kick(struct vdev *v, struct virtq *vq)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (v->io)
		vl_write(v, VL_QUEUE_NOTIFY, 2, vq->index);
	else
		*vq->notify = vq->index;
}

static uint16_t used_idx(struct virtq *vq)
{
	return (uint16_t)(__atomic_load_n(&vq->used[0], __ATOMIC_ACQUIRE) >> 16);
}

int vq_has_used(struct virtq *vq)
{
	return used_idx(vq) != vq->last_used;
}

int vq_wait(struct virtq *vq, uint16_t *id, uint32_t *len, uint64_t timeout_cycles)
{
	uint64_t t0 = rdtsc();
	unsigned slot;

	while (!vq_has_used(vq)) {
		if (rdtsc() - t0 > timeout_cycles)
			return -1;
		cpu_relax();
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	slot = vq->last_used % vq->size;
	if (id)
		*id = (uint16_t)vq->used[1 + 2 * slot];
	if (len)
		*len = vq->used[2 + 2 * slot];
	vq->last_used++;
	return 0;
}

void vq_set_used_event(struct virtq *vq, uint16_t idx)
{
	vq->avail[2 + vq->size] = idx;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

uint16_t vq_avail_event(struct virtq *vq)
{
	return ((volatile uint16_t *)vq->used)[2 + 4 * vq->size];
}

void vq_set_no_interrupt(struct virtq *vq, int on)
{
	vq->avail[0] = on ? VRING_AVAIL_NO_INTERRUPT : 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

int vdev_wait_irq(unsigned vector, unsigned long want)
{
	return irq_wait(vector, want, 4000000000ull);
}

void vdev_settle(void)
{
	irq_settle(50000000ull);
}
