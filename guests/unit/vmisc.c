/*
 * virtio-rng (-s N,virtio-rng) and virtio-console (-s N,virtio-console,FILE)
 * through the guest library's virtio driver.  vcon_output writes a line
 * that the ATF test looks for in FILE: "hyve-vcon: " followed by 64
 * characters of the pattern 'a' + i % 26, and emergency-writes "EMERG\n"
 * before its queues exist.
 */
#include "pci.h"
#include "string.h"
#include "test.h"
#include "virtio.h"
#include "x86.h"

#define WAIT 4000000000ull
#define F_EMERG_WRITE 2

static struct vdev vd;
static struct virtq q0, q1;
static uint8_t qmem0[VQ_MEM_BYTES] __attribute__((aligned(4096)));
static uint8_t qmem1[VQ_MEM_BYTES] __attribute__((aligned(4096)));
static uint8_t buf[3][70000] __attribute__((aligned(4096)));

static void find(unsigned type, const char *what)
{
	int r;

	if (!on_hyve())
		test_skip("needs hyve's %s", what);
	r = vdev_find(&vd, type, 0);
	if (r == -1)
		test_skip("no %s device", what);
	require(r == 0, "%s capabilities unusable", what);
}

/* A request of one buffer; returns the used length. */
static uint32_t one(struct virtq *q, void *p, uint32_t len, int write)
{
	struct vbuf b = { (uint64_t)(uintptr_t)p, len, write };
	uint16_t id, head;
	uint32_t used;

	head = vq_add(q, &b, 1);
	vq_kick(&vd, q);
	require(vq_wait(q, &id, &used, WAIT) == 0, "no completion");
	expect(id == head, "used id %u, expected %u", id, head);
	return used;
}

static unsigned zeros(const uint8_t *p, unsigned n)
{
	unsigned z = 0;

	for (unsigned i = 0; i < n; i++)
		z += p[i] == 0;
	return z;
}

TEST(vrng_read)
{
	uint32_t n;

	find(VIRTIO_ID_RNG, "virtio-rng");
	expect_eq(pci_cfg16(&vd.pci, PCI_CFG_DEVICE), 0x1044);
	require(vdev_negotiate(&vd, 1ull << VF_VERSION_1) == 0, "VERSION_1 refused");
	require(vq_setup(&vd, 0, &q0, qmem0, 16, VIRTIO_NO_VECTOR) == 0, "queue refused");
	vdev_driver_ok(&vd);
	memset(buf, 0, sizeof(buf));
	expect_eq(one(&q0, buf[0], 64, 1), 64);
	expect_eq(one(&q0, buf[1], 64, 1), 64);
	/* 64 random bytes: not all zero (a chance of 2^-512), and two reads
	 * differ; no more than 64 bytes written. */
	expect(zeros(buf[0], 64) < 16, "%u of 64 random bytes are zero", zeros(buf[0], 64));
	expect(memcmp(buf[0], buf[1], 64) != 0, "two reads returned the same bytes");
	expect(zeros(buf[0] + 64, 64) == 64, "bytes past the buffer were written");
	/* A large request is served at most in part, never beyond it. */
	n = one(&q0, buf[2], 70000, 1);
	expect(n > 0 && n <= 70000, "a 70000-byte request answered with %u", n);
	expect(zeros(buf[2], n) < n / 64 + 16, "%u of %u bytes are zero", zeros(buf[2], n), n);
	/* A readable buffer is malformed: length 0, and the device goes on. */
	expect_eq(one(&q0, buf[1], 64, 0), 0);
	memset(buf[1], 0, 64);
	expect_eq(one(&q0, buf[1], 32, 1), 32);
	expect(zeros(buf[1], 32) < 16, "%u of 32 random bytes are zero", zeros(buf[1], 32));
}

TEST(vcon_output)
{
	static const char head[] = "hyve-vcon: ";
	static const char emerg[] = "EMERG\n";
	uint8_t *p = buf[0];
	unsigned n = 0;
	uint64_t f;

	find(VIRTIO_ID_CONSOLE, "virtio-console");
	expect_eq(pci_cfg16(&vd.pci, PCI_CFG_DEVICE), 0x1043);
	f = vdev_device_features(&vd);
	require(vdev_negotiate(&vd, (1ull << VF_VERSION_1) | (f & (1ull << F_EMERG_WRITE))) == 0,
		"features refused");
	if (f & (1ull << F_EMERG_WRITE))
		for (const char *c = emerg; *c; c++)
			*(volatile uint32_t *)(vd.device + 8) = (uint8_t)*c;
	require(vq_setup(&vd, 0, &q0, qmem0, 16, VIRTIO_NO_VECTOR) == 0, "receive queue refused");
	require(vq_setup(&vd, 1, &q1, qmem1, 16, VIRTIO_NO_VECTOR) == 0, "transmit queue refused");
	vdev_driver_ok(&vd);
	memcpy(p, head, sizeof(head) - 1);
	n = sizeof(head) - 1;
	for (unsigned i = 0; i < 64; i++)
		p[n++] = (uint8_t)('a' + i % 26);
	p[n++] = '\n';
	/* Two buffers in one chain, split mid-line. */
	{
		struct vbuf b[2] = {
			{ (uint64_t)(uintptr_t)p, 20, 0 },
			{ (uint64_t)(uintptr_t)p + 20, n - 20, 0 },
		};
		uint16_t id;
		uint32_t used;

		vq_add(&q1, b, 2);
		vq_kick(&vd, &q1);
		require(vq_wait(&q1, &id, &used, WAIT) == 0, "transmit: no completion");
	}
	/* A writable buffer on the transmit queue is malformed: length 0. */
	expect_eq(one(&q1, buf[1], 16, 1), 0);
	test_info("vcon_emerg_write", !!(f & (1ull << F_EMERG_WRITE)));
}
