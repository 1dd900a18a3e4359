/*
 * virtio-net (-s N,virtio-net,tap=NAME,mac=MAC) through the guest
 * library's virtio driver, against a host peer in a network namespace (see
 * conformance/virtio/net).  Command line: "mac=MAC" (what hyve was given),
 * "ip=A.B.C.D" (the guest's address), "frames=N" (vnet_echo), "pings=N"
 * (vnet_ping).
 *   vnet_config  the MAC and link status in the device configuration.
 *   vnet_ping    answers ARP and ICMP echo for its address until it has
 *                answered N echo requests.
 *   vnet_echo    sends HELLO frames (ethertype 0x88b6, broadcast) until the
 *                host's first ECHO frame (0x88b5) arrives, returns every
 *                ECHO frame to its sender, checking its pattern, and ends at
 *                the host's STOP frame, having echoed at least N.
 */
#include "pci.h"
#include "string.h"
#include "test.h"
#include "virtio.h"
#include "x86.h"

#define F_MAC 5
#define F_STATUS 16
#define F_CSUM 0
#define F_HOST_TSO4 11

#define HDR 12                          /* struct virtio_net_hdr_v1 */
#define RXN 16
#define BUFSZ 2048
#define ETH_ECHO 0x88b5
#define ETH_HELLO 0x88b6
#define STOP_SEQ 0xffffffffu
#define WAIT_LONG 150000000000ull       /* ~60 s at 2.5 GHz */

static struct vdev vd;
static struct virtq rxq, txq;
static uint8_t rxmem[VQ_MEM_BYTES] __attribute__((aligned(4096)));
static uint8_t txmem[VQ_MEM_BYTES] __attribute__((aligned(4096)));
static uint8_t rxbuf[RXN][BUFSZ] __attribute__((aligned(4096)));
static uint8_t txbuf[BUFSZ] __attribute__((aligned(64)));
static uint8_t mac[6];
static uint8_t ip[4];

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void parse_args(void)
{
	char v[32];
	unsigned i, n = 0, part = 0;

	require(cmdline_get("mac", v, sizeof(v)) && strlen(v) == 17, "no mac= on the command line");
	for (i = 0; i < 6; i++) {
		int hi = hexval(v[3 * i]), lo = hexval(v[3 * i + 1]);

		require(hi >= 0 && lo >= 0, "bad mac=%s", v);
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	if (!cmdline_get("ip", v, sizeof(v)))
		return;
	for (const char *p = v;; p++) {
		if (*p >= '0' && *p <= '9') {
			n = n * 10 + (unsigned)(*p - '0');
			continue;
		}
		require(part < 4 && n < 256 && (*p == '.' || *p == '\0'), "bad ip=%s", v);
		ip[part++] = (uint8_t)n;
		n = 0;
		if (!*p)
			break;
	}
	require(part == 4, "bad ip=%s", v);
}

static unsigned long cmd_num(const char *key, unsigned long dflt)
{
	char val[24];
	unsigned long n = 0;

	if (!cmdline_get(key, val, sizeof(val)))
		return dflt;
	for (const char *p = val; *p; p++) {
		require(*p >= '0' && *p <= '9', "%s=%s is not a number", key, val);
		n = n * 10 + (unsigned long)(*p - '0');
	}
	return n;
}

static void post_rx(unsigned i)
{
	struct vbuf b = { (uint64_t)(uintptr_t)rxbuf[i], BUFSZ, 1 };

	vq_add(&rxq, &b, 1);
}

static void bring_up(void)
{
	int r;

	if (!on_hyve())
		test_skip("needs hyve's virtio-net");
	parse_args();
	r = vdev_find(&vd, VIRTIO_ID_NET, 0);
	if (r == -1)
		test_skip("no virtio-net device (run with -s N,virtio-net,...)");
	require(r == 0, "virtio-net capabilities unusable");
	require(vdev_negotiate(&vd, (1ull << VF_VERSION_1) | (1ull << F_MAC) |
			       (1ull << F_STATUS)) == 0, "features refused (offered 0x%lx)",
		vdev_device_features(&vd));
	require(vq_setup(&vd, 0, &rxq, rxmem, RXN, VIRTIO_NO_VECTOR) == 0, "receive queue refused");
	require(vq_setup(&vd, 1, &txq, txmem, 16, VIRTIO_NO_VECTOR) == 0, "transmit queue refused");
	vdev_driver_ok(&vd);
	/* Descriptor i of the receive queue is buffer i. */
	for (unsigned i = 0; i < RXN; i++)
		post_rx(i);
	vq_kick(&vd, &rxq);
}

/* Sends len bytes of frame from txbuf + HDR; waits for the device. */
static void send(unsigned len)
{
	struct vbuf b = { (uint64_t)(uintptr_t)txbuf, HDR + len, 0 };
	uint16_t id;
	uint32_t used;

	memset(txbuf, 0, HDR);
	vq_add(&txq, &b, 1);
	vq_kick(&vd, &txq);
	require(vq_wait(&txq, &id, &used, 4000000000ull) == 0, "transmit: no completion");
}

/* The next received frame (pointer to its Ethernet header), or 0. */
static uint8_t *receive(unsigned *len, uint16_t *desc)
{
	uint16_t id;
	uint32_t used;

	if (!vq_has_used(&rxq) || vq_wait(&rxq, &id, &used, 0) < 0)
		return 0;
	require(id < RXN, "receive: used id %u", id);
	require(used >= HDR + 14 && used <= BUFSZ, "receive: used length %u", used);
	*len = used - HDR;
	*desc = id;
	return rxbuf[id] + HDR;
}

static void recycle(uint16_t desc)
{
	post_rx(desc);
	vq_kick(&vd, &rxq);
}

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

static uint16_t csum(const uint8_t *p, unsigned len)
{
	uint32_t s = 0;

	for (unsigned i = 0; i + 1 < len; i += 2)
		s += be16(p + i);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* ---- cases -------------------------------------------------------------- */

TEST(vnet_config)
{
	uint64_t f;

	bring_up();
	f = vdev_device_features(&vd);
	expect(f & (1ull << F_MAC), "MAC not offered");
	expect(f & (1ull << F_STATUS), "STATUS not offered");
	expect(f & (1ull << F_CSUM), "CSUM not offered with a tap");
	expect(f & (1ull << F_HOST_TSO4), "HOST_TSO4 not offered with a tap");
	for (unsigned i = 0; i < 6; i++)
		expect(vdev_cfg8(&vd, i) == mac[i], "MAC byte %u is 0x%x, expected 0x%x", i,
		       vdev_cfg8(&vd, i), mac[i]);
	expect_eq(vdev_cfg16(&vd, 6) & 1, 1);   /* VIRTIO_NET_S_LINK_UP */
	expect_eq(*(volatile uint16_t *)(vd.common + VC_NUMQ), 2);
}

/* ARP request for our address: the reply, in txbuf; 0 if not for us. */
static unsigned arp_reply(const uint8_t *f, unsigned len)
{
	uint8_t *o = txbuf + HDR;

	if (len < 42 || be16(f + 14) != 1 || be16(f + 16) != 0x0800 || be16(f + 20) != 1 ||
	    memcmp(f + 38, ip, 4))
		return 0;
	memcpy(o, f + 6, 6);
	memcpy(o + 6, mac, 6);
	put16(o + 12, 0x0806);
	memcpy(o + 14, f + 14, 6);              /* htype, ptype, hlen, plen */
	put16(o + 20, 2);
	memcpy(o + 22, mac, 6);
	memcpy(o + 28, ip, 4);
	memcpy(o + 32, f + 22, 10);             /* sender -> target */
	memset(o + 42, 0, 18);
	return 60;
}

/* ICMP echo request to our address: the reply in txbuf; 0 if not one. */
static unsigned icmp_reply(const uint8_t *f, unsigned len)
{
	uint8_t *o = txbuf + HDR;
	unsigned ihl, tot;

	if (len < 34)
		return 0;
	ihl = (f[14] & 0xf) * 4u;
	tot = be16(f + 16);
	if ((f[14] >> 4) != 4 || ihl < 20 || tot < ihl + 8 || 14 + tot > len || f[23] != 1 ||
	    memcmp(f + 30, ip, 4) || f[14 + ihl] != 8)
		return 0;
	if (csum(f + 14, ihl) != 0 || csum(f + 14 + ihl, tot - ihl) != 0) {
		test_fail("an echo request with a bad checksum arrived");
		return 0;
	}
	memcpy(o, f + 6, 6);
	memcpy(o + 6, mac, 6);
	memcpy(o + 12, f + 12, 2 + tot);
	memcpy(o + 14 + 12, f + 14 + 16, 4);    /* src <- their dst (us) */
	memcpy(o + 14 + 16, f + 14 + 12, 4);    /* dst <- their src */
	o[14 + 8] = 64;                         /* TTL */
	put16(o + 14 + 10, 0);
	put16(o + 14 + 10, csum(o + 14, ihl));
	o[14 + ihl] = 0;                        /* echo reply */
	put16(o + 14 + ihl + 2, 0);
	put16(o + 14 + ihl + 2, csum(o + 14 + ihl, tot - ihl));
	return 14 + tot < 60 ? 60 : 14 + tot;
}

TEST(vnet_ping)
{
	unsigned long want = cmd_num("pings", 5), answered = 0, arps = 0;
	uint64_t t0 = rdtsc();

	bring_up();
	require(ip[0], "no ip= on the command line");
	while (answered < want && rdtsc() - t0 < WAIT_LONG) {
		unsigned len, out = 0;
		uint16_t d;
		uint8_t *f = receive(&len, &d);

		if (!f) {
			cpu_relax();
			continue;
		}
		if (be16(f + 12) == 0x0806 && (out = arp_reply(f, len)) != 0)
			arps++;
		else if (be16(f + 12) == 0x0800 && (out = icmp_reply(f, len)) != 0)
			answered++;
		recycle(d);
		if (out)
			send(out);
	}
	test_info("vnet_arp_replies", arps);
	test_info("vnet_echo_replies", answered);
	expect(answered >= want, "answered %lu echo requests of %lu", answered, want);
}

static uint8_t pattern(uint32_t seq, unsigned i)
{
	return (uint8_t)(seq * 7 + i);
}

TEST(vnet_echo)
{
	unsigned long want = cmd_num("frames", 64), echoed = 0, hellos = 0;
	uint64_t t0 = rdtsc(), last_hello = 0;
	int started = 0, stopped = 0;

	bring_up();
	while (!stopped && rdtsc() - t0 < WAIT_LONG) {
		unsigned len;
		uint16_t d;
		uint8_t *f;

		if (!started && rdtsc() - last_hello > 1000000000ull) {
			uint8_t *o = txbuf + HDR;

			memset(o, 0xff, 6);
			memcpy(o + 6, mac, 6);
			put16(o + 12, ETH_HELLO);
			memcpy(o + 14, "hyve-hello", 10);
			for (unsigned i = 24; i < 1014; i++)
				o[i] = (uint8_t)i;
			send(1014);
			hellos++;
			last_hello = rdtsc();
		}
		f = receive(&len, &d);
		if (!f) {
			cpu_relax();
			continue;
		}
		if (be16(f + 12) == ETH_ECHO && len >= 18 && !memcmp(f, mac, 6)) {
			uint32_t seq = be32(f + 14);
			unsigned bad = 0;

			started = 1;
			if (seq == STOP_SEQ) {
				stopped = 1;
			} else {
				for (unsigned i = 18; i < len; i++)
					bad += f[i] != pattern(seq, i);
				expect(bad == 0, "frame %u: %u bytes of %u differ", seq, bad, len);
				memcpy(txbuf + HDR, f + 6, 6);
				memcpy(txbuf + HDR + 6, mac, 6);
				memcpy(txbuf + HDR + 12, f + 12, len - 12);
				recycle(d);
				send(len);
				echoed++;
				continue;
			}
		}
		recycle(d);
	}
	test_info("vnet_hellos", hellos);
	test_info("vnet_echoed", echoed);
	expect(stopped, "no STOP frame within the time limit (%lu echoed)", echoed);
	expect(echoed >= want, "echoed %lu frames, expected %lu", echoed, want);
}
