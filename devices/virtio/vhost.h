/*
 * vhost-net: the kernel moves a virtio-net queue pair's frames between the
 * guest's rings and a tap, with no hyve thread on the data path.  Kicks
 * come from the queues' ioeventfds, completions go out through the
 * vectors' irqfds (pci_vector_eventfd).  One /dev/vhost-net descriptor per
 * queue pair.  Functions return 0 or a negative errno with a one-line
 * reason in err where they take one.
 */
#ifndef HYVE_VHOST_H
#define HYVE_VHOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct virtio_dev;
struct vhost_net;

#define VHOST_NET_DEV "/dev/vhost-net"

/* Open dev (VHOST_NET_DEV) once per queue pair and take ownership;
 * -ENOENT when it does not exist. */
int vhost_net_open(const char *dev, unsigned npairs, struct vhost_net **out,
    char *err, size_t errlen);
/* The feature bits vhost handles (ring layout and the like); a bit it
 * lacks must not be offered to the guest. */
uint64_t vhost_net_features(const struct vhost_net *vh);
/* Hand queue pair i (queues 2i and 2i+1 of d, d->lock held, rings ready)
 * to vhost with tap fd tapfd. */
int vhost_net_start_pair(struct vhost_net *vh, struct virtio_dev *d,
    unsigned i, int tapfd, char *err, size_t errlen);
/* Take pair i back: the rings' positions return to d's queues. */
void vhost_net_stop_pair(struct vhost_net *vh, struct virtio_dev *d,
    unsigned i);
bool vhost_net_running(const struct vhost_net *vh, unsigned i);
void vhost_net_close(struct vhost_net *vh);

#endif
