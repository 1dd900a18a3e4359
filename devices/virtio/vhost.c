/*
 * vhost-net for virtio-net queue pairs (see vhost.h).  Start hands vhost
 * the features the driver accepted (those vhost knows), the guest's RAM,
 * each ring's size, position and host addresses, the kick eventfd (the
 * queue's ioeventfd) and the call eventfd (the queue's MSI-X vector's
 * irqfd), then the tap.  Stop removes the tap and reads back where each
 * ring stopped.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vhost.h>
#include <linux/virtio_pci.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "devices/pci/pci.h"
#include "devices/virtio/vhost.h"
#include "devices/virtio/virtio.h"
#include "vmm/log.h"
#include "vmm/vm.h"

struct vhost_net {
	unsigned npairs;
	uint64_t features;
	uint32_t running;       /* a bit per pair handed to vhost */
	int fd[];               /* per pair */
};

int
vhost_net_open(const char *dev, unsigned npairs, struct vhost_net **out,
    char *err, size_t errlen)
{
	if (npairs == 0 || npairs > 32)
		return -EINVAL;
	struct vhost_net *vh = calloc(1, sizeof(*vh) + npairs * sizeof(int));
	if (vh == NULL)
		return -ENOMEM;
	vh->npairs = npairs;
	for (unsigned i = 0; i < npairs; i++)
		vh->fd[i] = -1;
	int r = 0;
	for (unsigned i = 0; i < npairs && r == 0; i++) {
		vh->fd[i] = open(dev, O_RDWR | O_CLOEXEC);
		if (vh->fd[i] < 0) {
			r = -errno;
			snprintf(err, errlen, "%s: %s", dev, strerror(errno));
			break;
		}
		uint64_t feat;
		if (ioctl(vh->fd[i], VHOST_SET_OWNER, NULL) < 0 ||
		    ioctl(vh->fd[i], VHOST_GET_FEATURES, &feat) < 0) {
			r = -errno;
			snprintf(err, errlen, "%s: %s (not a vhost-net device?)",
			    dev, strerror(errno));
			if (r == -ENOENT)
				r = -ENOTTY;
			break;
		}
		vh->features = i == 0 ? feat : vh->features & feat;
	}
	if (r < 0) {
		vhost_net_close(vh);
		return r;
	}
	*out = vh;
	return 0;
}

uint64_t
vhost_net_features(const struct vhost_net *vh)
{
	return vh->features;
}

bool
vhost_net_running(const struct vhost_net *vh, unsigned i)
{
	return i < vh->npairs && (vh->running >> i) & 1;
}

static int
mem_table(int fd, const struct guest_mem *m)
{
	struct vhost_memory *t = calloc(1, sizeof(*t) +
	    2 * sizeof(struct vhost_memory_region));
	if (t == NULL)
		return -ENOMEM;
	unsigned n = 0;
	if (m->lo_size)
		t->regions[n++] = (struct vhost_memory_region){
			.guest_phys_addr = 0, .memory_size = m->lo_size,
			.userspace_addr = (uintptr_t)m->lo };
	if (m->hi_size)
		t->regions[n++] = (struct vhost_memory_region){
			.guest_phys_addr = 1ull << 32, .memory_size = m->hi_size,
			.userspace_addr = (uintptr_t)m->hi };
	t->nregions = n;
	int r = ioctl(fd, VHOST_SET_MEM_TABLE, t) < 0 ? -errno : 0;
	free(t);
	return r;
}

/* Queue q of d as vhost's ring idx (0 receive, 1 transmit). */
static int
ring_start(int fd, struct virtio_dev *d, unsigned q, unsigned idx,
    const char **what)
{
	struct virtqueue *vq = &d->vq[q];
	struct vhost_vring_state num = { .index = idx, .num = vq->size };
	struct vhost_vring_state base = { .index = idx, .num = vq->last_avail };
	struct vhost_vring_addr addr = {
		.index = idx,
		.desc_user_addr = (uintptr_t)vq->desc,
		.avail_user_addr = (uintptr_t)vq->avail,
		.used_user_addr = (uintptr_t)vq->used,
	};
	int call = -1;
	if (vq->msix_vector != VIRTIO_MSI_NO_VECTOR) {
		call = pci_vector_eventfd(d->f, vq->msix_vector);
		if (call < 0) {
			*what = "no irqfd for the queue's vector";
			return call;
		}
	}
	struct vhost_vring_file kick = { .index = idx, .fd = d->kick[q] };
	struct vhost_vring_file callf = { .index = idx, .fd = call };
	if (ioctl(fd, VHOST_SET_VRING_NUM, &num) < 0)
		*what = "VHOST_SET_VRING_NUM";
	else if (ioctl(fd, VHOST_SET_VRING_BASE, &base) < 0)
		*what = "VHOST_SET_VRING_BASE";
	else if (ioctl(fd, VHOST_SET_VRING_ADDR, &addr) < 0)
		*what = "VHOST_SET_VRING_ADDR";
	else if (ioctl(fd, VHOST_SET_VRING_KICK, &kick) < 0)
		*what = "VHOST_SET_VRING_KICK";
	else if (ioctl(fd, VHOST_SET_VRING_CALL, &callf) < 0)
		*what = "VHOST_SET_VRING_CALL";
	else
		return 0;
	return -errno;
}

static void
set_backend(int fd, unsigned idx, int tapfd)
{
	struct vhost_vring_file b = { .index = idx, .fd = tapfd };
	(void)ioctl(fd, VHOST_NET_SET_BACKEND, &b);
}

int
vhost_net_start_pair(struct vhost_net *vh, struct virtio_dev *d, unsigned i,
    int tapfd, char *err, size_t errlen)
{
	if (i >= vh->npairs || 2 * i + 1 >= d->nvq)
		return -EINVAL;
	if (vhost_net_running(vh, i))
		vhost_net_stop_pair(vh, d, i);
	int fd = vh->fd[i];
	uint64_t feat = d->driver_features & vh->features;
	const char *what = NULL;
	int r = 0;
	if (ioctl(fd, VHOST_SET_FEATURES, &feat) < 0) {
		what = "VHOST_SET_FEATURES";
		r = -errno;
	} else if ((r = mem_table(fd, &d->vm->mem)) < 0) {
		what = "VHOST_SET_MEM_TABLE";
	}
	for (unsigned idx = 0; idx < 2 && r == 0; idx++)
		r = ring_start(fd, d, 2 * i + idx, idx, &what);
	for (unsigned idx = 0; idx < 2 && r == 0; idx++) {
		struct vhost_vring_file b = { .index = idx, .fd = tapfd };
		if (ioctl(fd, VHOST_NET_SET_BACKEND, &b) < 0) {
			what = "VHOST_NET_SET_BACKEND";
			r = -errno;
			set_backend(fd, 0, -1);
		}
	}
	if (r < 0) {
		snprintf(err, errlen, "vhost-net: queue pair %u: %s: %s", i, what,
		    strerror(-r));
		return r;
	}
	vh->running |= 1u << i;
	return 0;
}

void
vhost_net_stop_pair(struct vhost_net *vh, struct virtio_dev *d, unsigned i)
{
	if (!vhost_net_running(vh, i))
		return;
	int fd = vh->fd[i];
	for (unsigned idx = 0; idx < 2; idx++)
		set_backend(fd, idx, -1);
	for (unsigned idx = 0; idx < 2; idx++) {
		struct virtqueue *vq = &d->vq[2 * i + idx];
		struct vhost_vring_state st = { .index = idx };
		if (ioctl(fd, VHOST_GET_VRING_BASE, &st) == 0) {
			vq->last_avail = (uint16_t)st.num;
			/* vhost published what it used; the device goes on
			 * from the used ring's index. */
			if (vq->used != NULL)
				vq->used_idx = __atomic_load_n((volatile uint16_t *)
				    (vq->used + 2), __ATOMIC_ACQUIRE);
		}
		struct vhost_vring_file none = { .index = idx, .fd = -1 };
		(void)ioctl(fd, VHOST_SET_VRING_KICK, &none);
		(void)ioctl(fd, VHOST_SET_VRING_CALL, &none);
	}
	vh->running &= ~(1u << i);
}

void
vhost_net_close(struct vhost_net *vh)
{
	if (vh == NULL)
		return;
	for (unsigned i = 0; i < vh->npairs; i++)
		if (vh->fd[i] >= 0)
			close(vh->fd[i]);
	free(vh);
}
