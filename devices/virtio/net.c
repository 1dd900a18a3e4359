/*
 * virtio-net on a tap device:
 *   -s slot,virtio-net,tap=NAME[,mac=MAC][,queues=N]
 *   -s slot,virtio-net,tapN[,mac=MAC][,queues=N]     (bhyve's spelling)
 *   -s slot,virtio-net,fd=N[,mac=MAC]
 * and ,transport=modern|transitional|legacy (virtio_pci.c),
 * with ,vhost=on|off|auto (default off) on a tap: vhost-net moves the
 * frames of each queue pair in the kernel once the driver is ready (see
 * vhost.c); on requires /dev/vhost-net and the module's irqfds, auto uses
 * them when both are there.
 * The backend is a file descriptor that carries one Ethernet frame per
 * read and write, each behind a 12-byte struct virtio_net_hdr_v1: a tap
 * opened with IFF_VNET_HDR, or (fd=N) any such descriptor hyve inherits,
 * a datagram socket pair for instance.  With a tap the checksum and TSO
 * offloads are offered to the guest, and what the guest accepts is passed
 * on with TUNSETOFFLOAD; an fd backend offers no offloads.  The guest's
 * header is the same 12 bytes, but for a legacy driver that negotiated
 * neither VERSION_1 nor MRG_RXBUF: its header is the 10-byte struct
 * virtio_net_hdr (no num_buffers), converted on the way through.
 *
 * Receive runs on the device worker: the backend fds sit in an epoll set
 * of our own that the worker watches.  A frame read from the backend waits
 * in a per-queue buffer while the guest has no receive buffers; the fd is
 * taken out of the set meanwhile and put back when the guest kicks the
 * receive queue.  Every chain is checked: a TX chain without a whole
 * header and Ethernet header, an RX chain too short for the frame, a
 * header asking for an offload that was not negotiated -- each is counted
 * and its head returned with length 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "devices/device.h"
#include "devices/pci/pci.h"
#include "devices/virtio/net_dev.h"
#include "devices/virtio/virtio.h"
#include "vmm/config.h"
#include "vmm/log.h"
#include "vmm/vm.h"

#define ETH_HLEN 14
#define FRAME_MAX (65535 + ETH_HLEN + 4)        /* a TSO frame, VLAN tag */
#define RXBUF_SIZE (VNET_HDR_LEN + FRAME_MAX)
#define RX_BUDGET 64            /* frames per wake-up before others run */
#define NEEDS_RESET 0x40

#define OFFLOAD_FEATURES ((1ull << VIRTIO_NET_F_CSUM) | \
	(1ull << VIRTIO_NET_F_GUEST_CSUM) | (1ull << VIRTIO_NET_F_GUEST_TSO4) | \
	(1ull << VIRTIO_NET_F_GUEST_TSO6) | (1ull << VIRTIO_NET_F_GUEST_ECN) | \
	(1ull << VIRTIO_NET_F_HOST_TSO4) | (1ull << VIRTIO_NET_F_HOST_TSO6) | \
	(1ull << VIRTIO_NET_F_HOST_ECN))

static const struct virtio_ops vnet_ops;

/* ---- options ---------------------------------------------------------- */

int
vnet_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char sep[5], end;
	if (strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 17; i++) {
		char ch = s[i];
		if (i % 3 == 2) {
			if (ch != ':' && ch != '-')
				return -EINVAL;
			sep[i / 3] = ch;
		} else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
		    (ch >= 'A' && ch <= 'F'))) {
			return -EINVAL;
		}
	}
	for (int i = 1; i < 5; i++)
		if (sep[i] != sep[0])
			return -EINVAL;
	if (sscanf(s, "%2x%*c%2x%*c%2x%*c%2x%*c%2x%*c%2x%c", &v[0], &v[1], &v[2],
	    &v[3], &v[4], &v[5], &end) != 6)
		return -EINVAL;
	if (v[0] & 1)
		return -EINVAL;                 /* multicast */
	if ((v[0] | v[1] | v[2] | v[3] | v[4] | v[5]) == 0)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

void
vnet_default_mac(const char *vmname, const char *slot, uint8_t mac[6])
{
	/* FNV-1a over "NAME/SLOT": stable across runs, distinct per NIC. */
	uint32_t h = 2166136261u;
	for (const char *p = vmname; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	h = (h ^ '/') * 16777619u;
	for (const char *p = slot; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	mac[0] = 0x52;                  /* locally administered, unicast */
	mac[1] = 0x54;
	mac[2] = (uint8_t)(h >> 24);
	mac[3] = (uint8_t)(h >> 16);
	mac[4] = (uint8_t)(h >> 8);
	mac[5] = (uint8_t)h;
}

static bool
valid_ifname(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= IFNAMSIZ || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (const char *p = s; *p; p++)
		if (*p == '/' || *p == ':' || *p <= ' ' || *p > '~')
			return false;
	return true;
}

int
vnet_parse_opts(const char *conf, struct vnet_opts *o, char *err,
    size_t errlen)
{
	static const char usage[] = "(-s slot,virtio-net,tap=NAME|tapN|fd=N"
	    "[,mac=MAC][,queues=N][,vhost=on|off|auto][,transport=T])";
	memset(o, 0, sizeof(*o));
	o->fd = -1;
	o->queues = 1;
	char buf[sizeof(((struct dev_config *)0)->conf)];
	snprintf(buf, sizeof(buf), "%s", conf ? conf : "");
	char *save, *tok;
	bool have_be = false;
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '='), *end;
		const char *name = NULL;
		if (eq == NULL && strncmp(tok, "tap", 3) == 0)
			name = tok;             /* bhyve: tap0 */
		else if (strncmp(tok, "tap=", 4) == 0)
			name = tok + 4;
		if (name != NULL) {
			if (have_be) {
				snprintf(err, errlen, "virtio-net: more than one "
				    "backend ('%s')", tok);
				return -EINVAL;
			}
			if (!valid_ifname(name)) {
				snprintf(err, errlen, "virtio-net: bad tap name '%s'",
				    name);
				return -EINVAL;
			}
			snprintf(o->tap, sizeof(o->tap), "%s", name);
			have_be = true;
		} else if (strncmp(tok, "fd=", 3) == 0) {
			errno = 0;
			long v = strtol(tok + 3, &end, 10);
			if (have_be || tok[3] == '\0' || *end || errno || v < 0 ||
			    v > 65535) {
				snprintf(err, errlen, "virtio-net: bad %s", tok);
				return -EINVAL;
			}
			o->fd = (int)v;
			have_be = true;
		} else if (strncmp(tok, "mac=", 4) == 0) {
			if (vnet_parse_mac(tok + 4, o->mac) < 0) {
				snprintf(err, errlen, "virtio-net: bad %s (want a "
				    "unicast address such as 52:54:00:12:34:56)", tok);
				return -EINVAL;
			}
			o->have_mac = true;
		} else if (strncmp(tok, "queues=", 7) == 0) {
			errno = 0;
			unsigned long v = strtoul(tok + 7, &end, 10);
			if (tok[7] == '\0' || *end || errno || v < 1 ||
			    v > VNET_MAX_PAIRS) {
				snprintf(err, errlen, "virtio-net: bad %s (1 to %d)",
				    tok, VNET_MAX_PAIRS);
				return -EINVAL;
			}
			o->queues = (unsigned)v;
		} else if (strncmp(tok, "vhost=", 6) == 0) {
			const char *v = tok + 6;
			if (strcmp(v, "on") == 0)
				o->vhost = VHOST_ON;
			else if (strcmp(v, "off") == 0)
				o->vhost = VHOST_OFF;
			else if (strcmp(v, "auto") == 0)
				o->vhost = VHOST_AUTO;
			else {
				snprintf(err, errlen, "virtio-net: bad %s (on, off "
				    "or auto)", tok);
				return -EINVAL;
			}
		} else if (!virtio_transport_opt(tok)) {
			snprintf(err, errlen, "virtio-net: unknown option '%s' %s",
			    tok, usage);
			return -EINVAL;
		}
	}
	if (!have_be) {
		snprintf(err, errlen, "virtio-net: no backend %s", usage);
		return -EINVAL;
	}
	if (o->fd >= 0 && o->queues > 1) {
		snprintf(err, errlen, "virtio-net: queues=%u needs a tap backend",
		    o->queues);
		return -EINVAL;
	}
	if (o->fd >= 0 && o->vhost == VHOST_ON) {
		snprintf(err, errlen, "virtio-net: vhost=on needs a tap backend");
		return -EINVAL;
	}
	return 0;
}

/* ---- backend ---------------------------------------------------------- */

static int
tap_open(struct vnet *n, const char *name, unsigned queues, char *err,
    size_t errlen)
{
	for (unsigned i = 0; i < queues; i++) {
		int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0) {
			int e = errno;
			snprintf(err, errlen, "virtio-net: /dev/net/tun: %s",
			    strerror(e));
			return e == ENOENT ? -ENOENT : -EACCES;
		}
		n->pair[i].fd = fd;
		unsigned feat = 0;
		if (ioctl(fd, TUNGETFEATURES, &feat) < 0 || !(feat & IFF_VNET_HDR) ||
		    (queues > 1 && !(feat & IFF_MULTI_QUEUE))) {
			snprintf(err, errlen, "virtio-net: the tun driver lacks %s",
			    queues > 1 ? "multi-queue or virtio headers" :
			    "virtio headers");
			return -EINVAL;
		}
		struct ifreq ifr;
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR |
		    (queues > 1 ? IFF_MULTI_QUEUE : 0);
		if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
			int e = errno;
			snprintf(err, errlen, "virtio-net: tap %s: %s%s", name,
			    strerror(e), e == EINVAL ? " (not a tap, or its "
			    "multi-queue setting differs)" : "");
			return e == EPERM ? -EACCES : e == EBUSY ? -EBUSY : -EINVAL;
		}
		int sz = VNET_HDR_LEN;
		if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0 ||
		    ioctl(fd, TUNSETOFFLOAD, 0ul) < 0) {
			snprintf(err, errlen, "virtio-net: tap %s: %s", name,
			    strerror(errno));
			return -EINVAL;
		}
		snprintf(n->ifname, sizeof(n->ifname), "%s", ifr.ifr_name);
	}
	return 0;
}

/* Only the first queue pair is used until the driver asks for more; a
 * multi-queue tap steers nothing to a detached queue. */
static void
tap_attach(struct vnet *n)
{
	if (!n->tap || n->npairs < 2)
		return;
	for (unsigned i = 1; i < n->npairs; i++) {
		struct ifreq ifr;
		memset(&ifr, 0, sizeof(ifr));
		ifr.ifr_flags = i < n->active ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE;
		if (ioctl(n->pair[i].fd, TUNSETQUEUE, &ifr) < 0 && errno != EINVAL)
			pr_warn("virtio-net: %s: queue %u: %s", n->ifname, i,
			    strerror(errno));
	}
}

static void
tap_offload(struct vnet *n, unsigned long flags)
{
	if (!n->tap)
		return;
	for (unsigned i = 0; i < n->npairs; i++)
		if (ioctl(n->pair[i].fd, TUNSETOFFLOAD, flags) < 0)
			pr_warn("virtio-net: %s: TUNSETOFFLOAD %#lx: %s",
			    n->ifname, flags, strerror(errno));
}

/* Watch the backend fd of p or not.  Out of the set rather than with no
 * events, since a hang-up would still be reported. */
void
vnet_poll_set(struct vnet_pair *p, bool on)
{
	if (p->polling == on || (on && (p->dead || p->vhost)))
		return;
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = p->idx };
	if (epoll_ctl(p->n->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, p->fd,
	    &ev) == 0)
		p->polling = on;
}

/* ---- helpers ---------------------------------------------------------- */

unsigned
vnet_hdr_len(const struct virtio_dev *d)
{
	return virtio_negotiated(d, VIRTIO_F_VERSION_1) ||
	    virtio_negotiated(d, VIRTIO_NET_F_MRG_RXBUF) ? VNET_HDR_LEN :
	    sizeof(struct virtio_net_hdr);
}

static void
needs_reset(struct virtio_dev *d)
{
	d->status |= NEEDS_RESET;
	virtio_config_changed(d);
}

static void
bad_len(struct virtio_dev *d, unsigned q, const char *what, uint64_t len)
{
	if (d->errors++ < 5)
		pr_warn("virtio-net (slot %u): queue %u: %s (%" PRIu64 " bytes)",
		    d->f->slot, q, what, len);
}

/* vq_pop's errors: false when the ring itself is broken and the device
 * must stop; else the head has been returned with length 0. */
static bool
chain_error(struct virtio_dev *d, unsigned q, const struct vq_chain *c,
    int r)
{
	struct virtqueue *vq = &d->vq[q];
	virtio_bad_chain(d, q, r);
	if (r == VQ_EBADIDX || (r == VQ_EBADHEAD && c->head >= vq->size)) {
		needs_reset(d);
		return false;
	}
	vq_push(vq, c->head, 0);
	return true;
}

/* The iovecs of c's readable part from off on, into out; returns how many. */
static int
iov_from(const struct vq_chain *c, uint64_t off, struct iovec *out)
{
	int k = 0;
	for (unsigned i = 0; i < c->nread; i++) {
		if (off >= c->iov[i].iov_len) {
			off -= c->iov[i].iov_len;
			continue;
		}
		out[k].iov_base = (uint8_t *)c->iov[i].iov_base + off;
		out[k].iov_len = c->iov[i].iov_len - off;
		k++;
		off = 0;
	}
	return k;
}

/* A header from the guest: only what was negotiated. */
static bool
tx_hdr_ok(struct virtio_dev *d, const struct virtio_net_hdr_v1 *h,
    uint64_t frame_len)
{
	if (h->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return false;
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!virtio_negotiated(d, VIRTIO_NET_F_CSUM) ||
		    (uint64_t)h->csum_start + h->csum_offset + 2 > frame_len)
			return false;
	}
	uint8_t gso = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	if (h->gso_type == VIRTIO_NET_HDR_GSO_NONE)
		return true;
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) &&
	    !virtio_negotiated(d, VIRTIO_NET_F_HOST_ECN))
		return false;
	if (gso == VIRTIO_NET_HDR_GSO_TCPV4)
		return virtio_negotiated(d, VIRTIO_NET_F_HOST_TSO4) &&
		    h->gso_size > 0 && (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM);
	if (gso == VIRTIO_NET_HDR_GSO_TCPV6)
		return virtio_negotiated(d, VIRTIO_NET_F_HOST_TSO6) &&
		    h->gso_size > 0 && (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM);
	return false;
}

/* A header from the backend: only what the guest accepted. */
static bool
rx_hdr_fix(struct virtio_dev *d, struct virtio_net_hdr_v1 *h)
{
	bool csum = virtio_negotiated(d, VIRTIO_NET_F_GUEST_CSUM);
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !csum)
		return false;
	h->flags &= csum ? (VIRTIO_NET_HDR_F_NEEDS_CSUM |
	    VIRTIO_NET_HDR_F_DATA_VALID) : 0;
	uint8_t gso = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	if (h->gso_type == VIRTIO_NET_HDR_GSO_NONE)
		return true;
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) &&
	    !virtio_negotiated(d, VIRTIO_NET_F_GUEST_ECN))
		return false;
	return (gso == VIRTIO_NET_HDR_GSO_TCPV4 &&
	    virtio_negotiated(d, VIRTIO_NET_F_GUEST_TSO4)) ||
	    (gso == VIRTIO_NET_HDR_GSO_TCPV6 &&
	    virtio_negotiated(d, VIRTIO_NET_F_GUEST_TSO6));
}

/* ---- transmit --------------------------------------------------------- */

static void
vnet_tx(struct vnet *n, unsigned q)
{
	static __thread struct vq_chain c;
	static __thread struct iovec iov[VQ_MAX_SEGS + 1];
	struct virtio_dev *d = n->d;
	struct vnet_pair *p = &n->pair[q / 2];
	struct virtqueue *vq = &d->vq[q];
	bool pushed = false;
	int r;
	while ((r = vq_pop(vq, &c)) != VQ_EMPTY) {
		if (r != VQ_OK) {
			if (!chain_error(d, q, &c, r))
				break;
			n->st.tx_bad_chains++;
			pushed = true;
			continue;
		}
		pushed = true;
		struct virtio_net_hdr_v1 h;
		unsigned hl = vnet_hdr_len(d);
		uint64_t frame = c.read_len - hl;
		if (c.nwrite > 0 || c.read_len < hl + ETH_HLEN ||
		    frame > FRAME_MAX) {
			bad_len(d, q, c.nwrite ? "transmit chain with writable "
			    "buffers" : "transmit chain shorter than its headers "
			    "or longer than a frame", c.read_len);
			n->st.tx_bad_chains++;
			vq_push(vq, c.head, 0);
			continue;
		}
		memset(&h, 0, sizeof(h));
		vq_copy_from(&c, 0, &h, hl);
		if (!tx_hdr_ok(d, &h, frame)) {
			bad_len(d, q, "transmit header asks for an offload not "
			    "negotiated", frame);
			n->st.tx_bad_chains++;
			vq_push(vq, c.head, 0);
			continue;
		}
		h.num_buffers = 0;
		iov[0].iov_base = &h;
		iov[0].iov_len = sizeof(h);
		int k = iov_from(&c, hl, iov + 1);
		struct msghdr mh = { .msg_iov = iov,
		    .msg_iovlen = (size_t)k + 1 };
		ssize_t w;
		do {
			w = n->sock ? sendmsg(p->fd, &mh, MSG_NOSIGNAL) :
			    writev(p->fd, iov, k + 1);
		} while (w < 0 && errno == EINTR);
		if (w < 0) {
			if (errno != EAGAIN && n->st.tx_dropped < 5)
				pr_warn("virtio-net: %s: write: %s", n->tap ?
				    n->ifname : "fd backend", strerror(errno));
			n->st.tx_dropped++;
		} else {
			n->st.tx_frames++;
			n->st.tx_bytes += frame;
		}
		vq_push(vq, c.head, 0);
	}
	if (pushed)
		virtio_notify(d, q);
}

/* ---- receive ---------------------------------------------------------- */

/* Drop every chain collected for a frame: each gets length 0. */
static void
rx_abandon(struct vnet *n, struct virtqueue *vq, unsigned nbuf)
{
	for (unsigned i = 0; i < nbuf; i++) {
		vq_push(vq, n->heads[i], 0);
		n->st.rx_bad_chains++;
	}
}

/* Put the waiting frame of p into the guest's buffers.  Returns 1 when it
 * was delivered or dropped (and chains were used), 0 when the guest has no
 * buffers (nothing consumed), -1 when the device must stop. */
static int
rx_deliver(struct vnet *n, struct vnet_pair *p)
{
	struct virtio_dev *d = n->d;
	unsigned q = 2 * p->idx;
	struct virtqueue *vq = &d->vq[q];
	size_t need = p->rxlen;
	bool mrg = virtio_negotiated(d, VIRTIO_NET_F_MRG_RXBUF);
	uint16_t start = vq->last_avail;
	unsigned nbuf = 0;
	size_t off = 0;
	int r;
	while (off < need) {
		struct vq_chain *c = nbuf == 0 ? &n->first : &n->c;
		r = vq_pop(vq, c);
		if (r == VQ_EMPTY) {
			/* Not enough buffers: give back what was taken (only
			 * good chains, nothing pushed) and let the frame wait. */
			vq->last_avail = start;
			return 0;
		}
		const char *why = NULL;
		if (r != VQ_OK)
			why = vq_strerror(r);
		else if (c->nread > 0)
			why = "receive chain with device-readable buffers";
		else if (!mrg && c->write_len < need)
			why = "receive buffer shorter than header and frame";
		else if (nbuf == 0 && c->write_len < vnet_hdr_len(d))
			why = "receive buffer shorter than the header";
		else if (c->write_len == 0)
			why = "empty receive buffer";
		if (why != NULL) {
			if (r != VQ_OK) {
				if (!chain_error(d, q, c, r)) {
					rx_abandon(n, vq, nbuf);
					return -1;
				}
			} else {
				bad_len(d, q, why, c->write_len);
				vq_push(vq, c->head, 0);
			}
			n->st.rx_bad_chains++;
			rx_abandon(n, vq, nbuf);
			n->st.rx_dropped++;
			p->rxlen = 0;
			return 1;
		}
		size_t k = c->write_len < need - off ? c->write_len : need - off;
		vq_copy_to(c, 0, p->rxbuf + off, k);
		n->heads[nbuf] = c->head;
		n->lens[nbuf] = (uint32_t)k;
		nbuf++;
		off += k;
		if (nbuf == vq->size && off < need) {
			/* Cannot happen with a sane ring: more buffers than
			 * entries.  Treat as an unusable ring. */
			rx_abandon(n, vq, nbuf);
			n->st.rx_dropped++;
			p->rxlen = 0;
			return 1;
		}
	}
	uint16_t nb = (uint16_t)nbuf;
	if (vnet_hdr_len(d) == VNET_HDR_LEN)
		vq_copy_to(&n->first, offsetof(struct virtio_net_hdr_v1,
		    num_buffers), &nb, sizeof(nb));
	for (unsigned i = 0; i < nbuf; i++)
		vq_push(vq, n->heads[i], n->lens[i]);
	n->st.rx_frames++;
	n->st.rx_bytes += need - vnet_hdr_len(d);
	p->rxlen = 0;
	return 1;
}

/* Move frames from the backend into the guest until either runs dry. */
static void
vnet_rx(struct vnet *n, struct vnet_pair *p)
{
	struct virtio_dev *d = n->d;
	unsigned q = 2 * p->idx;
	if (!(d->status & VIRTIO_CONFIG_S_DRIVER_OK) ||
	    (d->status & NEEDS_RESET) || !d->vq[q].ready || p->idx >= n->active) {
		vnet_poll_set(p, false);     /* a kick or DRIVER_OK resumes */
		return;
	}
	bool pushed = false;
	for (unsigned budget = RX_BUDGET; budget > 0; budget--) {
		if (p->rxlen == 0) {
			ssize_t r = read(p->fd, p->rxbuf, RXBUF_SIZE);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 && errno == EAGAIN)
				break;
			if (r <= 0) {
				/* The far end of an fd backend went away. */
				pr_warn("virtio-net: backend %s: %s", n->tap ?
				    n->ifname : "fd", r == 0 ? "closed" :
				    strerror(errno));
				vnet_poll_set(p, false);
				p->dead = true;
				return;
			}
			struct virtio_net_hdr_v1 *h = (void *)p->rxbuf;
			if ((size_t)r < VNET_HDR_LEN + ETH_HLEN || !rx_hdr_fix(d, h)) {
				n->st.rx_dropped++;
				continue;
			}
			/* A 10-byte legacy header: num_buffers goes. */
			size_t drop = VNET_HDR_LEN - vnet_hdr_len(d);
			if (drop)
				memmove(p->rxbuf + VNET_HDR_LEN - drop,
				    p->rxbuf + VNET_HDR_LEN, (size_t)r - VNET_HDR_LEN);
			p->rxlen = (size_t)r - drop;
		}
		int k = rx_deliver(n, p);
		if (k < 0)
			return;
		if (k == 0) {
			n->st.rx_stalls++;
			vnet_poll_set(p, false);
			goto out;
		}
		pushed = true;
	}
	vnet_poll_set(p, true);      /* drained, or the budget is used: go on */
out:
	if (pushed)
		virtio_notify(d, q);
}

/* The worker saw our epoll set readable. */
static void
vnet_backend_ready(struct virtio_dev *d, void *arg)
{
	struct vnet *n = arg;
	(void)d;
	struct epoll_event ev[VNET_MAX_PAIRS];
	int k = epoll_wait(n->ep, ev, VNET_MAX_PAIRS, 0);
	for (int i = 0; i < k; i++)
		if (ev[i].data.u32 < n->npairs)
			vnet_rx(n, &n->pair[ev[i].data.u32]);
}

/* ---- control queue ---------------------------------------------------- */

static void
vnet_ctrl(struct vnet *n, unsigned q)
{
	static __thread struct vq_chain c;
	struct virtio_dev *d = n->d;
	struct virtqueue *vq = &d->vq[q];
	bool pushed = false;
	int r;
	while ((r = vq_pop(vq, &c)) != VQ_EMPTY) {
		if (r != VQ_OK) {
			if (!chain_error(d, q, &c, r))
				break;
			n->st.ctrl_errors++;
			pushed = true;
			continue;
		}
		pushed = true;
		n->st.ctrl_cmds++;
		struct { uint8_t class, cmd; } hdr;
		if (c.read_len < sizeof(hdr) || c.write_len < 1) {
			bad_len(d, q, "control command without header or ack",
			    c.read_len);
			n->st.ctrl_errors++;
			vq_push(vq, c.head, 0);
			continue;
		}
		vq_copy_from(&c, 0, &hdr, sizeof(hdr));
		uint8_t ack = VIRTIO_NET_ERR;
		uint16_t pairs;
		if (hdr.class == VIRTIO_NET_CTRL_MQ &&
		    hdr.cmd == VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET &&
		    virtio_negotiated(d, VIRTIO_NET_F_MQ) &&
		    c.read_len == sizeof(hdr) + sizeof(pairs)) {
			vq_copy_from(&c, sizeof(hdr), &pairs, sizeof(pairs));
			if (pairs >= 1 && pairs <= n->npairs) {
				n->active = pairs;
				tap_attach(n);
				ack = VIRTIO_NET_OK;
				/* Newly active queues look for buffers. */
				for (unsigned i = 0; i < n->active; i++)
					vnet_poll_set(&n->pair[i], true);
			}
		}
		if (ack != VIRTIO_NET_OK)
			n->st.ctrl_errors++;
		vq_copy_to(&c, c.write_len - 1, &ack, 1);
		vq_push(vq, c.head, 1);
	}
	if (pushed)
		virtio_notify(d, q);
}

/* ---- virtio ops ------------------------------------------------------- */

static void
vnet_notify(struct virtio_dev *d, unsigned q)
{
	struct vnet *n = d->priv;
	if (q == 2 * n->npairs)
		vnet_ctrl(n, q);
	else if (q & 1)
		vnet_tx(n, q);
	else
		vnet_rx(n, &n->pair[q / 2]);    /* new buffers: resume */
}

static void
vnet_driver_ok(struct virtio_dev *d)
{
	struct vnet *n = d->priv;
	unsigned long off = 0;
	if (virtio_negotiated(d, VIRTIO_NET_F_GUEST_CSUM)) {
		off |= TUN_F_CSUM;
		if (virtio_negotiated(d, VIRTIO_NET_F_GUEST_TSO4))
			off |= TUN_F_TSO4;
		if (virtio_negotiated(d, VIRTIO_NET_F_GUEST_TSO6))
			off |= TUN_F_TSO6;
		if ((off & (TUN_F_TSO4 | TUN_F_TSO6)) &&
		    virtio_negotiated(d, VIRTIO_NET_F_GUEST_ECN))
			off |= TUN_F_TSO_ECN;
	}
	tap_offload(n, off);
	vnet_vhost_start(n);
}

static void
vnet_reset(struct virtio_dev *d)
{
	struct vnet *n = d->priv;
	vnet_vhost_stop(n);
	for (unsigned i = 0; i < n->npairs; i++) {
		if (n->pair[i].rxlen) {
			n->st.rx_dropped++;
			n->pair[i].rxlen = 0;
		}
	}
	n->active = 1;
	tap_attach(n);
	tap_offload(n, 0);
	memcpy(d->cfg, n->cfg, VNET_CFG_SIZE);
}

/* The configuration is read-only for a modern driver. */
static void
vnet_cfg_write(struct virtio_dev *d, unsigned off, unsigned len)
{
	struct vnet *n = d->priv;
	(void)off;
	(void)len;
	memcpy(d->cfg, n->cfg, VNET_CFG_SIZE);
}

static const struct virtio_ops vnet_ops = {
	.name = "virtio-net",
	.device_type = 1,
	.pci_class = 0x02, .pci_subclass = 0x00,
	.features = (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_STATUS) |
	    (1ull << VIRTIO_NET_F_MRG_RXBUF),
	.cfg_size = VNET_CFG_SIZE,
	.queue_notify = vnet_notify,
	.cfg_write = vnet_cfg_write,
	.reset = vnet_reset,
	.driver_ok = vnet_driver_ok,
};

const struct vnet_stats *
vnet_get_stats(const struct virtio_dev *d)
{
	if (d == NULL || d->ops != &vnet_ops)
		return NULL;
	return &((const struct vnet *)d->priv)->st;
}

/* ---- creation --------------------------------------------------------- */

static void
vnet_close(void *arg)
{
	struct vnet *n = arg;
	for (unsigned i = 0; i < n->npairs; i++) {
		if (n->own_fds && n->pair[i].fd >= 0)
			close(n->pair[i].fd);
		free(n->pair[i].rxbuf);
	}
	if (n->ep >= 0)
		close(n->ep);
}

static int
vnet_init(struct vm *vm, const struct dev_config *dc, char *err,
    size_t errlen)
{
	struct vnet_opts o;
	int r = vnet_parse_opts(dc->conf, &o, err, errlen);
	if (r < 0)
		return r;
	struct vnet *n = vm_dev_alloc(vm, sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	n->ep = -1;
	n->npairs = o.queues;
	n->active = 1;
	for (unsigned i = 0; i < VNET_MAX_PAIRS; i++)
		n->pair[i] = (struct vnet_pair){ .n = n, .idx = i, .fd = -1 };
	r = vm_add_hook(vm, false, vnet_close, n);
	if (r < 0)
		return r;
	if (o.fd >= 0) {
		struct stat st;
		int fl = fcntl(o.fd, F_GETFL);
		if (fl < 0 || fstat(o.fd, &st) < 0 || (fl & O_ACCMODE) != O_RDWR) {
			snprintf(err, errlen, "virtio-net: fd=%d: %s", o.fd,
			    fl < 0 ? strerror(errno) : "not open for reading "
			    "and writing");
			return -EINVAL;
		}
		if (fcntl(o.fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
		    fcntl(o.fd, F_SETFD, FD_CLOEXEC) < 0) {
			snprintf(err, errlen, "virtio-net: fd=%d: %s", o.fd,
			    strerror(errno));
			return -EINVAL;
		}
		n->pair[0].fd = o.fd;
		n->own_fds = true;
		n->sock = S_ISSOCK(st.st_mode);
	} else {
		n->tap = true;
		n->own_fds = true;
		r = tap_open(n, o.tap, o.queues, err, errlen);
		if (r < 0)
			return r;
	}
	n->ep = epoll_create1(EPOLL_CLOEXEC);
	if (n->ep < 0) {
		snprintf(err, errlen, "virtio-net: epoll: %s", strerror(errno));
		return -errno;
	}
	for (unsigned i = 0; i < n->npairs; i++) {
		struct vnet_pair *p = &n->pair[i];
		p->rxbuf = malloc(RXBUF_SIZE);
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
		if (p->rxbuf == NULL)
			return -ENOMEM;
		if (epoll_ctl(n->ep, EPOLL_CTL_ADD, p->fd, &ev) < 0) {
			snprintf(err, errlen, "virtio-net: fd %d cannot be polled: "
			    "%s", p->fd, strerror(errno));
			return -EINVAL;
		}
		p->polling = true;
	}
	tap_attach(n);
	r = vnet_vhost_open(n, &o, dc, err, errlen);
	if (r < 0)
		return r;

	uint8_t mac[6];
	if (o.have_mac)
		memcpy(mac, o.mac, 6);
	else
		vnet_default_mac(vm->cfg.name, dc->slot, mac);
	struct virtio_net_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	memcpy(cfg.mac, mac, 6);
	cfg.status = VIRTIO_NET_S_LINK_UP;
	cfg.max_virtqueue_pairs = (uint16_t)n->npairs;
	memcpy(n->cfg, &cfg, VNET_CFG_SIZE);

	unsigned nq = 2 * n->npairs + (n->npairs > 1 ? 1 : 0);
	struct virtio_dev *d;
	r = virtio_dev_create(vm, dc, &vnet_ops, n, nq, VNET_QUEUE_SIZE, &d, err,
	    errlen);
	if (r < 0)
		return r;
	n->d = d;
	r = vnet_vhost_irqfds(n, &o, dc, err, errlen);
	if (r < 0)
		return r;
	r = vm_add_hook(vm, false, vnet_vhost_close, n);
	if (r < 0)
		return r;
	pthread_mutex_lock(&d->lock);
	memcpy(d->cfg, n->cfg, VNET_CFG_SIZE);
	if (n->tap)
		d->offered |= OFFLOAD_FEATURES;
	if (n->npairs > 1)
		d->offered |= (1ull << VIRTIO_NET_F_CTRL_VQ) |
		    (1ull << VIRTIO_NET_F_MQ);
	vnet_vhost_offer(n);
	pthread_mutex_unlock(&d->lock);
	r = virtio_poll_fd(d, n->ep, vnet_backend_ready, n);
	if (r < 0) {
		snprintf(err, errlen, "virtio-net: cannot watch the backend: %s",
		    strerror(-r));
		return r;
	}
	pr_info("virtio-net (slot %s): %s%s, mac %02x:%02x:%02x:%02x:%02x:%02x, "
	    "%u queue pair%s%s", dc->slot, n->tap ? "tap " : "fd backend",
	    n->tap ? n->ifname : "", mac[0], mac[1], mac[2], mac[3], mac[4],
	    mac[5], n->npairs, n->npairs > 1 ? "s" : "", n->vh ? ", vhost-net" :
	    "");
	return 0;
}

static const struct device_emul virtio_net = {
	.name = "virtio-net", .kind = DEV_PCI, .init = vnet_init,
};
DEVICE_EMUL(virtio_net);
