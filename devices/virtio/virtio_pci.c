/*
 * The virtio PCI transport.  BAR4 (64-bit memory, 16 KiB) holds the common
 * configuration (0x0000), the ISR (0x1000), the device configuration
 * (0x2000) and the notification area (0x3000, 4 bytes per queue); BAR1
 * holds the MSI-X table (0x000) and PBA (0x800).  A transitional or legacy
 * device also has the legacy register file in I/O BAR0 (virtio_legacy.c);
 * a legacy one has no BAR4.  Without MSI-X enabled, interrupts are the ISR
 * bits and INTx.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "devices/device.h"
#include "devices/pci/pci.h"
#include "devices/virtio/transport.h"
#include "devices/virtio/virtio.h"
#include "vmm/config.h"
#include "vmm/log.h"
#include "vmm/vm.h"

#define BAR_MSIX 1
#define BAR_CFG 4
#define BAR_CFG_SIZE 0x4000
#define OFF_COMMON 0x0000
#define OFF_ISR 0x1000
#define OFF_DEVICE 0x2000
#define OFF_NOTIFY 0x3000
#define NOTIFY_MULT 4
#define MAX_POLL 4

#define TRANSPORT_FEATURES ((1ull << VIRTIO_F_VERSION_1) | \
	(1ull << VIRTIO_RING_F_INDIRECT_DESC) | (1ull << VIRTIO_RING_F_EVENT_IDX))

struct poll_entry {
	int fd;
	virtio_fd_cb cb;
	void *arg;
};

struct virtio_pci {
	struct virtio_dev d;
	struct poll_entry poll[MAX_POLL];
	int npoll;
};

bool
virtio_negotiated(const struct virtio_dev *d, unsigned bit)
{
	return (d->driver_features >> bit) & 1;
}

/* With MSI-X enabled, the vector (if any); else INTx, high while the ISR
 * has a bit set. */
static void
interrupt(struct virtio_dev *d, uint16_t vec)
{
	if (pci_msix_enabled(d->f)) {
		if (vec != VIRTIO_MSI_NO_VECTOR)
			(void)pci_raise(d->f, vec);
	} else {
		pci_intx_set(d->f, d->isr != 0);
	}
}

uint8_t
virtio_isr_read(struct virtio_dev *d)
{
	uint8_t v = d->isr;
	d->isr = 0;
	pci_intx_set(d->f, false);
	return v;
}

void
virtio_notify(struct virtio_dev *d, unsigned q)
{
	struct virtqueue *vq = &d->vq[q];
	if (!vq_should_notify(vq))
		return;
	d->isr |= 1;
	interrupt(d, vq->msix_vector);
}

void
virtio_config_changed(struct virtio_dev *d)
{
	d->cfg_generation++;
	d->isr |= 2;
	interrupt(d, d->msix_config);
}

void
virtio_bad_chain(struct virtio_dev *d, unsigned q, int err)
{
	if (d->errors++ < 5)
		pr_warn("%s (slot %u): queue %u: %s", d->ops->name, d->f->slot, q,
		    vq_strerror(err));
}

/* Reset: the device forgets everything the driver set up. */
static void
device_reset(struct virtio_dev *d)
{
	for (unsigned i = 0; i < d->nvq; i++) {
		vq_reset(&d->vq[i]);
		d->vq[i].size = d->queue_max;
	}
	d->status = 0;
	d->isr = 0;
	if (d->f != NULL)
		pci_intx_set(d->f, false);
	d->driver_features = 0;
	d->dfselect = d->gfselect = 0;
	d->queue_sel = 0;
	d->msix_config = VIRTIO_MSI_NO_VECTOR;
	if (d->ops->reset)
		d->ops->reset(d);
}

void
virtio_set_status(struct virtio_dev *d, uint8_t st)
{
	if (st == 0) {
		device_reset(d);
		return;
	}
	if ((st & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !(d->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
		/* Accept only features we offered, and only as a modern driver. */
		if ((d->driver_features & ~d->offered) ||
		    !virtio_negotiated(d, VIRTIO_F_VERSION_1))
			st &= (uint8_t)~VIRTIO_CONFIG_S_FEATURES_OK;
		for (unsigned i = 0; i < d->nvq; i++) {
			d->vq[i].event_idx = virtio_negotiated(d,
			    VIRTIO_RING_F_EVENT_IDX);
			d->vq[i].indirect = virtio_negotiated(d,
			    VIRTIO_RING_F_INDIRECT_DESC);
		}
	}
	bool newly_ok = (st & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    !(d->status & VIRTIO_CONFIG_S_DRIVER_OK);
	d->status = (uint8_t)(st | (d->status & VIRTIO_CONFIG_S_NEEDS_RESET));
	if (newly_ok)
		pr_info("%s (slot %u): driver ready on the %s interface, "
		    "features 0x%" PRIx64, d->ops->name, d->f->slot,
		    virtio_negotiated(d, VIRTIO_F_VERSION_1) ? "modern" :
		    "legacy", d->driver_features);
	if (newly_ok && d->ops->driver_ok)
		d->ops->driver_ok(d);
	/* Buffers made available before DRIVER_OK are looked at now. */
	if (newly_ok)
		for (unsigned i = 0; i < d->nvq; i++) {
			uint64_t one = 1;
			if (write(d->kick[i], &one, 8) < 0)
				pr_warn("%s: cannot kick queue %u", d->ops->name, i);
		}
}

void
virtio_queue_enable(struct virtio_dev *d, unsigned q)
{
	struct virtqueue *vq = &d->vq[q];
	if (vq_enable(vq, &d->vm->mem) < 0) {
		pr_warn("%s: queue %u: rings outside guest memory or bad size %u",
		    d->ops->name, q, vq->size);
		d->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
		virtio_config_changed(d);
		return;
	}
	vq->event_idx = virtio_negotiated(d, VIRTIO_RING_F_EVENT_IDX);
	vq->indirect = virtio_negotiated(d, VIRTIO_RING_F_INDIRECT_DESC);
}

int
virtio_kick(struct virtio_dev *d, unsigned q)
{
	uint64_t one = 1;
	if (q < d->nvq && eventfd_write(d->kick[q], one) < 0)
		return -errno;
	return 0;
}

uint16_t
virtio_vector(struct virtio_dev *d, uint64_t v)
{
	return v < d->f->msix.nvec ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
}

void
virtio_cfg_access(struct virtio_dev *d, unsigned o, uint8_t *data,
    unsigned len, bool write)
{
	if (write) {
		memcpy(d->cfg + o, data, len);
		if (d->ops->cfg_write)
			d->ops->cfg_write(d, o, len);
	} else {
		memcpy(data, d->cfg + o, len);
	}
}

static uint64_t
rd_le(const uint8_t *data, unsigned len)
{
	uint64_t v = 0;
	memcpy(&v, data, len);
	return v;
}

static void
common_access(struct virtio_dev *d, unsigned off, uint8_t *data, unsigned len,
    bool write)
{
	struct virtqueue *vq = d->queue_sel < d->nvq ? &d->vq[d->queue_sel] : NULL;
	uint64_t v = write ? rd_le(data, len) : 0, out = 0;
	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		if (write)
			d->dfselect = (uint32_t)v;
		out = d->dfselect;
		break;
	case VIRTIO_PCI_COMMON_DF:
		out = d->dfselect < 2 ? (uint32_t)(d->offered >> (32 * d->dfselect)) : 0;
		break;
	case VIRTIO_PCI_COMMON_GFSELECT:
		if (write)
			d->gfselect = (uint32_t)v;
		out = d->gfselect;
		break;
	case VIRTIO_PCI_COMMON_GF:
		if (write && d->gfselect < 2 &&
		    !(d->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
			unsigned sh = 32 * d->gfselect;
			d->driver_features = (d->driver_features &
			    ~(0xffffffffull << sh)) | ((uint64_t)(uint32_t)v << sh);
		}
		out = d->gfselect < 2 ?
		    (uint32_t)(d->driver_features >> (32 * d->gfselect)) : 0;
		break;
	case VIRTIO_PCI_COMMON_MSIX:
		if (write)
			d->msix_config = virtio_vector(d, v);
		out = d->msix_config;
		break;
	case VIRTIO_PCI_COMMON_NUMQ:
		out = d->nvq;
		break;
	case VIRTIO_PCI_COMMON_STATUS:
		if (write)
			virtio_set_status(d, (uint8_t)v);
		out = d->status;
		break;
	case VIRTIO_PCI_COMMON_CFGGENERATION:
		out = d->cfg_generation;
		break;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		if (write)
			d->queue_sel = (uint16_t)v;
		out = d->queue_sel;
		break;
	case VIRTIO_PCI_COMMON_Q_SIZE:
		if (vq && write && !vq->ready)
			vq->size = (uint16_t)v;         /* checked at enable */
		out = vq ? vq->size : 0;
		break;
	case VIRTIO_PCI_COMMON_Q_MSIX:
		if (vq && write)
			vq->msix_vector = virtio_vector(d, v);
		out = vq ? vq->msix_vector : VIRTIO_MSI_NO_VECTOR;
		break;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		if (vq && write && v == 1 && !vq->ready)
			virtio_queue_enable(d, d->queue_sel);
		out = vq ? vq->ready : 0;
		break;
	case VIRTIO_PCI_COMMON_Q_NOFF:
		out = vq ? d->queue_sel : 0;
		break;
	case VIRTIO_PCI_COMMON_Q_DESCLO: case VIRTIO_PCI_COMMON_Q_DESCHI:
	case VIRTIO_PCI_COMMON_Q_AVAILLO: case VIRTIO_PCI_COMMON_Q_AVAILHI:
	case VIRTIO_PCI_COMMON_Q_USEDLO: case VIRTIO_PCI_COMMON_Q_USEDHI: {
		if (vq == NULL)
			break;
		unsigned base = off & ~7u;
		uint64_t *field = base == VIRTIO_PCI_COMMON_Q_DESCLO ? &vq->desc_gpa :
		    base == VIRTIO_PCI_COMMON_Q_AVAILLO ? &vq->avail_gpa :
		    &vq->used_gpa;
		unsigned sh = (off & 4) ? 32 : 0;
		if (write && !vq->ready) {
			if (len == 8 && sh == 0)
				*field = v;
			else
				*field = (*field & ~(0xffffffffull << sh)) |
				    ((uint64_t)(uint32_t)v << sh);
		}
		out = len == 8 ? *field : (uint32_t)(*field >> sh);
		break;
	}
	default:
		break;
	}
	if (!write)
		memcpy(data, &out, len);
}

static int
virtio_bar(struct vcpu *vcpu, struct pci_func *f, int bar, uint64_t off,
    uint8_t *data, unsigned len, bool write)
{
	(void)vcpu;
	struct virtio_dev *d = f->priv;
	if (bar == VIRTIO_LEGACY_BAR && d->transport != VIRTIO_MODERN) {
		pthread_mutex_lock(&d->lock);
		virtio_legacy_io(d, off, data, len, write);
		pthread_mutex_unlock(&d->lock);
		return 0;
	}
	if (bar != BAR_CFG) {
		if (!write)
			memset(data, 0xff, len);
		return -EINVAL;
	}
	if (off >= OFF_NOTIFY && off < OFF_NOTIFY + NOTIFY_MULT * d->nvq) {
		/* Only when the ioeventfd is not installed. */
		unsigned q = (unsigned)(off - OFF_NOTIFY) / NOTIFY_MULT;
		if (write)
			return virtio_kick(d, q);
		memset(data, 0, len);
		return 0;
	}
	pthread_mutex_lock(&d->lock);
	if (off < OFF_COMMON + 0x40) {
		/* Naturally aligned accesses of the field's width. */
		if ((off & (len - 1)) == 0)
			common_access(d, (unsigned)off, data, len, write);
		else if (!write)
			memset(data, 0, len);
	} else if (off >= OFF_ISR && off < OFF_ISR + 4) {
		if (!write) {
			memset(data, 0, len);
			data[0] = virtio_isr_read(d);   /* read to clear */
		}
	} else if (off >= OFF_DEVICE && off + len <= OFF_DEVICE + d->ops->cfg_size) {
		virtio_cfg_access(d, (unsigned)(off - OFF_DEVICE), data, len, write);
	} else if (!write) {
		memset(data, 0, len);
	}
	pthread_mutex_unlock(&d->lock);
	return 0;
}

/* Follow BAR4 with the queues' ioeventfds (f->lock held). */
static void
virtio_bar_mapped(struct pci_func *f, int idx, bool mapped)
{
	struct virtio_dev *d = f->priv;
	if (idx != BAR_CFG)
		return;
	for (unsigned q = 0; q < d->nvq; q++) {
		if (d->ioeventfd[q]) {
			(void)hv_vm_ioeventfd(d->vm->hv, d->notify_gpa +
			    NOTIFY_MULT * q, 0, d->kick[q], false, false);
			d->ioeventfd[q] = false;
		}
	}
	if (!mapped || d->vm->hv == NULL)
		return;
	d->notify_gpa = f->bar[BAR_CFG].addr + OFF_NOTIFY;
	for (unsigned q = 0; q < d->nvq; q++)
		d->ioeventfd[q] = hv_vm_ioeventfd(d->vm->hv, d->notify_gpa +
		    NOTIFY_MULT * q, 0, d->kick[q], false, true) == 0;
}

static const struct pci_ops virtio_pci_ops = {
	.bar_io = virtio_bar,
	.bar_mapped = virtio_bar_mapped,
};

static void *
worker_main(void *arg)
{
	struct virtio_pci *vp = arg;
	struct virtio_dev *d = &vp->d;
	for (;;) {
		struct epoll_event ev[8];
		int n = epoll_wait(d->epfd, ev, 8, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_err("%s: epoll_wait: %s", d->ops->name, strerror(errno));
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			uint32_t id = ev[i].data.u32;
			uint64_t cnt;
			if (id == d->nvq)
				return NULL;            /* stop */
			pthread_mutex_lock(&d->lock);
			if (id < d->nvq) {
				if (read(d->kick[id], &cnt, 8) < 0) {
					/* spurious: counter was already 0 */
				}
				if ((d->status & VIRTIO_CONFIG_S_DRIVER_OK) &&
				    !(d->status & VIRTIO_CONFIG_S_NEEDS_RESET) &&
				    d->vq[id].ready && !((d->external >> id) & 1))
					d->ops->queue_notify(d, id);
			} else {
				struct poll_entry *p = &vp->poll[id - d->nvq - 1];
				p->cb(d, p->arg);
			}
			pthread_mutex_unlock(&d->lock);
		}
	}
}

int
virtio_queue_external(struct virtio_dev *d, unsigned q, bool on)
{
	if (q >= d->nvq)
		return -EINVAL;
	if (((d->external >> q) & 1) == on)
		return 0;
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = q };
	if (epoll_ctl(d->epfd, on ? EPOLL_CTL_DEL : EPOLL_CTL_ADD, d->kick[q],
	    &ev) < 0)
		return -errno;
	if (on)
		d->external |= 1ull << q;
	else
		d->external &= ~(1ull << q);
	return 0;
}

int
virtio_poll_fd(struct virtio_dev *d, int fd, virtio_fd_cb cb, void *arg)
{
	struct virtio_pci *vp = (struct virtio_pci *)d;
	if (vp->npoll == MAX_POLL)
		return -ENOSPC;
	struct epoll_event ev = { .events = EPOLLIN,
	    .data.u32 = d->nvq + 1 + (uint32_t)vp->npoll };
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	vp->poll[vp->npoll++] = (struct poll_entry){ fd, cb, arg };
	return 0;
}

/* The worker raises interrupts on d->f: it stops before the function
 * goes (this hook is added after the function's, so it runs first). */
static void
virtio_stop(void *arg)
{
	struct virtio_dev *d = arg;
	if (d->worker_running) {
		uint64_t one = 1;
		if (write(d->stop_fd, &one, 8) == 8)
			pthread_join(d->worker, NULL);
		d->worker_running = false;
	}
}

static void
virtio_destroy(void *arg)
{
	struct virtio_pci *vp = arg;
	struct virtio_dev *d = &vp->d;
	virtio_stop(d);
	for (unsigned q = 0; q < d->nvq; q++) {
		if (d->ioeventfd && d->ioeventfd[q] && d->vm->hv)
			(void)hv_vm_ioeventfd(d->vm->hv, d->notify_gpa +
			    NOTIFY_MULT * q, 0, d->kick[q], false, false);
		if (d->kick && d->kick[q] >= 0)
			close(d->kick[q]);
	}
	if (d->stop_fd >= 0)
		close(d->stop_fd);
	if (d->epfd >= 0)
		close(d->epfd);
	free(d->kick);
	free(d->ioeventfd);
	free(d->vq);
	pthread_mutex_destroy(&d->lock);
	free(vp);
}

static void
virtio_vm_reset(void *arg)
{
	struct virtio_dev *d = arg;
	pthread_mutex_lock(&d->lock);
	device_reset(d);
	pthread_mutex_unlock(&d->lock);
}

static int
add_vcap(struct pci_func *f, uint8_t type, uint32_t off, uint32_t len,
    bool notify)
{
	int c = pci_add_cap(f, 0x09, notify ? 20 : 16);
	if (c < 0)
		return c;
	pci_cfg_set8(f, (unsigned)c + 2, notify ? 20 : 16);     /* cap_len */
	pci_cfg_set8(f, (unsigned)c + 3, type);
	pci_cfg_set8(f, (unsigned)c + 4, BAR_CFG);
	pci_cfg_set32(f, (unsigned)c + 8, off);
	pci_cfg_set32(f, (unsigned)c + 12, len);
	if (notify)
		pci_cfg_set32(f, (unsigned)c + 16, NOTIFY_MULT);
	return 0;
}

bool
virtio_transport_opt(const char *tok)
{
	return strncmp(tok, "transport=", 10) == 0;
}

/* The last transport= in conf, modern when there is none. */
static int
parse_transport(const char *conf, const char *name, enum virtio_transport *t,
    char *err, size_t errlen)
{
	static const char *const names[] = {
		[VIRTIO_MODERN] = "modern",
		[VIRTIO_TRANSITIONAL] = "transitional",
		[VIRTIO_LEGACY] = "legacy",
	};
	*t = VIRTIO_MODERN;
	for (const char *p = conf; p != NULL && *p; ) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n >= 10 && virtio_transport_opt(p)) {
			unsigned i;
			for (i = 0; i < 3; i++)
				if (n - 10 == strlen(names[i]) &&
				    strncmp(p + 10, names[i], n - 10) == 0)
					break;
			if (i == 3) {
				snprintf(err, errlen, "%s: bad %.*s (modern, "
				    "transitional or legacy)", name, (int)n, p);
				return -EINVAL;
			}
			*t = (enum virtio_transport)i;
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}

/* IDs, BARs and capabilities of the transport. */
static int
pci_setup(struct virtio_dev *d, unsigned nqueues)
{
	const struct virtio_ops *ops = d->ops;
	struct pci_func *f = d->f;
	int r;
	if (d->transport == VIRTIO_MODERN) {
		pci_set_ids(f, 0x1af4, (uint16_t)(0x1040 + ops->device_type),
		    ops->pci_class, ops->pci_subclass, 0, 0x1af4, 0x1100);
		pci_cfg_set8(f, PCI_REVISION_ID, 1);
		r = 0;
	} else {
		/* Legacy IDs, subsystem = device type, revision 0. */
		pci_set_ids(f, 0x1af4, virtio_legacy_device_id(ops),
		    ops->pci_class, ops->pci_subclass, 0, 0x1af4,
		    ops->device_type);
		r = pci_add_bar(f, VIRTIO_LEGACY_BAR, PCI_BAR_IO,
		    virtio_legacy_bar_size(d));
	}
	if (r == 0)
		r = pci_add_intx(f);
	if (r == 0)
		r = pci_add_bar(f, BAR_MSIX, PCI_BAR_MEM32, 0x1000);
	if (r == 0)
		r = pci_add_msix(f, nqueues + 1, BAR_MSIX, 0, 0x800);
	if (d->transport == VIRTIO_LEGACY)
		return r;
	if (r == 0)
		r = pci_add_bar(f, BAR_CFG, PCI_BAR_MEM64, BAR_CFG_SIZE);
	if (r == 0)
		r = add_vcap(f, VIRTIO_PCI_CAP_COMMON_CFG, OFF_COMMON, 0x40, false);
	if (r == 0)
		r = add_vcap(f, VIRTIO_PCI_CAP_ISR_CFG, OFF_ISR, 4, false);
	if (r == 0 && ops->cfg_size)
		r = add_vcap(f, VIRTIO_PCI_CAP_DEVICE_CFG, OFF_DEVICE,
		    ops->cfg_size, false);
	if (r == 0)
		r = add_vcap(f, VIRTIO_PCI_CAP_NOTIFY_CFG, OFF_NOTIFY,
		    NOTIFY_MULT * nqueues, true);
	return r;
}

int
virtio_dev_create(struct vm *vm, const struct dev_config *dc,
    const struct virtio_ops *ops, void *priv, unsigned nqueues,
    uint16_t queue_max, struct virtio_dev **out, char *err, size_t errlen)
{
	if (nqueues == 0 || nqueues > 64 || ops->cfg_size > 256) {
		snprintf(err, errlen, "%s: bad queue count %u", ops->name, nqueues);
		return -EINVAL;
	}
	enum virtio_transport transport;
	int r = parse_transport(dc->conf, ops->name, &transport, err, errlen);
	if (r < 0)
		return r;
	struct virtio_pci *vp = calloc(1, sizeof(*vp));
	if (vp == NULL)
		return -ENOMEM;
	struct virtio_dev *d = &vp->d;
	d->ops = ops;
	d->priv = priv;
	d->vm = vm;
	d->transport = transport;
	d->nvq = nqueues;
	d->queue_max = queue_max;
	d->epfd = d->stop_fd = -1;
	pthread_mutex_init(&d->lock, NULL);
	d->vq = calloc(nqueues, sizeof(*d->vq));
	d->kick = calloc(nqueues, sizeof(int));
	d->ioeventfd = calloc(nqueues, sizeof(bool));
	r = vm_add_hook(vm, false, virtio_destroy, vp);
	if (r < 0) {
		free(d->vq);
		free(d->kick);
		free(d->ioeventfd);
		free(vp);
		return r;
	}
	if (d->vq == NULL || d->kick == NULL || d->ioeventfd == NULL)
		return -ENOMEM;
	for (unsigned q = 0; q < nqueues; q++)
		d->kick[q] = -1;
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	d->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (d->epfd < 0 || d->stop_fd < 0) {
		snprintf(err, errlen, "%s: %s", ops->name, strerror(errno));
		return -errno;
	}
	for (unsigned q = 0; q <= nqueues; q++) {
		int fd = q < nqueues ? eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) :
		    d->stop_fd;
		if (fd < 0) {
			snprintf(err, errlen, "%s: eventfd: %s", ops->name,
			    strerror(errno));
			return -errno;
		}
		if (q < nqueues)
			d->kick[q] = fd;
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = q };
		if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			snprintf(err, errlen, "%s: epoll: %s", ops->name,
			    strerror(errno));
			return -errno;
		}
	}
	d->offered = ops->features | TRANSPORT_FEATURES;
	device_reset(d);
	r = vm_add_hook(vm, true, virtio_vm_reset, d);
	if (r < 0)
		return r;
	r = pci_func_create(vm, dc->slot, ops->name, &virtio_pci_ops, d, &d->f,
	    err, errlen);
	if (r < 0)
		return r;
	r = pci_setup(d, nqueues);
	if (r < 0) {
		snprintf(err, errlen, "%s: PCI set-up: %s", ops->name, strerror(-r));
		return r;
	}
	r = vm_add_hook(vm, false, virtio_stop, d);
	if (r < 0)
		return r;
	r = pthread_create(&d->worker, NULL, worker_main, vp);
	if (r != 0) {
		snprintf(err, errlen, "%s: worker thread: %s", ops->name,
		    strerror(r));
		return -r;
	}
	d->worker_running = true;
	*out = d;
	return 0;
}
