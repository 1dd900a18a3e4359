/*
 * virtio-net's vhost-net glue: opening /dev/vhost-net for vhost=on|auto,
 * the features and irqfds it needs, and handing queue pairs to it at
 * DRIVER_OK and back at reset (the kernel side is vhost.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "devices/device.h"
#include "devices/pci/pci.h"
#include "devices/virtio/net_dev.h"
#include "devices/virtio/vhost.h"
#include "devices/virtio/virtio.h"
#include "vmm/config.h"
#include "vmm/log.h"
#include "vmm/vm.h"

void
vnet_vhost_stop(struct vnet *n)
{
	struct virtio_dev *d = n->d;
	for (unsigned i = 0; n->vh != NULL && i < n->npairs; i++) {
		struct vnet_pair *p = &n->pair[i];
		if (!p->vhost)
			continue;
		vhost_net_stop_pair(n->vh, d, i);
		(void)virtio_queue_external(d, 2 * i, false);
		(void)virtio_queue_external(d, 2 * i + 1, false);
		p->vhost = false;
		vnet_poll_set(p, true);
	}
}

/* DRIVER_OK: each queue pair whose rings are ready goes to vhost; one that
 * cannot stays with hyve. */
void
vnet_vhost_start(struct vnet *n)
{
	struct virtio_dev *d = n->d;
	for (unsigned i = 0; n->vh != NULL && i < n->npairs; i++) {
		struct vnet_pair *p = &n->pair[i];
		if (p->vhost || !d->vq[2 * i].ready || !d->vq[2 * i + 1].ready)
			continue;
		if (vnet_hdr_len(d) != VNET_HDR_LEN) {
			/* The tap takes 12-byte headers; hyve converts. */
			pr_info("virtio-net (slot %u): legacy 10-byte headers; "
			    "queue pair %u goes through hyve", d->f->slot, i);
			continue;
		}
		p->vhost = true;
		vnet_poll_set(p, false);
		char err[160];
		int r = virtio_queue_external(d, 2 * i, true);
		if (r == 0)
			r = virtio_queue_external(d, 2 * i + 1, true);
		if (r < 0)
			snprintf(err, sizeof(err), "vhost-net: queue pair %u: %s",
			    i, strerror(-r));
		else
			r = vhost_net_start_pair(n->vh, d, i, p->fd, err,
			    sizeof(err));
		if (r < 0) {
			pr_warn("virtio-net (slot %u): %s; frames of queue pair %u "
			    "go through hyve", d->f->slot, err, i);
			(void)virtio_queue_external(d, 2 * i, false);
			(void)virtio_queue_external(d, 2 * i + 1, false);
			p->vhost = false;
			vnet_poll_set(p, true);
			continue;
		}
		n->st.vhost_starts++;
		pr_info("virtio-net (slot %u): queue pair %u on vhost-net", d->f->slot,
		    i);
	}
}

/* Before the PCI function and its irqfds go (added after them). */
void
vnet_vhost_close(void *arg)
{
	struct vnet *n = arg;
	struct virtio_dev *d = n->d;
	pthread_mutex_lock(&d->lock);
	vnet_vhost_stop(n);
	vhost_net_close(n->vh);
	n->vh = NULL;
	pr_info("virtio-net (slot %u): %" PRIu64 " frames received and %" PRIu64
	    " sent by hyve, %" PRIu64 " queue pair start(s) on vhost-net",
	    d->f->slot, n->st.rx_frames, n->st.tx_frames, n->st.vhost_starts);
	pthread_mutex_unlock(&d->lock);
}

int
vnet_vhost_open(struct vnet *n, const struct vnet_opts *o,
    const struct dev_config *dc, char *err, size_t errlen)
{
	if (o->vhost == VHOST_OFF)
		return 0;
	char why[160] = "";
	int r = -EINVAL;
	if (!n->tap)
		snprintf(why, sizeof(why), "the backend is not a tap");
	else if ((r = vhost_net_open(VHOST_NET_DEV, n->npairs, &n->vh, why,
	    sizeof(why))) < 0)
		n->vh = NULL;
	if (n->vh == NULL) {
		if (o->vhost == VHOST_ON) {
			/* A configuration error: hyve exits 64. */
			snprintf(err, errlen, "virtio-net: vhost=on: %s", why);
			return r == -ENOENT || r == -EACCES ? r : -EINVAL;
		}
		pr_info("virtio-net (slot %s): vhost=auto: %s; frames go through "
		    "hyve", dc->slot, why);
	}
	return 0;
}

int
vnet_vhost_irqfds(struct vnet *n, const struct vnet_opts *o,
    const struct dev_config *dc, char *err, size_t errlen)
{
	struct virtio_dev *d = n->d;
	if (n->vh != NULL && !pci_irqfd_enabled(d->f)) {
		/* vhost signals completions on eventfds only KVM reads. */
		vhost_net_close(n->vh);
		n->vh = NULL;
		if (o->vhost == VHOST_ON) {
			snprintf(err, errlen, "virtio-net: vhost=on needs the "
			    "hypervisor module's irqfds (%s)", d->vm->hv == NULL ?
			    "no module" : "absent or HYVE_IRQFD=off");
			return -EINVAL;
		}
		pr_info("virtio-net (slot %s): vhost=auto: no irqfds; frames go "
		    "through hyve", dc->slot);
	}
	return 0;
}

void
vnet_vhost_offer(struct vnet *n)
{
	struct virtio_dev *d = n->d;
	if (n->vh != NULL) {
		/* Ring and header layouts vhost does not handle are not
		 * offered (the offloads are the tap's business). */
		uint64_t vf = vhost_net_features(n->vh);
		uint64_t ring = (1ull << VIRTIO_F_VERSION_1) |
		    (1ull << VIRTIO_RING_F_INDIRECT_DESC) |
		    (1ull << VIRTIO_RING_F_EVENT_IDX) |
		    (1ull << VIRTIO_NET_F_MRG_RXBUF);
		d->offered &= ~(ring & ~vf);
	}
}
