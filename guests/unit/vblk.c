/*
 * virtio-blk (-s N,virtio-blk,FILE[,ro][,serial=ID]) through the guest
 * library's virtio driver.  The host prepares FILE with byte o equal to
 * host_byte(o) and names its size on the command line ("sectors=N"), the
 * serial ("serial=ID"), and whether the disk is read-only ("ro=1").  The
 * write cases leave sectors WR_SECTOR.. holding guest_byte(), which the ATF
 * test checks in the file afterwards.
 */
#include "apic.h"
#include "idt.h"
#include "pci.h"
#include "string.h"
#include "test.h"
#include "virtio.h"
#include "x86.h"

#define F_SEG_MAX 2
#define F_GEOMETRY 4
#define F_RO 5
#define F_BLK_SIZE 6
#define F_FLUSH 9
#define F_MQ 12
#define F_DISCARD 13
#define F_WRITE_ZEROES 14

#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define T_GET_ID 8
#define T_WRITE_ZEROES 13
#define S_OK 0
#define S_IOERR 1
#define S_UNSUPP 2
#define S_UNTOUCHED 0xee

#define WR_SECTOR 100u
#define WR_COUNT 16u
#define WAIT 4000000000ull
#define VEC_Q 0x50
#define VEC_CFG 0x51

struct req_hdr {
	uint32_t type, ioprio;
	uint64_t sector;
};

static struct vdev vd;
static struct virtq vq;
static uint8_t qmem[VQ_MEM_BYTES] __attribute__((aligned(4096)));
static struct req_hdr hdr __attribute__((aligned(16)));
static uint8_t status_byte __attribute__((aligned(16)));
static uint8_t buf[WR_COUNT * 512] __attribute__((aligned(4096)));
static uint8_t buf2[WR_COUNT * 512] __attribute__((aligned(4096)));
static struct vring_desc itable[8] __attribute__((aligned(16)));
static uint64_t base_features;

static uint8_t host_byte(uint64_t o) { return (uint8_t)(o + (o >> 9) * 3); }
static uint8_t guest_byte(uint64_t o) { return (uint8_t)(o * 13 + 0x5a); }


static int read_only(void)
{
	char v[4];

	return cmdline_get("ro", v, sizeof(v)) && v[0] == '1';
}

static void find(void)
{
	int r;

	if (!on_hyve())
		test_skip("needs hyve's virtio-blk");
	r = vdev_find(&vd, VIRTIO_ID_BLOCK, 0);
	if (r == -1)
		test_skip("no virtio-blk device (run with -s N,virtio-blk,FILE)");
	require(r == 0, "virtio-blk capabilities unusable");
	require(vd.device && vd.device_len >= 24, "no device configuration (length %u)",
		vd.device_len);
}

/* Negotiated with `extra` on top of VERSION_1, one queue of 16 entries
 * polled (no MSI-X vector), DRIVER_OK. */
static void bring_up(uint64_t extra, uint16_t vector)
{
	find();
	base_features = (1ull << VF_VERSION_1) | (1ull << F_FLUSH) | (1ull << F_BLK_SIZE) |
			(1ull << F_SEG_MAX);
	if (read_only())
		base_features |= 1ull << F_RO;
	require(vdev_negotiate(&vd, base_features | extra) == 0,
		"the device refused features 0x%lx (offers 0x%lx)", base_features | extra,
		vdev_device_features(&vd));
	require(vq_setup(&vd, 0, &vq, qmem, 16, vector) == 0, "queue 0 set-up refused");
	vdev_driver_ok(&vd);
	require(vdev_status(&vd) == (VS_ACKNOWLEDGE | VS_DRIVER | VS_FEATURES_OK | VS_DRIVER_OK),
		"status 0x%x after DRIVER_OK", vdev_status(&vd));
}

/* One request: header, data buffers, status.  Returns the status byte;
 * *used gets the used length. */
static uint8_t request(uint32_t type, uint64_t sector, void *data, uint32_t len,
		       int data_write, int indirect, uint32_t *used)
{
	struct vbuf b[3];
	unsigned n = 0;
	uint16_t head, id;
	uint32_t l;

	hdr.type = type;
	hdr.ioprio = 0;
	hdr.sector = sector;
	status_byte = S_UNTOUCHED;
	b[n++] = (struct vbuf){ (uint64_t)(uintptr_t)&hdr, sizeof(hdr), 0 };
	if (len)
		b[n++] = (struct vbuf){ (uint64_t)(uintptr_t)data, len, data_write };
	b[n++] = (struct vbuf){ (uint64_t)(uintptr_t)&status_byte, 1, 1 };
	head = indirect ? vq_add_indirect(&vq, b, n, itable) : vq_add(&vq, b, n);
	vq_kick(&vd, &vq);
	require(vq_wait(&vq, &id, &l, WAIT) == 0, "request type %u sector %lu: no completion",
		type, sector);
	expect(id == head, "used id %u, expected head %u", id, head);
	if (used)
		*used = l;
	return status_byte;
}

static uint8_t rd(uint64_t sector, void *data, uint32_t len, uint32_t *used)
{
	return request(T_IN, sector, data, len, 1, 0, used);
}

static uint8_t wr(uint64_t sector, void *data, uint32_t len, uint32_t *used)
{
	return request(T_OUT, sector, data, len, 0, 0, used);
}

/* ---- discovery and negotiation ---------------------------------------- */

TEST(vblk_probe)
{
	struct pci_dev *d = &vd.pci;

	find();
	expect_eq(pci_cfg16(d, PCI_CFG_VENDOR), 0x1af4);
	expect_eq(pci_cfg16(d, PCI_CFG_DEVICE), 0x1042);
	expect(pci_cfg8(d, PCI_CFG_REVISION) >= 1, "revision %u: a transitional id",
	       pci_cfg8(d, PCI_CFG_REVISION));
	expect_eq(pci_cfg8(d, PCI_CFG_CLASS + 2), 0x01);
	expect(vd.msix != 0, "no MSI-X capability");
	expect_eq(vd.msix_n, 2);        /* one queue and the configuration */
	expect(vd.notify_mult >= 2 || vd.notify_mult == 0, "notify multiplier %u",
	       vd.notify_mult);
	expect_eq(vdev_status(&vd), 0);
	expect_eq(*(volatile uint16_t *)(vd.common + VC_NUMQ), 1);
}

TEST(vblk_features)
{
	uint64_t f;

	find();
	f = vdev_device_features(&vd);
	test_info("vblk_device_features", f);
	expect(f & (1ull << VF_VERSION_1), "VERSION_1 not offered (0x%lx)", f);
	expect(f & (1ull << VF_INDIRECT_DESC), "INDIRECT_DESC not offered");
	expect(f & (1ull << VF_EVENT_IDX), "EVENT_IDX not offered");
	expect(f & (1ull << F_FLUSH), "FLUSH not offered");
	expect(f & (1ull << F_BLK_SIZE), "BLK_SIZE not offered");
	expect(!(f & (1ull << F_GEOMETRY)), "GEOMETRY offered");
	expect(!!(f & (1ull << F_RO)) == read_only(), "RO offered: %d, disk read-only: %d",
	       !!(f & (1ull << F_RO)), read_only());
	/* A legacy driver (no VERSION_1) is refused. */
	expect(vdev_negotiate(&vd, 1ull << F_FLUSH) < 0, "accepted a driver without VERSION_1");
	expect(!(vdev_status(&vd) & VS_FEATURES_OK), "FEATURES_OK kept without VERSION_1");
	/* Features the device did not offer are refused. */
	expect(vdev_negotiate(&vd, (1ull << VF_VERSION_1) | (1ull << F_GEOMETRY)) < 0,
	       "accepted GEOMETRY, which was not offered");
	expect(vdev_negotiate(&vd, (1ull << VF_VERSION_1) | (1ull << 45)) < 0,
	       "accepted feature bit 45, which was not offered");
	/* The exact offer is accepted, and features are frozen after
	 * FEATURES_OK. */
	expect(vdev_negotiate(&vd, f) == 0, "refused its own offer 0x%lx", f);
	*(volatile uint32_t *)(vd.common + VC_GFSELECT) = 0;
	*(volatile uint32_t *)(vd.common + VC_GF) = 0;
	expect_eq(*(volatile uint32_t *)(vd.common + VC_GF), (uint32_t)f);
	/* Reset forgets them. */
	vdev_reset(&vd);
	expect_eq(*(volatile uint32_t *)(vd.common + VC_GF), 0);
}

TEST(vblk_config)
{
	unsigned long sectors = cmdline_uint("sectors");
	uint8_t g;

	find();
	g = vdev_cfg_generation(&vd);
	expect_eq(vdev_cfg64(&vd, 0), sectors);
	expect_eq(vdev_cfg32(&vd, 20), 512);            /* blk_size */
	expect(vdev_cfg32(&vd, 12) >= 2, "seg_max %u", vdev_cfg32(&vd, 12));
	expect_eq(vdev_cfg16(&vd, 34), 1);              /* num_queues */
	expect_eq(vdev_cfg_generation(&vd), g);
}

TEST(vblk_queue_setup)
{
	volatile uint8_t *c;
	uint16_t max;

	find();
	c = vd.common;
	require(vdev_negotiate(&vd, 1ull << VF_VERSION_1) == 0, "negotiation failed");
	*(volatile uint16_t *)(c + VC_Q_SELECT) = 0;
	max = *(volatile uint16_t *)(c + VC_Q_SIZE);
	expect(max >= 16 && !(max & (max - 1)), "queue 0 maximum size %u", max);
	expect_eq(*(volatile uint16_t *)(c + VC_Q_ENABLE), 0);
	/* A queue that does not exist has size 0. */
	*(volatile uint16_t *)(c + VC_Q_SELECT) = 1;
	expect_eq(*(volatile uint16_t *)(c + VC_Q_SIZE), 0);
	expect(vq_setup(&vd, 1, &vq, qmem, 16, VIRTIO_NO_VECTOR) < 0, "queue 1 set up");
	/* An MSI-X entry beyond the table reads back as no vector. */
	*(volatile uint16_t *)(c + VC_Q_SELECT) = 0;
	*(volatile uint16_t *)(c + VC_Q_MSIX) = 7;
	expect_eq(*(volatile uint16_t *)(c + VC_Q_MSIX), VIRTIO_NO_VECTOR);
	/* Rings outside guest RAM: not enabled, the device needs a reset. */
	*(volatile uint16_t *)(c + VC_Q_SIZE) = 16;
	*(volatile uint64_t *)(c + VC_Q_DESC) = boot_info.mem_lo;
	*(volatile uint64_t *)(c + VC_Q_AVAIL) = (uint64_t)(uintptr_t)qmem + 4096;
	*(volatile uint64_t *)(c + VC_Q_USED) = (uint64_t)(uintptr_t)qmem + 8192;
	*(volatile uint16_t *)(c + VC_Q_ENABLE) = 1;
	expect_eq(*(volatile uint16_t *)(c + VC_Q_ENABLE), 0);
	expect(vdev_status(&vd) & VS_NEEDS_RESET, "status 0x%x lacks NEEDS_RESET", vdev_status(&vd));
	/* A size that is not a power of two: the same. */
	require(vdev_negotiate(&vd, 1ull << VF_VERSION_1) == 0, "negotiation after reset failed");
	expect(!(vdev_status(&vd) & VS_NEEDS_RESET), "NEEDS_RESET survived a reset");
	*(volatile uint16_t *)(c + VC_Q_SELECT) = 0;
	*(volatile uint16_t *)(c + VC_Q_SIZE) = 12;
	*(volatile uint64_t *)(c + VC_Q_DESC) = (uint64_t)(uintptr_t)qmem;
	*(volatile uint16_t *)(c + VC_Q_ENABLE) = 1;
	expect_eq(*(volatile uint16_t *)(c + VC_Q_ENABLE), 0);
	/* A good set-up sticks; addresses read back. */
	require(vdev_negotiate(&vd, 1ull << VF_VERSION_1) == 0, "negotiation failed");
	require(vq_setup(&vd, 0, &vq, qmem, 16, VIRTIO_NO_VECTOR) == 0, "queue 0 refused");
	expect_eq(*(volatile uint64_t *)(c + VC_Q_DESC), (uint64_t)(uintptr_t)qmem);
	expect_eq(*(volatile uint64_t *)(c + VC_Q_USED), (uint64_t)(uintptr_t)qmem + 8192);
	vdev_driver_ok(&vd);
	expect(!(vdev_status(&vd) & VS_NEEDS_RESET), "status 0x%x", vdev_status(&vd));
	expect_eq(rd(0, buf, 512, 0), S_OK);
}

/* ---- I/O ---------------------------------------------------------------- */

TEST(vblk_read)
{
	unsigned bad = 0;
	uint32_t used;

	bring_up(0, VIRTIO_NO_VECTOR);
	memset(buf, 0, sizeof(buf));
	expect_eq(rd(0, buf, 8 * 512, &used), S_OK);
	expect_eq(used, 8 * 512 + 1);
	for (unsigned i = 0; i < 8 * 512; i++)
		bad += buf[i] != host_byte(i);
	expect(bad == 0, "%u bytes of sectors 0-7 differ from the host's pattern", bad);
	/* The last sector of the disk. */
	{
		uint64_t last = cmdline_uint("sectors") - 1;

		expect_eq(rd(last, buf, 512, 0), S_OK);
		bad = 0;
		for (unsigned i = 0; i < 512; i++)
			bad += buf[i] != host_byte(last * 512 + i);
		expect(bad == 0, "%u bytes of the last sector differ", bad);
	}
}

static void write_then_read(int indirect)
{
	unsigned bad = 0;
	uint32_t used;

	if (read_only())
		test_skip("the disk is read-only");
	bring_up(indirect ? 1ull << VF_INDIRECT_DESC : 0, VIRTIO_NO_VECTOR);
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = guest_byte((uint64_t)WR_SECTOR * 512 + i);
	expect_eq(request(T_OUT, WR_SECTOR, buf, sizeof(buf), 0, indirect, &used), S_OK);
	expect_eq(used, 1);
	memset(buf2, 0, sizeof(buf2));
	/* Read back one sector at a time and all at once. */
	for (unsigned s = 0; s < WR_COUNT; s++)
		expect_eq(request(T_IN, WR_SECTOR + s, buf2 + 512 * s, 512, 1, indirect, 0), S_OK);
	for (unsigned i = 0; i < sizeof(buf); i++)
		bad += buf2[i] != buf[i];
	expect(bad == 0, "%u bytes read back differ from those written", bad);
	memset(buf2, 0, sizeof(buf2));
	expect_eq(request(T_IN, WR_SECTOR, buf2, sizeof(buf2), 1, indirect, &used), S_OK);
	expect_eq(used, sizeof(buf2) + 1);
	expect(memcmp(buf, buf2, sizeof(buf)) == 0, "a 16-sector read differs from the write");
	/* The neighbours are untouched. */
	expect_eq(rd(WR_SECTOR - 1, buf2, 512, 0), S_OK);
	expect_eq(buf2[511], host_byte((uint64_t)WR_SECTOR * 512 - 1));
	expect_eq(rd(WR_SECTOR + WR_COUNT, buf2, 512, 0), S_OK);
	expect_eq(buf2[0], host_byte((uint64_t)(WR_SECTOR + WR_COUNT) * 512));
}

TEST(vblk_write_read) { write_then_read(0); }
TEST(vblk_indirect) { write_then_read(1); }

TEST(vblk_many_buffers)
{
	/* A write scattered over 8 buffers of one sector each, in one chain. */
	struct vbuf b[10];
	uint16_t id;
	uint32_t len;

	if (read_only())
		test_skip("the disk is read-only");
	bring_up(0, VIRTIO_NO_VECTOR);
	for (unsigned i = 0; i < 8 * 512; i++)
		buf[i] = guest_byte((uint64_t)WR_SECTOR * 512 + i);
	hdr = (struct req_hdr){ T_OUT, 0, WR_SECTOR };
	status_byte = S_UNTOUCHED;
	b[0] = (struct vbuf){ (uint64_t)(uintptr_t)&hdr, sizeof(hdr), 0 };
	for (unsigned i = 0; i < 8; i++)
		b[1 + i] = (struct vbuf){ (uint64_t)(uintptr_t)(buf + 512 * (7 - i)), 512, 0 };
	b[9] = (struct vbuf){ (uint64_t)(uintptr_t)&status_byte, 1, 1 };
	/* Buffers in reverse order: the disk gets sector 7's data first. */
	vq_add(&vq, b, 10);
	vq_kick(&vd, &vq);
	require(vq_wait(&vq, &id, &len, WAIT) == 0, "no completion");
	expect_eq(status_byte, S_OK);
	expect_eq(rd(WR_SECTOR, buf2, 8 * 512, 0), S_OK);
	for (unsigned s = 0; s < 8; s++)
		expect(memcmp(buf2 + 512 * s, buf + 512 * (7 - s), 512) == 0,
		       "sector %u holds the wrong buffer", WR_SECTOR + s);
	/* Put the pattern back in order for the host's check. */
	expect_eq(wr(WR_SECTOR, buf, 8 * 512, 0), S_OK);
}

TEST(vblk_flush)
{
	uint32_t used;

	bring_up(0, VIRTIO_NO_VECTOR);
	expect_eq(request(T_FLUSH, 0, 0, 0, 0, 0, &used), S_OK);
	expect_eq(used, 1);
	if (!read_only()) {
		memset(buf, 0x77, 512);
		expect_eq(wr(WR_SECTOR + WR_COUNT + 1, buf, 512, 0), S_OK);
		expect_eq(request(T_FLUSH, 0, 0, 0, 0, 0, 0), S_OK);
	}
}

TEST(vblk_get_id)
{
	char want[24], got[21];
	uint32_t used;

	require(cmdline_get("serial", want, sizeof(want)), "no serial= on the command line");
	bring_up(0, VIRTIO_NO_VECTOR);
	memset(buf, 0xcc, 64);
	expect_eq(request(T_GET_ID, 0, buf, 20, 1, 0, &used), S_OK);
	expect_eq(used, 21);
	memcpy(got, buf, 20);
	got[20] = '\0';
	expect(!strcmp(got, want), "serial \"%s\", expected \"%s\"", got, want);
	for (size_t i = strlen(want); i < 20; i++)
		expect(buf[i] == 0, "serial byte %lu is 0x%x, expected 0 padding", i, buf[i]);
	expect_eq(buf[20], 0xcc);
	/* Too small a buffer for the ID: an error. */
	expect_eq(request(T_GET_ID, 0, buf, 8, 1, 0, 0), S_IOERR);
}

TEST(vblk_out_of_range)
{
	uint64_t n = cmdline_uint("sectors");

	bring_up(0, VIRTIO_NO_VECTOR);
	expect_eq(rd(n, buf, 512, 0), S_IOERR);
	expect_eq(rd(n - 1, buf, 1024, 0), S_IOERR);
	expect_eq(rd(n + 1000, buf, 512, 0), S_IOERR);
	expect_eq(rd(~0ull, buf, 512, 0), S_IOERR);
	expect_eq(rd(~0ull / 512, buf, 1024, 0), S_IOERR);
	expect_eq(wr(n, buf, 512, 0), S_IOERR);
	expect_eq(wr(n - 1, buf, 1024, 0), S_IOERR);
	/* Not a whole number of sectors. */
	expect_eq(rd(0, buf, 100, 0), S_IOERR);
	expect_eq(wr(WR_SECTOR, buf, 513, 0), S_IOERR);
	/* An unknown request type. */
	expect_eq(request(99, 0, buf, 512, 1, 0, 0), S_UNSUPP);
	/* Still serving. */
	expect_eq(rd(n - 1, buf, 512, 0), S_OK);
	expect_eq(buf[0], host_byte((n - 1) * 512));
}

/* A hand-made chain of n descriptors; returns the used length. */
static uint32_t bad_chain(const struct vring_desc *d, unsigned n, uint16_t *headp)
{
	uint16_t first = 0, id;
	uint32_t len = 0xdead;

	for (unsigned i = 0; i < n; i++) {
		uint16_t at = vq_take_desc(&vq);

		if (i == 0)
			first = at;
		vq.desc[at] = d[i];
		/* "next" in d is relative to the first descriptor. */
		vq.desc[at].next = (uint16_t)((first + d[i].next) % vq.size);
	}
	vq_publish(&vq, first);
	vq_kick(&vd, &vq);
	require(vq_wait(&vq, &id, &len, WAIT) == 0, "malformed chain: no answer");
	expect(id == first, "malformed chain: used id %u, expected %u", id, first);
	if (headp)
		*headp = first;
	return len;
}

TEST(vblk_malformed)
{
	uint64_t h = (uint64_t)(uintptr_t)&hdr, s = (uint64_t)(uintptr_t)&status_byte;
	uint64_t b = (uint64_t)(uintptr_t)buf;
	struct vring_desc d[3];

	bring_up(1ull << VF_INDIRECT_DESC, VIRTIO_NO_VECTOR);
	hdr = (struct req_hdr){ T_IN, 0, 0 };
	/* No writable status byte. */
	d[0] = (struct vring_desc){ h, sizeof(hdr), VD_NEXT, 1 };
	d[1] = (struct vring_desc){ b, 512, 0, 0 };
	expect_eq(bad_chain(d, 2, 0), 0);
	/* A buffer outside guest RAM. */
	d[0] = (struct vring_desc){ h, sizeof(hdr), VD_NEXT, 1 };
	d[1] = (struct vring_desc){ boot_info.mem_lo, 512, VD_WRITE | VD_NEXT, 2 };
	d[2] = (struct vring_desc){ s, 1, VD_WRITE, 0 };
	expect_eq(bad_chain(d, 3, 0), 0);
	/* A buffer that runs off the end of RAM. */
	d[1] = (struct vring_desc){ boot_info.mem_lo - 256, 512, VD_WRITE | VD_NEXT, 2 };
	expect_eq(bad_chain(d, 3, 0), 0);
	/* A loop. */
	d[0] = (struct vring_desc){ h, sizeof(hdr), VD_NEXT, 1 };
	d[1] = (struct vring_desc){ b, 512, VD_NEXT, 0 };
	expect_eq(bad_chain(d, 2, 0), 0);
	/* A readable buffer after a writable one. */
	d[0] = (struct vring_desc){ h, sizeof(hdr), VD_NEXT, 1 };
	d[1] = (struct vring_desc){ s, 1, VD_WRITE | VD_NEXT, 2 };
	d[2] = (struct vring_desc){ b, 512, 0, 0 };
	expect_eq(bad_chain(d, 3, 0), 0);
	/* An indirect table with a bad length, and one nesting another. */
	d[0] = (struct vring_desc){ (uint64_t)(uintptr_t)itable, 20, VD_INDIRECT, 0 };
	expect_eq(bad_chain(d, 1, 0), 0);
	itable[0] = (struct vring_desc){ (uint64_t)(uintptr_t)itable, 16, VD_INDIRECT, 0 };
	d[0] = (struct vring_desc){ (uint64_t)(uintptr_t)itable, 16, VD_INDIRECT, 0 };
	expect_eq(bad_chain(d, 1, 0), 0);
	/* An indirect table outside RAM. */
	d[0] = (struct vring_desc){ boot_info.mem_lo, 64, VD_INDIRECT, 0 };
	expect_eq(bad_chain(d, 1, 0), 0);
	/* The device keeps working. */
	expect(!(vdev_status(&vd) & VS_NEEDS_RESET), "status 0x%x after malformed chains",
	       vdev_status(&vd));
	expect_eq(rd(0, buf, 512, 0), S_OK);
	expect_eq(buf[1], host_byte(1));
	expect_eq(request(T_IN, 1, buf, 512, 1, 1, 0), S_OK);
	expect_eq(buf[0], host_byte(512));
}

TEST(vblk_bad_head)
{
	uint16_t id;
	uint32_t len;

	bring_up(0, VIRTIO_NO_VECTOR);
	/* A head index beyond the queue: the ring is garbage; the device
	 * asks for a reset instead of answering. */
	vq_publish(&vq, 200);
	vq_kick(&vd, &vq);
	for (uint64_t t0 = rdtsc(); !(vdev_status(&vd) & VS_NEEDS_RESET) && rdtsc() - t0 < WAIT; )
		cpu_relax();
	expect(vdev_status(&vd) & VS_NEEDS_RESET, "status 0x%x lacks NEEDS_RESET", vdev_status(&vd));
	expect(vq_wait(&vq, &id, &len, 100000000ull) < 0 || len == 0,
	       "head 200 answered with length %u", len);
	/* A reset and a new set-up bring it back. */
	bring_up(0, VIRTIO_NO_VECTOR);
	expect_eq(rd(0, buf, 512, 0), S_OK);
	expect_eq(buf[7], host_byte(7));
}

TEST(vblk_read_only)
{
	uint32_t used;

	if (!read_only())
		test_skip("the disk is writable (run with ,ro and ro=1)");
	bring_up(0, VIRTIO_NO_VECTOR);
	expect(vd.features & (1ull << F_RO), "RO not negotiated");
	memset(buf, 0x42, 512);
	expect_eq(wr(WR_SECTOR, buf, 512, &used), S_IOERR);
	expect_eq(used, 1);
	expect_eq(request(T_WRITE_ZEROES, 0, buf, 16, 0, 0, 0), S_IOERR);
	expect_eq(rd(WR_SECTOR, buf, 512, 0), S_OK);
	expect_eq(buf[0], host_byte((uint64_t)WR_SECTOR * 512));
	expect_eq(request(T_FLUSH, 0, 0, 0, 0, 0, 0), S_OK);
}

TEST(vblk_write_zeroes)
{
	struct { uint64_t sector; uint32_t num, flags; } seg __attribute__((aligned(16)));
	unsigned bad = 0;

	if (read_only())
		test_skip("the disk is read-only");
	bring_up(1ull << F_WRITE_ZEROES, VIRTIO_NO_VECTOR);
	seg.sector = WR_SECTOR + WR_COUNT + 4;
	seg.num = 4;
	seg.flags = 0;
	expect_eq(request(T_WRITE_ZEROES, 0, &seg, sizeof(seg), 0, 0, 0), S_OK);
	memset(buf, 0xff, 6 * 512);
	expect_eq(rd(seg.sector - 1, buf, 6 * 512, 0), S_OK);
	for (unsigned i = 512; i < 5 * 512; i++)
		bad += buf[i] != 0;
	expect(bad == 0, "%u bytes not zeroed", bad);
	expect_eq(buf[0], host_byte((seg.sector - 1) * 512));
	expect_eq(buf[5 * 512], host_byte((seg.sector + 4) * 512));
	/* Out of range: refused. */
	seg.sector = cmdline_uint("sectors") - 1;
	seg.num = 2;
	expect(request(T_WRITE_ZEROES, 0, &seg, sizeof(seg), 0, 0, 0) != S_OK,
	       "write-zeroes past the end accepted");
}

/* ---- interrupts --------------------------------------------------------- */

/* Submits a read without waiting. */
static uint16_t submit_read(uint64_t sector, void *data)
{
	struct vbuf b[3];

	hdr = (struct req_hdr){ T_IN, 0, sector };
	b[0] = (struct vbuf){ (uint64_t)(uintptr_t)&hdr, sizeof(hdr), 0 };
	b[1] = (struct vbuf){ (uint64_t)(uintptr_t)data, 512, 1 };
	b[2] = (struct vbuf){ (uint64_t)(uintptr_t)&status_byte, 1, 1 };
	return vq_add(&vq, b, 3);
}

TEST(vblk_msix)
{
	unsigned long n0;

	find();
	require(vd.msix, "no MSI-X");
	apic_init();
	irq_install(VEC_Q, apic_eoi_handler);
	irq_install(VEC_CFG, apic_eoi_handler);
	vdev_msix_entry(&vd, 0, 0, VEC_Q);
	vdev_msix_entry(&vd, 1, 0, VEC_CFG);
	vdev_msix_enable(&vd);
	bring_up(0, 0);
	*(volatile uint16_t *)(vd.common + VC_MSIX) = 1;
	expect_eq(*(volatile uint16_t *)(vd.common + VC_MSIX), 1);
	n0 = irq_count(VEC_Q);
	submit_read(3, buf);
	vq_kick(&vd, &vq);
	expect(vdev_wait_irq(VEC_Q, n0 + 1), "no interrupt at vector 0x%x for the completion", VEC_Q);
	expect(vq_wait(&vq, 0, 0, WAIT) == 0, "interrupt but no used entry");
	expect_eq(buf[0], host_byte(3 * 512));
	/* With NO_INTERRUPT the completion comes without a message. */
	vq_set_no_interrupt(&vq, 1);
	n0 = irq_count(VEC_Q);
	submit_read(4, buf);
	vq_kick(&vd, &vq);
	expect(vq_wait(&vq, 0, 0, WAIT) == 0, "no completion");
	vdev_settle();
	expect_eq(irq_count(VEC_Q), n0);
	/* A malformed chain makes the device ask for a reset through the
	 * configuration vector. */
	vq_set_no_interrupt(&vq, 0);
	n0 = irq_count(VEC_CFG);
	vq_publish(&vq, 300);
	vq_kick(&vd, &vq);
	expect(vdev_wait_irq(VEC_CFG, n0 + 1), "no configuration interrupt for NEEDS_RESET");
	expect(vdev_status(&vd) & VS_NEEDS_RESET, "status 0x%x", vdev_status(&vd));
}

TEST(vblk_event_idx)
{
	unsigned long n0;

	find();
	require(vd.msix, "no MSI-X");
	apic_init();
	irq_install(VEC_Q, apic_eoi_handler);
	vdev_msix_entry(&vd, 0, 0, VEC_Q);
	vdev_msix_enable(&vd);
	bring_up(1ull << VF_EVENT_IDX, 0);
	require(vq.event_idx, "EVENT_IDX not negotiated");
	/* A first request: the device may interrupt for its first completion
	 * whatever used_event says (it has signalled nothing yet). */
	vq_set_used_event(&vq, 0);
	n0 = irq_count(VEC_Q);
	submit_read(7, buf);
	vq_kick(&vd, &vq);
	expect(vq_wait(&vq, 0, 0, WAIT) == 0, "first request: no completion");
	expect(vdev_wait_irq(VEC_Q, n0 + 1), "no interrupt for used entry 0 = used_event");
	/* Now an interrupt is wanted only once used entry 3 is written (the
	 * third completion from here). */
	vq_set_used_event(&vq, 3);
	n0 = irq_count(VEC_Q);
	for (unsigned i = 0; i < 3; i++) {
		submit_read(i, buf + 512 * i);
		vq_kick(&vd, &vq);
		expect(vq_wait(&vq, 0, 0, WAIT) == 0, "request %u: no completion", i);
		if (i < 2) {
			vdev_settle();
			expect(irq_count(VEC_Q) == n0, "interrupt after completion %u, before used_event", i);
		}
	}
	expect(vdev_wait_irq(VEC_Q, n0 + 1), "no interrupt when the used index passed used_event");
	vdev_settle();
	expect_eq(irq_count(VEC_Q), n0 + 1);
	/* The device publishes avail_event: the next entry it will look at. */
	expect_eq(vq_avail_event(&vq), 4);
	for (unsigned i = 0; i < 3; i++)
		expect_eq(buf[512 * i + 1], host_byte(512ull * i + 1));
}

TEST(vblk_reset)
{
	bring_up(0, VIRTIO_NO_VECTOR);
	expect_eq(rd(2, buf, 512, 0), S_OK);
	vdev_reset(&vd);
	expect_eq(vdev_status(&vd), 0);
	*(volatile uint16_t *)(vd.common + VC_Q_SELECT) = 0;
	expect_eq(*(volatile uint16_t *)(vd.common + VC_Q_ENABLE), 0);
	/* Requests made while the device is reset are not served. */
	submit_read(2, buf);
	vq_kick(&vd, &vq);
	expect(vq_wait(&vq, 0, 0, 200000000ull) < 0, "a reset device served a request");
	bring_up(0, VIRTIO_NO_VECTOR);
	memset(buf, 0, 512);
	expect_eq(rd(2, buf, 512, 0), S_OK);
	expect_eq(buf[5], host_byte(2 * 512 + 5));
}
