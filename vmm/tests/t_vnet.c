/* virtio-net: options, MAC, configuration, and the TX and RX paths with a
 * datagram socket pair standing in for the tap (fd=N), then with a real
 * tap in a network namespace of the test's own. */
#include <atf-c.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/if_packet.h>

#include "devices/virtio/net.h"
#include "devices/virtio/virtio.h"
#include "vmm/tests/vdrv.h"

#define RXQ 0
#define TXQ 1
#define F(b) (1ull << (b))
#define BASE (F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MAC) | \
	F(VIRTIO_NET_F_STATUS))

static char err[256];

ATF_TC_WITHOUT_HEAD(mac_parse);
ATF_TC_BODY(mac_parse, tc)
{
	uint8_t m[6];
	ATF_REQUIRE_EQ(vnet_parse_mac("52:54:00:ab:CD:0f", m), 0);
	ATF_CHECK(m[0] == 0x52 && m[3] == 0xab && m[4] == 0xcd && m[5] == 0x0f);
	ATF_CHECK_EQ(vnet_parse_mac("02-00-00-00-00-01", m), 0);
	static const char *bad[] = { "", "52:54:00:ab:cd", "52:54:00:ab:cd:ef:01",
	    "52:54:00:ab:cd:eg", "52:54-00:ab:cd:ef", "01:00:5e:00:00:01",
	    "00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "5254.00ab.cdef",
	    " 52:54:00:ab:cd:e", "52:54:00:ab:cd:+f" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ATF_CHECK_MSG(vnet_parse_mac(bad[i], m) < 0, "accepted '%s'",
		    bad[i]);
}

ATF_TC_WITHOUT_HEAD(mac_default);
ATF_TC_BODY(mac_default, tc)
{
	uint8_t a[6], b[6], c[6], d[6];
	vnet_default_mac("vm1", "3", a);
	vnet_default_mac("vm1", "3", b);
	vnet_default_mac("vm1", "4", c);
	vnet_default_mac("vm2", "3", d);
	ATF_CHECK(memcmp(a, b, 6) == 0);
	ATF_CHECK(memcmp(a, c, 6) != 0);
	ATF_CHECK(memcmp(a, d, 6) != 0);
	ATF_CHECK_EQ(a[0] & 3, 2);              /* local, unicast */
	vnet_default_mac("vm1", "3:1", c);
	ATF_CHECK(memcmp(a, c, 6) != 0);
}

ATF_TC_WITHOUT_HEAD(options);
ATF_TC_BODY(options, tc)
{
	struct vnet_opts o;
	ATF_REQUIRE_EQ(vnet_parse_opts("tap0", &o, err, sizeof(err)), 0);
	ATF_CHECK_STREQ(o.tap, "tap0");
	ATF_CHECK(o.fd == -1 && o.queues == 1 && !o.have_mac);
	ATF_REQUIRE_EQ(vnet_parse_opts("tap=vt0,mac=52:54:00:00:00:07,queues=4",
	    &o, err, sizeof(err)), 0);
	ATF_CHECK(strcmp(o.tap, "vt0") == 0 && o.have_mac && o.mac[5] == 7 &&
	    o.queues == 4);
	ATF_REQUIRE_EQ(vnet_parse_opts("fd=5", &o, err, sizeof(err)), 0);
	ATF_CHECK(o.fd == 5 && o.tap[0] == '\0' && o.vhost == VHOST_OFF);
	ATF_REQUIRE_EQ(vnet_parse_opts("tap0,vhost=on", &o, err, sizeof(err)), 0);
	ATF_CHECK(o.vhost == VHOST_ON);
	ATF_REQUIRE_EQ(vnet_parse_opts("tap0,vhost=auto", &o, err, sizeof(err)), 0);
	ATF_CHECK(o.vhost == VHOST_AUTO);
	ATF_REQUIRE_EQ(vnet_parse_opts("fd=5,vhost=auto", &o, err, sizeof(err)), 0);
	ATF_CHECK(o.vhost == VHOST_AUTO);
	static const char *bad[] = { "", "mac=52:54:00:00:00:01", "tap=",
	    "tap=a/b", "tap=0123456789abcdef", "tap0,tap1", "tap0,fd=3",
	    "tap0,queues=0", "tap0,queues=9", "tap0,queues=x", "fd=-1", "fd=",
	    "fd=3,queues=2", "tap0,mac=01:00:00:00:00:01", "tap0,bogus",
	    "tap0,vhost=yes", "tap0,vhost=", "fd=3,vhost=on", "eth0" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ATF_CHECK_MSG(vnet_parse_opts(bad[i], &o, err, sizeof(err)) ==
		    -EINVAL, "accepted '%s'", bad[i]);
		ATF_CHECK_MSG(strncmp(err, "virtio-net: ", 12) == 0 &&
		    strchr(err, '\n') == NULL, "'%s': message '%s'", bad[i], err);
	}
}

/* A device on one end of a datagram socket pair; *peer is the other. */
static void
attach_fd(struct vdrv *v, int *peer)
{
	int sv[2];
	signal(SIGPIPE, SIG_IGN);
	ATF_REQUIRE_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	char conf[64];
	snprintf(conf, sizeof(conf), "fd=%d,mac=52:54:00:01:02:03", sv[0]);
	int r = vdrv_attach(v, "t", "virtio-net", conf, err, sizeof(err));
	ATF_REQUIRE_MSG(r == 0, "%s", err);
	*peer = sv[1];
}

static void
start(struct vdrv *v, uint64_t feat)
{
	ATF_REQUIRE(vdrv_negotiate(v, feat));
	vdrv_queue(v, RXQ, 16);
	vdrv_queue(v, TXQ, 16);
	vdrv_driver_ok(v);
}

static const struct vnet_stats *
stats(struct vdrv *v)
{
	const struct vnet_stats *s = vnet_get_stats(v->d);
	ATF_REQUIRE(s != NULL);
	return s;
}

/* Read a 64-bit counter the worker updates. */
static uint64_t
ld(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

ATF_TC_WITHOUT_HEAD(config_layout);
ATF_TC_BODY(config_layout, tc)
{
	struct vdrv v;
	int peer;
	attach_fd(&v, &peer);
	uint64_t f = vdrv_device_features(&v);
	ATF_CHECK((f & (BASE | F(VIRTIO_NET_F_MRG_RXBUF))) ==
	    (BASE | F(VIRTIO_NET_F_MRG_RXBUF)));
	/* An fd backend cannot complete checksums: no offloads. */
	ATF_CHECK(!(f & (F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) |
	    F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_MQ))));
	ATF_CHECK_EQ(vdrv_read(&v, 18, 2), 2);          /* num_queues */
	uint8_t mac[6];
	for (unsigned i = 0; i < 6; i++)
		mac[i] = (uint8_t)vdrv_cfg_read(&v, i, 1);
	ATF_CHECK(memcmp(mac, "\x52\x54\x00\x01\x02\x03", 6) == 0);
	ATF_CHECK_EQ(vdrv_cfg_read(&v, 6, 2), VIRTIO_NET_S_LINK_UP);
	ATF_CHECK_EQ(vdrv_cfg_read(&v, 8, 2), 1);
	/* The configuration is read-only. */
	vdrv_cfg_write(&v, 0, 4, 0xffffffff);
	ATF_CHECK_EQ(vdrv_cfg_read(&v, 0, 4), 0x01005452);
	/* Features not offered are refused. */
	ATF_CHECK(!vdrv_negotiate(&v, BASE | F(VIRTIO_NET_F_CSUM)));
	vdrv_detach(&v);
	close(peer);
	/* Without mac=, the MAC comes from the VM name and slot. */
	int sv[2];
	ATF_REQUIRE_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	char conf[32];
	snprintf(conf, sizeof(conf), "fd=%d", sv[0]);
	ATF_REQUIRE_EQ(vdrv_attach(&v, "myvm", "virtio-net", conf, err,
	    sizeof(err)), 0);
	vnet_default_mac("myvm", "3", mac);
	for (unsigned i = 0; i < 6; i++)
		ATF_CHECK_EQ(vdrv_cfg_read(&v, i, 1), mac[i]);
	vdrv_detach(&v);
	close(sv[1]);
}

ATF_TC_WITHOUT_HEAD(bad_fd);
ATF_TC_BODY(bad_fd, tc)
{
	struct vdrv v;
	int fd = open("/dev/null", O_RDONLY);
	char conf[32];
	snprintf(conf, sizeof(conf), "fd=%d", fd);
	ATF_CHECK(vdrv_attach(&v, "t", "virtio-net", conf, err, sizeof(err)) < 0);
	ATF_CHECK(strstr(err, "not open for reading and writing") != NULL);
	vdrv_detach(&v);
	ATF_CHECK(vdrv_attach(&v, "t", "virtio-net", "fd=999", err,
	    sizeof(err)) < 0);
	vdrv_detach(&v);
}

/* A frame: header (12 bytes) then an Ethernet frame of len bytes. */
static void
put_frame(uint8_t *p, size_t len, uint8_t seed)
{
	memset(p, 0, VNET_HDR_LEN);
	for (size_t i = 0; i < len; i++)
		p[VNET_HDR_LEN + i] = (uint8_t)(seed + i * 7);
}

ATF_TC_WITHOUT_HEAD(tx_path);
ATF_TC_BODY(tx_path, tc)
{
	struct vdrv v;
	int peer;
	attach_fd(&v, &peer);
	start(&v, BASE);
	uint8_t *m = vdrv_mem(&v, VDRV_DATA);
	put_frame(m, 60, 1);
	/* Header and frame split over three buffers. */
	struct vbuf b[3] = { { VDRV_DATA, 12, false },
	    { VDRV_DATA + 12, 20, false }, { VDRV_DATA + 32, 40, false } };
	uint16_t head = vdrv_add(&v, TXQ, b, 3);
	vdrv_kick(&v, TXQ);
	uint32_t id, len;
	ATF_REQUIRE(vdrv_used(&v, TXQ, &id, &len, 2000));
	ATF_CHECK(id == head && len == 0);
	uint8_t got[200];
	ssize_t n = recv(peer, got, sizeof(got), MSG_DONTWAIT);
	ATF_REQUIRE_EQ(n, 72);
	ATF_CHECK(memcmp(got, m, 72) == 0);
	ATF_CHECK_EQ(ld(&stats(&v)->tx_frames), 1);
	ATF_CHECK_EQ(ld(&stats(&v)->tx_bytes), 60);
	vdrv_detach(&v);
	close(peer);
}

ATF_TC_WITHOUT_HEAD(tx_bad_chains);
ATF_TC_BODY(tx_bad_chains, tc)
{
	struct vdrv v;
	int peer;
	attach_fd(&v, &peer);
	start(&v, BASE);
	uint8_t *m = vdrv_mem(&v, VDRV_DATA);
	put_frame(m, 60, 1);
	uint32_t id, len;
	/* Shorter than the header; header but a runt frame; a writable
	 * buffer; a checksum offload and a TSO frame not negotiated. */
	struct vbuf shorthdr = { VDRV_DATA, 8, false };
	struct vbuf runt = { VDRV_DATA, 12 + 10, false };
	struct vbuf wr[2] = { { VDRV_DATA, 72, false }, { VDRV_DATA + 100, 10,
	    true } };
	vdrv_add(&v, TXQ, &shorthdr, 1);
	vdrv_add(&v, TXQ, &runt, 1);
	vdrv_add(&v, TXQ, wr, 2);
	vdrv_kick(&v, TXQ);
	for (int i = 0; i < 3; i++) {
		ATF_REQUIRE(vdrv_used(&v, TXQ, &id, &len, 2000));
		ATF_CHECK_EQ(len, 0);
	}
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
	    .csum_start = 34, .csum_offset = 16 };
	memcpy(vdrv_mem(&v, VDRV_DATA + 0x1000), &h, sizeof(h));
	memcpy(vdrv_mem(&v, VDRV_DATA + 0x1000 + 12), m + 12, 60);
	struct vbuf csum = { VDRV_DATA + 0x1000, 72, false };
	vdrv_add(&v, TXQ, &csum, 1);
	h = (struct virtio_net_hdr_v1){ .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
	    .gso_size = 1448 };
	memcpy(vdrv_mem(&v, VDRV_DATA + 0x2000), &h, sizeof(h));
	memcpy(vdrv_mem(&v, VDRV_DATA + 0x2000 + 12), m + 12, 60);
	struct vbuf gso = { VDRV_DATA + 0x2000, 72, false };
	vdrv_add(&v, TXQ, &gso, 1);
	vdrv_kick(&v, TXQ);
	for (int i = 0; i < 2; i++) {
		ATF_REQUIRE(vdrv_used(&v, TXQ, &id, &len, 2000));
		ATF_CHECK_EQ(len, 0);
	}
	ATF_CHECK_EQ(ld(&stats(&v)->tx_bad_chains), 5);
	ATF_CHECK_EQ(ld(&stats(&v)->tx_frames), 0);
	uint8_t got[200];
	ATF_CHECK(recv(peer, got, sizeof(got), MSG_DONTWAIT) < 0 &&
	    errno == EAGAIN);
	/* The device goes on: a good frame after the bad ones. */
	struct vbuf good = { VDRV_DATA, 72, false };
	vdrv_add(&v, TXQ, &good, 1);
	vdrv_kick(&v, TXQ);
	ATF_REQUIRE(vdrv_used(&v, TXQ, &id, &len, 2000));
	ATF_CHECK_EQ(recv(peer, got, sizeof(got), MSG_DONTWAIT), 72);
	ATF_CHECK(!(vdrv_status(&v) & VIRTIO_CONFIG_S_NEEDS_RESET));
	vdrv_detach(&v);
	close(peer);
}

static void
send_frame(int peer, size_t len, uint8_t seed, uint8_t *copy)
{
	uint8_t buf[2048];
	put_frame(buf, len, seed);
	ATF_REQUIRE_EQ(send(peer, buf, VNET_HDR_LEN + len, 0),
	    (ssize_t)(VNET_HDR_LEN + len));
	if (copy)
		memcpy(copy, buf, VNET_HDR_LEN + len);
}

ATF_TC_WITHOUT_HEAD(rx_path);
ATF_TC_BODY(rx_path, tc)
{
	struct vdrv v;
	int peer;
	attach_fd(&v, &peer);
	start(&v, BASE);
	struct vbuf b = { VDRV_DATA, 1526, true };
	uint16_t head = vdrv_add(&v, RXQ, &b, 1);
	vdrv_kick(&v, RXQ);
	uint8_t sent[2048];
	send_frame(peer, 100, 9, sent);
	uint32_t id, len;
	ATF_REQUIRE(vdrv_used(&v, RXQ, &id, &len, 2000));
	ATF_CHECK(id == head && len == 112);
	uint8_t *m = vdrv_mem(&v, VDRV_DATA);
	ATF_CHECK(memcmp(m + 12, sent + 12, 100) == 0);
	uint16_t nb;
	memcpy(&nb, m + 10, 2);
	ATF_CHECK_EQ(nb, 1);
	ATF_CHECK_EQ(ld(&stats(&v)->rx_frames), 1);
	ATF_CHECK_EQ(ld(&stats(&v)->rx_bytes), 100);

	/* A buffer too short for header and frame: length 0, frame
	 * dropped and counted; the next frame uses the next buffer. */
	struct vbuf small = { VDRV_DATA, 50, true };
	head = vdrv_add(&v, RXQ, &small, 1);
	vdrv_kick(&v, RXQ);
	send_frame(peer, 100, 3, NULL);
	ATF_REQUIRE(vdrv_used(&v, RXQ, &id, &len, 2000));
	ATF_CHECK(id == head && len == 0);
	ATF_CHECK_EQ(ld(&stats(&v)->rx_bad_chains), 1);
	ATF_CHECK_EQ(ld(&stats(&v)->rx_dropped), 1);
	/* A device-readable buffer in a receive chain, likewise. */
	struct vbuf ro = { VDRV_DATA, 1526, false };
	vdrv_add(&v, RXQ, &ro, 1);
	vdrv_kick(&v, RXQ);
	send_frame(peer, 100, 4, NULL);
	ATF_REQUIRE(vdrv_used(&v, RXQ, &id, &len, 2000));
	ATF_CHECK_EQ(len, 0);
	ATF_CHECK_EQ(ld(&stats(&v)->rx_bad_chains), 2);
	/* A header asking for checksum offload the guest did not accept:
	 * dropped, counted, and no buffer is used. */
	uint8_t bad[12 + 60];
	put_frame(bad, 60, 0);
	bad[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	ATF_REQUIRE_EQ(send(peer, bad, sizeof(bad), 0), (ssize_t)sizeof(bad));
	head = vdrv_add(&v, RXQ, &b, 1);
	vdrv_kick(&v, RXQ);
	send_frame(peer, 80, 5, sent);
	ATF_REQUIRE(vdrv_used(&v, RXQ, &id, &len, 2000));
	ATF_CHECK(id == head && len == 92);
	ATF_CHECK(memcmp(m + 12, sent + 12, 80) == 0);
	ATF_CHECK_EQ(ld(&stats(&v)->rx_dropped), 3);
	ATF_CHECK(!(vdrv_status(&v) & VIRTIO_CONFIG_S_NEEDS_RESET));
	vdrv_detach(&v);
	close(peer);
}

/* With no receive buffer the frame waits (and the worker does not spin);
 * a kick delivers it. */
ATF_TC_WITHOUT_HEAD(rx_waits_for_buffers);
ATF_TC_BODY(rx_waits_for_buffers, tc)
{
	struct vdrv v;
	int peer;
	attach_fd(&v, &peer);
	start(&v, BASE);
	uint8_t s1[2048], s2[2048];
	send_frame(peer, 64, 1, s1);
	send_frame(peer, 70, 2, s2);
	sleep_ms(200);
	const struct vnet_stats *st = stats(&v);
	ATF_CHECK_EQ(ld(&st->rx_stalls), 1);            /* once, no spinning */
	ATF_CHECK_EQ(ld(&st->rx_frames), 0);
	struct vbuf b1 = { VDRV_DATA, 1526, true };
	struct vbuf b2 = { VDRV_DATA + 0x1000, 1526, true };
	vdrv_add(&v, RXQ, &b1, 1);
	vdrv_add(&v, RXQ, &b2, 1);
	vdrv_kick(&v, RXQ);
	uint32_t id, len;
	ATF_REQUIRE(vdrv_used(&v, RXQ, &id, &len, 2000));
	ATF_CHECK_EQ(len, 76);
	ATF_REQUIRE(vdrv_used(&v, RXQ, &id, &len, 2000));
	ATF_CHECK_EQ(len, 82);
	ATF_CHECK(memcmp(vdrv_mem(&v, VDRV_DATA) + 12, s1 + 12, 64) == 0);
	ATF_CHECK(memcmp(vdrv_mem(&v, VDRV_DATA + 0x1000) + 12, s2 + 12, 70) ==
	    0);
	ATF_CHECK_EQ(ld(&st->rx_frames), 2);
	ATF_CHECK_EQ(ld(&st->rx_dropped), 0);
	vdrv_detach(&v);
	close(peer);
}

/* Mergeable buffers: a frame spread over several, num_buffers in the
 * first; too few buffers make it wait without using any. */
ATF_TC_WITHOUT_HEAD(rx_mergeable);
ATF_TC_BODY(rx_mergeable, tc)
{
	struct vdrv v;
	int peer;
	attach_fd(&v, &peer);
	start(&v, BASE | F(VIRTIO_NET_F_MRG_RXBUF));
	struct vbuf b[3];
	for (int i = 0; i < 3; i++)
		b[i] = (struct vbuf){ VDRV_DATA + 0x1000 * (unsigned)i, 40, true };
	uint16_t h0 = vdrv_add(&v, RXQ, &b[0], 1);
	vdrv_kick(&v, RXQ);
	uint8_t sent[2048];
	send_frame(peer, 100, 7, sent);
	sleep_ms(100);
	uint32_t id, len;
	ATF_CHECK(!vdrv_used(&v, RXQ, &id, &len, 0));
	ATF_CHECK_EQ(ld(&stats(&v)->rx_stalls), 1);
	uint16_t h1 = vdrv_add(&v, RXQ, &b[1], 1);
	uint16_t h2 = vdrv_add(&v, RXQ, &b[2], 1);
	vdrv_kick(&v, RXQ);
	uint32_t want_len[3] = { 40, 40, 32 };
	uint16_t want_id[3] = { h0, h1, h2 };
	for (int i = 0; i < 3; i++) {
		ATF_REQUIRE(vdrv_used(&v, RXQ, &id, &len, 2000));
		ATF_CHECK_EQ(id, want_id[i]);
		ATF_CHECK_EQ(len, want_len[i]);
	}
	uint8_t got[112];
	for (int i = 0; i < 3; i++)
		memcpy(got + 40 * i, vdrv_mem(&v, b[i].gpa), want_len[i]);
	uint16_t nb;
	memcpy(&nb, got + 10, 2);
	ATF_CHECK_EQ(nb, 3);
	ATF_CHECK(memcmp(got + 12, sent + 12, 100) == 0);
	/* A first buffer smaller than the header is refused. */
	struct vbuf tiny = { VDRV_DATA, 8, true };
	vdrv_add(&v, RXQ, &tiny, 1);
	vdrv_kick(&v, RXQ);
	send_frame(peer, 60, 1, NULL);
	ATF_REQUIRE(vdrv_used(&v, RXQ, &id, &len, 2000));
	ATF_CHECK_EQ(len, 0);
	ATF_CHECK_EQ(ld(&stats(&v)->rx_bad_chains), 1);
	vdrv_detach(&v);
	close(peer);
}

/* A broken ring (avail index far ahead) stops the device: NEEDS_RESET,
 * and no crash; a reset brings it back. */
ATF_TC_WITHOUT_HEAD(broken_ring);
ATF_TC_BODY(broken_ring, tc)
{
	struct vdrv v;
	int peer;
	attach_fd(&v, &peer);
	start(&v, BASE);
	uint16_t idx = 100;
	memcpy(vdrv_mem(&v, 0x100000 + 0x8000 * TXQ + 0x2000 + 2), &idx, 2);
	vdrv_kick(&v, TXQ);
	for (int t = 0; t < 2000 && !(vdrv_status(&v) &
	    VIRTIO_CONFIG_S_NEEDS_RESET); t++)
		sleep_ms(1);
	ATF_CHECK(vdrv_status(&v) & VIRTIO_CONFIG_S_NEEDS_RESET);
	start(&v, BASE);
	ATF_CHECK(!(vdrv_status(&v) & VIRTIO_CONFIG_S_NEEDS_RESET));
	put_frame(vdrv_mem(&v, VDRV_DATA), 60, 1);
	struct vbuf good = { VDRV_DATA, 72, false };
	vdrv_add(&v, TXQ, &good, 1);
	vdrv_kick(&v, TXQ);
	uint32_t id, len;
	ATF_CHECK(vdrv_used(&v, TXQ, &id, &len, 2000));
	uint8_t got[100];
	ATF_CHECK_EQ(recv(peer, got, sizeof(got), MSG_DONTWAIT), 72);
	vdrv_detach(&v);
	close(peer);
}

/* ---- a real tap, in a network namespace of this test's own ---------- */

static bool
private_netns(void)
{
	if (access("/dev/net/tun", R_OK | W_OK) != 0)
		return false;
	return unshare(CLONE_NEWNET) == 0;
}

static int
if_up(const char *name)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	int r = ioctl(s, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	if (r == 0)
		r = ioctl(s, SIOCSIFFLAGS, &ifr);
	close(s);
	return r;
}

static int
tso_on(const char *name)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ethtool_value ev = { .cmd = ETHTOOL_GTSO };
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	ifr.ifr_data = (void *)&ev;
	int r = ioctl(s, SIOCETHTOOL, &ifr);
	close(s);
	return r < 0 ? -1 : (int)ev.data;
}

ATF_TC(tap);
ATF_TC_HEAD(tap, tc)
{
	atf_tc_set_md_var(tc, "descr", "TX and RX through a tap in a private "
	    "network namespace, offloads following negotiation");
	atf_tc_set_md_var(tc, "require.user", "root");
}
ATF_TC_BODY(tap, tc)
{
	if (!private_netns())
		atf_tc_skip("no /dev/net/tun or cannot create a network namespace");
	struct vdrv v;
	int r = vdrv_attach(&v, "t", "virtio-net", "tap=vt0", err, sizeof(err));
	ATF_REQUIRE_MSG(r == 0, "%s", err);
	ATF_REQUIRE(if_nametoindex("vt0") > 0);
	ATF_REQUIRE_EQ(if_up("vt0"), 0);
	uint64_t f = vdrv_device_features(&v);
	uint64_t offl = F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) |
	    F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6) |
	    F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_HOST_TSO6);
	ATF_CHECK((f & offl) == offl);
	ATF_CHECK_EQ(tso_on("vt0"), 0);
	start(&v, BASE | offl);
	ATF_CHECK_EQ(tso_on("vt0"), 1);         /* TUNSETOFFLOAD followed */

	/* A packet socket on the tap sees what the guest sends... */
	int ps = socket(AF_PACKET, SOCK_RAW, htons(0x88b5));
	ATF_REQUIRE(ps >= 0);
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
	    .sll_protocol = htons(0x88b5), .sll_ifindex =
	    (int)if_nametoindex("vt0") };
	ATF_REQUIRE_EQ(bind(ps, (struct sockaddr *)&sll, sizeof(sll)), 0);
	uint8_t *m = vdrv_mem(&v, VDRV_DATA);
	memset(m, 0, 12);
	uint8_t frame[64] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0x52, 0x54, 0, 1, 2, 3, 0x88, 0xb5, 'h', 'y', 'v', 'e' };
	memcpy(m + 12, frame, sizeof(frame));
	struct vbuf tb = { VDRV_DATA, 12 + sizeof(frame), false };
	vdrv_add(&v, TXQ, &tb, 1);
	vdrv_kick(&v, TXQ);
	uint32_t id, len;
	ATF_REQUIRE(vdrv_used(&v, TXQ, &id, &len, 2000));
	uint8_t got[2048];
	struct timeval tv = { 2, 0 };
	setsockopt(ps, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ssize_t n = recv(ps, got, sizeof(got), 0);
	ATF_REQUIRE_EQ(n, (ssize_t)sizeof(frame));
	ATF_CHECK(memcmp(got, frame, sizeof(frame)) == 0);

	/* ...and what it sends to the tap reaches the guest. */
	struct vbuf rb = { VDRV_DATA + 0x1000, 1526, true };
	vdrv_add(&v, RXQ, &rb, 1);
	vdrv_kick(&v, RXQ);
	memcpy(frame, "\x52\x54\x00\x01\x02\x03\x02\x00\x00\x00\x00\x09", 12);
	frame[20] = 0x5a;
	ATF_REQUIRE_EQ(send(ps, frame, sizeof(frame), 0), (ssize_t)sizeof(frame));
	/* The tap may also pass on the kernel's own traffic (IPv6 router
	 * solicitations): look for our EtherType. */
	bool seen = false;
	for (int i = 0; i < 8 && !seen; i++) {
		if (!vdrv_used(&v, RXQ, &id, &len, 2000))
			break;
		uint8_t *p = vdrv_mem(&v, VDRV_DATA + 0x1000);
		if (len == 12 + sizeof(frame) && memcmp(p + 12, frame,
		    sizeof(frame)) == 0)
			seen = true;
		else {
			vdrv_add(&v, RXQ, &rb, 1);
			vdrv_kick(&v, RXQ);
		}
	}
	ATF_CHECK(seen);
	/* A reset turns the offloads off again. */
	vdrv_write(&v, 20, 1, 0);
	ATF_CHECK_EQ(tso_on("vt0"), 0);
	close(ps);
	vdrv_detach(&v);
	ATF_CHECK_EQ(if_nametoindex("vt0"), 0);  /* gone with hyve's fd */
}

ATF_TC(tap_multiqueue);
ATF_TC_HEAD(tap_multiqueue, tc)
{
	atf_tc_set_md_var(tc, "descr", "queues=N: multi-queue tap, control "
	    "queue, VQ_PAIRS_SET");
	atf_tc_set_md_var(tc, "require.user", "root");
}
ATF_TC_BODY(tap_multiqueue, tc)
{
	if (!private_netns())
		atf_tc_skip("no /dev/net/tun or cannot create a network namespace");
	struct vdrv v;
	int r = vdrv_attach(&v, "t", "virtio-net", "tap=vt1,queues=2", err,
	    sizeof(err));
	ATF_REQUIRE_MSG(r == 0, "%s", err);
	ATF_CHECK_EQ(vdrv_read(&v, 18, 2), 5);          /* 2 pairs + control */
	ATF_CHECK_EQ(vdrv_cfg_read(&v, 8, 2), 2);
	uint64_t feat = BASE | F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_MQ);
	ATF_CHECK((vdrv_device_features(&v) & feat) == feat);
	ATF_REQUIRE(vdrv_negotiate(&v, feat));
	for (unsigned q = 0; q < 5; q++)
		vdrv_queue(&v, q, 16);
	vdrv_driver_ok(&v);
	uint8_t *m = vdrv_mem(&v, VDRV_DATA);
	/* VQ_PAIRS_SET 2: OK; 3: refused; an unknown class: refused. */
	uint8_t cmds[3][4] = { { VIRTIO_NET_CTRL_MQ, 0, 2, 0 },
	    { VIRTIO_NET_CTRL_MQ, 0, 3, 0 }, { 99, 0, 0, 0 } };
	uint8_t want[3] = { VIRTIO_NET_OK, VIRTIO_NET_ERR, VIRTIO_NET_ERR };
	for (int i = 0; i < 3; i++) {
		memcpy(m, cmds[i], 4);
		m[0x100] = 0xee;
		struct vbuf b[2] = { { VDRV_DATA, 4, false },
		    { VDRV_DATA + 0x100, 1, true } };
		vdrv_add(&v, 4, b, 2);
		vdrv_kick(&v, 4);
		uint32_t id, len;
		ATF_REQUIRE(vdrv_used(&v, 4, &id, &len, 2000));
		ATF_CHECK_EQ(len, 1);
		ATF_CHECK_EQ(m[0x100], want[i]);
	}
	/* Transmit on the second pair. */
	ATF_REQUIRE_EQ(if_up("vt1"), 0);
	int ps = socket(AF_PACKET, SOCK_RAW, htons(0x88b5));
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
	    .sll_protocol = htons(0x88b5), .sll_ifindex =
	    (int)if_nametoindex("vt1") };
	ATF_REQUIRE_EQ(bind(ps, (struct sockaddr *)&sll, sizeof(sll)), 0);
	uint8_t frame[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0x52, 0x54, 0, 1, 2, 3, 0x88, 0xb5, 'm', 'q' };
	memset(m + 0x1000, 0, 12);
	memcpy(m + 0x1000 + 12, frame, sizeof(frame));
	struct vbuf tb = { VDRV_DATA + 0x1000, 12 + sizeof(frame), false };
	vdrv_add(&v, 3, &tb, 1);
	vdrv_kick(&v, 3);
	uint32_t id, len;
	ATF_REQUIRE(vdrv_used(&v, 3, &id, &len, 2000));
	struct timeval tv = { 2, 0 };
	setsockopt(ps, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	uint8_t got[128];
	ATF_CHECK_EQ(recv(ps, got, sizeof(got), 0), (ssize_t)sizeof(frame));
	close(ps);
	vdrv_detach(&v);
}

ATF_TP_ADD_TCS(tp)
{
	ATF_TP_ADD_TC(tp, mac_parse);
	ATF_TP_ADD_TC(tp, mac_default);
	ATF_TP_ADD_TC(tp, options);
	ATF_TP_ADD_TC(tp, config_layout);
	ATF_TP_ADD_TC(tp, bad_fd);
	ATF_TP_ADD_TC(tp, tx_path);
	ATF_TP_ADD_TC(tp, tx_bad_chains);
	ATF_TP_ADD_TC(tp, rx_path);
	ATF_TP_ADD_TC(tp, rx_waits_for_buffers);
	ATF_TP_ADD_TC(tp, rx_mergeable);
	ATF_TP_ADD_TC(tp, broken_ring);
	ATF_TP_ADD_TC(tp, tap);
	ATF_TP_ADD_TC(tp, tap_multiqueue);
	return atf_no_error();
}
