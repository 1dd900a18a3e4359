/*
 * virtio-net's device state, shared by the device (net.c) and its
 * vhost-net glue (net_vhost.c).  Not for other users: they have net.h.
 */
#ifndef HYVE_VIRTIO_NET_DEV_H
#define HYVE_VIRTIO_NET_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/net.h"
#include "devices/virtio/virtqueue.h"

struct dev_config;
struct vhost_net;

#define VNET_QUEUE_SIZE 256
#define VNET_CFG_SIZE 10        /* mac, status, max_virtqueue_pairs */

struct vnet;

struct vnet_pair {
	struct vnet *n;
	unsigned idx;
	int fd;
	bool polling;           /* fd is in n->ep */
	bool dead;              /* the far end of an fd backend is gone */
	bool vhost;             /* vhost-net serves the pair */
	uint8_t *rxbuf;         /* a frame from the backend, waiting */
	size_t rxlen;           /* 0: nothing waiting */
};

struct vnet {
	struct virtio_dev *d;
	bool tap;               /* else an fd backend */
	bool sock;              /* the fd backend is a socket */
	bool own_fds;
	char ifname[IFNAMSIZ];
	unsigned npairs, active;
	struct vnet_pair pair[VNET_MAX_PAIRS];
	int ep;                 /* epoll over the backend fds */
	uint8_t cfg[VNET_CFG_SIZE];
	struct vnet_stats st;
	struct vhost_net *vh;   /* NULL: frames go through hyve */
	/* RX with mergeable buffers: the first chain (for num_buffers) and
	 * the ones that follow, each to be pushed once the frame fits. */
	struct vq_chain first, c;
	uint16_t heads[VNET_QUEUE_SIZE];
	uint32_t lens[VNET_QUEUE_SIZE];
};

/* Watch the backend fd of p or not (net.c). */
void vnet_poll_set(struct vnet_pair *p, bool on);
/* The guest's header length: 12, or 10 for a legacy driver without
 * MRG_RXBUF (net.c). */
unsigned vnet_hdr_len(const struct virtio_dev *d);

/* net_vhost.c (d->lock held but for open, irqfds and close). */
/* vhost=on|auto: open /dev/vhost-net, or say why not (an error for on). */
int vnet_vhost_open(struct vnet *n, const struct vnet_opts *o,
    const struct dev_config *dc, char *err, size_t errlen);
/* After the device exists: vhost needs its irqfds, or it is closed. */
int vnet_vhost_irqfds(struct vnet *n, const struct vnet_opts *o,
    const struct dev_config *dc, char *err, size_t errlen);
/* Take back the offered features vhost does not handle. */
void vnet_vhost_offer(struct vnet *n);
void vnet_vhost_start(struct vnet *n);
void vnet_vhost_stop(struct vnet *n);
/* A VM hook: stop and close vhost before the function goes. */
void vnet_vhost_close(void *arg);

#endif
