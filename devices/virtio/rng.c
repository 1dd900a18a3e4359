/*
 * virtio-rng (entropy device):  -s slot,virtio-rng[,transport=T]
 * One request queue; each chain's device-writable buffers are filled from
 * getrandom(2), at most RNG_MAX bytes a request.  A chain with readable
 * buffers or no writable space is malformed: it is counted and returned
 * with length 0.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "devices/device.h"
#include "devices/pci/pci.h"
#include "devices/virtio/virtio.h"
#include "vmm/config.h"
#include "vmm/log.h"
#include "vmm/vm.h"

#define QUEUE_SIZE 64
#define RNG_MAX 65536u          /* bytes per request: keeps the worker fair */
#define NEEDS_RESET 0x40

/* Fill up to len bytes at p; returns how many (getrandom may return
 * fewer, and would block only before the host's pool is initialised). */
static size_t
fill(uint8_t *p, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t r = getrandom(p + done, len - done, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		done += (size_t)r;
	}
	return done;
}

static uint32_t
handle(struct virtio_dev *d, unsigned q, const struct vq_chain *c)
{
	if (c->nread > 0 || c->write_len == 0) {
		if (d->errors++ < 5)
			pr_warn("virtio-rng (slot %u): queue %u: request with %s",
			    d->f->slot, q, c->nread ? "device-readable buffers" :
			    "no writable buffer");
		return 0;
	}
	uint64_t left = c->write_len < RNG_MAX ? c->write_len : RNG_MAX;
	uint32_t done = 0;
	for (unsigned i = 0; i < c->nwrite && left > 0; i++) {
		const struct iovec *v = &c->iov[c->nread + i];
		size_t k = v->iov_len < left ? v->iov_len : (size_t)left;
		size_t got = fill(v->iov_base, k);
		done += (uint32_t)got;
		left -= got;
		if (got < k)
			break;
	}
	return done;
}

static void
rng_notify(struct virtio_dev *d, unsigned q)
{
	static __thread struct vq_chain c;
	struct virtqueue *vq = &d->vq[q];
	bool pushed = false;
	int r;
	while ((r = vq_pop(vq, &c)) != VQ_EMPTY) {
		uint32_t len = 0;
		if (r == VQ_OK) {
			len = handle(d, q, &c);
		} else {
			virtio_bad_chain(d, q, r);
			if (r == VQ_EBADIDX || (r == VQ_EBADHEAD &&
			    c.head >= vq->size)) {
				d->status |= NEEDS_RESET;
				virtio_config_changed(d);
				break;
			}
		}
		vq_push(vq, c.head, len);
		pushed = true;
	}
	if (pushed)
		virtio_notify(d, q);
}

static const struct virtio_ops rng_ops = {
	.name = "virtio-rng",
	.device_type = 4,
	.pci_class = 0xff, .pci_subclass = 0x00,
	.features = 0,
	.cfg_size = 0,
	.queue_notify = rng_notify,
};

static int
rng_init(struct vm *vm, const struct dev_config *dc, char *err, size_t errlen)
{
	char buf[sizeof(dc->conf)], *save, *tok;
	snprintf(buf, sizeof(buf), "%s", dc->conf);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (!virtio_transport_opt(tok)) {
			snprintf(err, errlen, "virtio-rng: takes no options but "
			    "transport= ('%s')", tok);
			return -EINVAL;
		}
	}
	struct virtio_dev *d;
	return virtio_dev_create(vm, dc, &rng_ops, NULL, 1, QUEUE_SIZE, &d, err,
	    errlen);
}

static const struct device_emul virtio_rng = {
	.name = "virtio-rng", .kind = DEV_PCI, .init = rng_init,
};
DEVICE_EMUL(virtio_rng);
