/*
 * virtio-net: the parts the unit tests reach directly (option and MAC
 * parsing, the default MAC, the device's counters).  The device itself
 * registers as "virtio-net" (devices/virtio/net.c).
 */
#ifndef HYVE_VIRTIO_NET_H
#define HYVE_VIRTIO_NET_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct virtio_dev;

#define VNET_MAX_PAIRS 8
#define VNET_HDR_LEN 12         /* struct virtio_net_hdr_v1 */

struct vnet_opts {
	char tap[IFNAMSIZ];     /* tap=NAME or bhyve's tapN; "" if fd= */
	int fd;                 /* fd=N, else -1 */
	bool have_mac;
	uint8_t mac[6];
	unsigned queues;        /* queue pairs, 1 to VNET_MAX_PAIRS */
	enum vnet_vhost { VHOST_OFF, VHOST_ON, VHOST_AUTO } vhost;
};

/* What the device saw; every frame or chain it did not pass on is counted
 * in one of these. */
struct vnet_stats {
	uint64_t rx_frames, rx_bytes;
	uint64_t rx_dropped;            /* frames dropped: no fitting buffer,
					 * bad header from the backend, reset */
	uint64_t rx_stalls;             /* times the guest had no buffers */
	uint64_t rx_bad_chains;         /* RX chains answered with length 0 */
	uint64_t tx_frames, tx_bytes;
	uint64_t tx_bad_chains;         /* TX chains refused (short, bad header) */
	uint64_t tx_dropped;            /* backend refused or was full */
	uint64_t ctrl_cmds, ctrl_errors;
	uint64_t vhost_starts;          /* queue pairs handed to vhost-net */
};

/* Parse what follows "virtio-net," on -s.  0, or -EINVAL with one line. */
int vnet_parse_opts(const char *conf, struct vnet_opts *o, char *err,
    size_t errlen);
/* "52:54:00:12:34:56" (':' or '-' between the bytes); unicast, not zero. */
int vnet_parse_mac(const char *s, uint8_t mac[6]);
/* A stable locally administered unicast MAC from the VM name and slot. */
void vnet_default_mac(const char *vmname, const char *slot, uint8_t mac[6]);
/* The counters of a virtio-net device, NULL if d is another device. */
const struct vnet_stats *vnet_get_stats(const struct virtio_dev *d);

#endif
