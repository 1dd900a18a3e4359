/*
 * virtio over PCI: one device model fills a struct virtio_ops; the
 * transport (modern virtio 1.x, legacy virtio 0.9.5 in an I/O BAR, or
 * transitional, which is both) handles the PCI capabilities, feature
 * negotiation, device status, queue set-up and interrupts, and runs the
 * device's queue handlers on a worker thread of its own, woken by an
 * eventfd per queue (registered as an ioeventfd with the kernel module
 * where it can be, so a notification does not go through user space on the
 * vCPU thread).
 */
#ifndef HYVE_VIRTIO_H
#define HYVE_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/virtqueue.h"

struct vm;
struct pci_func;
struct dev_config;
struct virtio_dev;

struct virtio_ops {
	const char *name;
	uint16_t device_type;           /* 1 net, 2 block, 3 console, 4 rng */
	uint8_t pci_class, pci_subclass;
	uint64_t features;              /* device-specific feature bits */
	unsigned cfg_size;              /* bytes of device configuration */
	/* A queue has buffers (worker thread, device lock held). */
	void (*queue_notify)(struct virtio_dev *d, unsigned q);
	/* Optional: the guest wrote device configuration (lock held). */
	void (*cfg_write)(struct virtio_dev *d, unsigned off, unsigned len);
	/* Optional: reset device state (lock held). */
	void (*reset)(struct virtio_dev *d);
	/* Optional: the driver set DRIVER_OK (lock held). */
	void (*driver_ok)(struct virtio_dev *d);
};

/* -s slot,virtio-X,...,transport=modern|transitional|legacy */
enum virtio_transport {
	VIRTIO_MODERN,          /* IDs 0x1040+, BAR4 capabilities only */
	VIRTIO_TRANSITIONAL,    /* legacy IDs, I/O BAR0 and the capabilities */
	VIRTIO_LEGACY,          /* legacy IDs, I/O BAR0 only */
};

typedef void (*virtio_fd_cb)(struct virtio_dev *d, void *arg);

struct virtio_dev {
	const struct virtio_ops *ops;
	void *priv;
	struct vm *vm;
	struct pci_func *f;
	enum virtio_transport transport;
	pthread_mutex_t lock;
	unsigned nvq;
	uint16_t queue_max;
	struct virtqueue *vq;
	int *kick;                      /* eventfd per queue */
	uint64_t external;              /* queues served outside hyve (vhost) */
	bool *ioeventfd;                /* registered with the module */
	uint64_t notify_gpa;            /* where the notify region is mapped */
	uint8_t cfg[256];               /* device configuration */
	uint32_t dfselect, gfselect;
	uint64_t offered, driver_features;
	uint8_t status, cfg_generation, isr;
	uint16_t queue_sel, msix_config;
	/* worker */
	pthread_t worker;
	bool worker_running;
	int epfd, stop_fd;
	uint64_t errors;                /* bad chains seen */
};

/* Whether tok (one comma-separated word of a device's -s configuration)
 * is the transport's, which the device's own parser then skips. */
bool virtio_transport_opt(const char *tok);

/* Create the PCI function and the queues; the model then fills d->cfg. */
int virtio_dev_create(struct vm *vm, const struct dev_config *dc,
    const struct virtio_ops *ops, void *priv, unsigned nqueues,
    uint16_t queue_max, struct virtio_dev **out, char *err, size_t errlen);
/* Watch another fd on the worker (a tap, say): cb runs with the lock held. */
int virtio_poll_fd(struct virtio_dev *d, int fd, virtio_fd_cb cb, void *arg);
/* After vq_push: interrupt the driver if it wants one. */
void virtio_notify(struct virtio_dev *d, unsigned q);
/* The configuration changed: bump the generation, raise the config vector. */
void virtio_config_changed(struct virtio_dev *d);
/* A malformed chain: count it, report it once, and tell the caller whether
 * the device should stop (DEVICE_NEEDS_RESET) rather than go on. */
void virtio_bad_chain(struct virtio_dev *d, unsigned q, int err);
bool virtio_negotiated(const struct virtio_dev *d, unsigned bit);
/* Queue q is served elsewhere (on: its kicks no longer wake the worker,
 * which leaves the queue alone) or by the device model again (off).
 * d->lock held. */
int virtio_queue_external(struct virtio_dev *d, unsigned q, bool on);

#endif
