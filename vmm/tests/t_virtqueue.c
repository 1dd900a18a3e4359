/* Split virtqueue: chains are walked only through checked descriptors. */
#include <atf-c.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ring.h>

#include "devices/virtio/virtqueue.h"
#include "vmm/mem.h"

#define RAM (1u << 20)
#define DESC 0x1000u
#define AVAIL 0x2000u
#define USED 0x3000u
#define QSZ 8

static struct guest_mem mem;
static struct virtqueue vq;

static void
setup(void)
{
	memset(&mem, 0, sizeof(mem));
	mem.lo = calloc(1, RAM);
	mem.lo_size = mem.size = RAM;
	vq_reset(&vq);
	vq.size = QSZ;
	vq.desc_gpa = DESC;
	vq.avail_gpa = AVAIL;
	vq.used_gpa = USED;
	vq.indirect = true;
	ATF_REQUIRE_EQ(vq_enable(&vq, &mem), 0);
}

static void
desc_at(uint64_t table, unsigned i, uint64_t addr, uint32_t len,
    uint16_t flags, uint16_t next)
{
	uint8_t *p = mem.lo + table + 16 * i;
	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

static void
make_avail(uint16_t head)
{
	uint16_t idx;
	memcpy(&idx, mem.lo + AVAIL + 2, 2);
	memcpy(mem.lo + AVAIL + 4 + 2 * (idx % QSZ), &head, 2);
	idx++;
	memcpy(mem.lo + AVAIL + 2, &idx, 2);
}

static int
pop(struct vq_chain *c)
{
	return vq_pop(&vq, c);
}

static struct vq_chain c;

ATF_TC_WITHOUT_HEAD(good_chain);
ATF_TC_BODY(good_chain, tc)
{
	setup();
	ATF_CHECK_EQ(pop(&c), VQ_EMPTY);
	desc_at(DESC, 0, 0x8000, 16, VRING_DESC_F_NEXT, 3);
	desc_at(DESC, 3, 0x9000, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 5);
	desc_at(DESC, 5, 0xa000, 1, VRING_DESC_F_WRITE, 0);
	make_avail(0);
	ATF_REQUIRE_EQ(pop(&c), VQ_OK);
	ATF_CHECK_EQ(c.head, 0);
	ATF_CHECK_EQ(c.nread, 1);
	ATF_CHECK_EQ(c.nwrite, 2);
	ATF_CHECK_EQ(c.read_len, 16);
	ATF_CHECK_EQ(c.write_len, 513);
	uint8_t st = 0x5a;
	ATF_CHECK_EQ(vq_copy_to(&c, 512, &st, 1), 1);
	ATF_CHECK_EQ(mem.lo[0xa000], 0x5a);
	vq_push(&vq, c.head, 513);
	uint16_t used_idx;
	uint32_t id, len;
	memcpy(&used_idx, mem.lo + USED + 2, 2);
	memcpy(&id, mem.lo + USED + 4, 4);
	memcpy(&len, mem.lo + USED + 8, 4);
	ATF_CHECK(used_idx == 1 && id == 0 && len == 513);
	ATF_CHECK_EQ(pop(&c), VQ_EMPTY);
	free(mem.lo);
}

ATF_TC_WITHOUT_HEAD(bad_chains);
ATF_TC_BODY(bad_chains, tc)
{
	setup();
	/* A loop: 1 -> 2 -> 1. */
	desc_at(DESC, 1, 0x8000, 16, VRING_DESC_F_NEXT, 2);
	desc_at(DESC, 2, 0x8000, 16, VRING_DESC_F_NEXT, 1);
	make_avail(1);
	ATF_CHECK_EQ(pop(&c), VQ_ELOOP);
	/* A buffer past the end of RAM, and one that wraps around. */
	desc_at(DESC, 0, RAM - 8, 16, 0, 0);
	make_avail(0);
	ATF_CHECK_EQ(pop(&c), VQ_EADDR);
	desc_at(DESC, 0, 0xfffffffffffffff0ull, 0x20, 0, 0);
	make_avail(0);
	ATF_CHECK_EQ(pop(&c), VQ_EADDR);
	/* A head or next index out of range. */
	make_avail(QSZ + 3);
	ATF_CHECK_EQ(pop(&c), VQ_EBADHEAD);
	desc_at(DESC, 0, 0x8000, 16, VRING_DESC_F_NEXT, 200);
	make_avail(0);
	ATF_CHECK_EQ(pop(&c), VQ_EBADHEAD);
	/* Readable after writable. */
	desc_at(DESC, 0, 0x8000, 16, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	desc_at(DESC, 1, 0x9000, 16, 0, 0);
	make_avail(0);
	ATF_CHECK_EQ(pop(&c), VQ_EORDER);
	/* The available index jumping by more than the queue size. */
	uint16_t idx;
	memcpy(&idx, mem.lo + AVAIL + 2, 2);
	idx = (uint16_t)(idx + QSZ + 1);
	memcpy(mem.lo + AVAIL + 2, &idx, 2);
	ATF_CHECK_EQ(pop(&c), VQ_EBADIDX);
	free(mem.lo);
}

ATF_TC_WITHOUT_HEAD(indirect);
ATF_TC_BODY(indirect, tc)
{
	setup();
	/* A good indirect table of three entries. */
	desc_at(0x4000, 0, 0x8000, 16, VRING_DESC_F_NEXT, 1);
	desc_at(0x4000, 1, 0x9000, 100, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	desc_at(0x4000, 2, 0xa000, 1, VRING_DESC_F_WRITE, 0);
	desc_at(DESC, 0, 0x4000, 48, VRING_DESC_F_INDIRECT, 0);
	make_avail(0);
	ATF_REQUIRE_EQ(pop(&c), VQ_OK);
	ATF_CHECK(c.nread == 1 && c.nwrite == 2 && c.write_len == 101);
	/* Nested indirect, a loop inside, a bad length, an out-of-table next,
	 * indirect not negotiated. */
	desc_at(0x4000, 1, 0x5000, 16, VRING_DESC_F_INDIRECT, 0);
	make_avail(0);
	ATF_CHECK_EQ(pop(&c), VQ_EINDIRECT);
	desc_at(0x4000, 1, 0x9000, 16, VRING_DESC_F_NEXT, 0);
	make_avail(0);
	ATF_CHECK_EQ(pop(&c), VQ_ELOOP);
	desc_at(DESC, 0, 0x4000, 47, VRING_DESC_F_INDIRECT, 0);
	make_avail(0);
	ATF_CHECK_EQ(pop(&c), VQ_EINDIRECT);
	desc_at(0x4000, 1, 0x9000, 16, VRING_DESC_F_NEXT, 9);
	desc_at(DESC, 0, 0x4000, 48, VRING_DESC_F_INDIRECT, 0);
	make_avail(0);
	ATF_CHECK_EQ(pop(&c), VQ_EINDIRECT);
	desc_at(DESC, 0, RAM - 16, 48, VRING_DESC_F_INDIRECT, 0);
	make_avail(0);
	ATF_CHECK_EQ(pop(&c), VQ_EADDR);
	vq.indirect = false;
	desc_at(DESC, 0, 0x4000, 48, VRING_DESC_F_INDIRECT, 0);
	make_avail(0);
	ATF_CHECK_EQ(pop(&c), VQ_EINDIRECT);
	free(mem.lo);
}

ATF_TC_WITHOUT_HEAD(rings_checked_at_enable);
ATF_TC_BODY(rings_checked_at_enable, tc)
{
	setup();
	struct virtqueue q;
	vq_reset(&q);
	q.size = QSZ;
	q.desc_gpa = RAM - 64;          /* table runs past RAM */
	q.avail_gpa = AVAIL;
	q.used_gpa = USED;
	ATF_CHECK(vq_enable(&q, &mem) < 0);
	q.desc_gpa = DESC + 8;          /* misaligned */
	ATF_CHECK(vq_enable(&q, &mem) < 0);
	q.desc_gpa = DESC;
	q.size = 6;                     /* not a power of two */
	ATF_CHECK(vq_enable(&q, &mem) < 0);
	q.size = 2048;                  /* too large */
	ATF_CHECK(vq_enable(&q, &mem) < 0);
	q.size = QSZ;
	ATF_CHECK_EQ(vq_enable(&q, &mem), 0);
	free(mem.lo);
}

ATF_TC_WITHOUT_HEAD(event_idx);
ATF_TC_BODY(event_idx, tc)
{
	setup();
	vq.event_idx = true;
	desc_at(DESC, 0, 0x8000, 16, 0, 0);
	uint16_t used_event = 1;        /* interrupt when entry 1 is used */
	memcpy(mem.lo + AVAIL + 4 + 2 * QSZ, &used_event, 2);
	make_avail(0);
	ATF_REQUIRE_EQ(pop(&c), VQ_OK);
	vq_push(&vq, 0, 0);             /* used_idx 1: entry 0 used */
	ATF_CHECK(vq_should_notify(&vq));   /* first time: always */
	make_avail(0);
	ATF_REQUIRE_EQ(pop(&c), VQ_OK);
	vq_push(&vq, 0, 0);             /* entry 1 used: crosses used_event */
	ATF_CHECK(vq_should_notify(&vq));
	make_avail(0);
	ATF_REQUIRE_EQ(pop(&c), VQ_OK);
	vq_push(&vq, 0, 0);             /* entry 2: driver did not ask */
	ATF_CHECK(!vq_should_notify(&vq));
	/* avail_event follows what the device consumed. */
	uint16_t avail_event;
	memcpy(&avail_event, mem.lo + USED + 4 + 8 * QSZ, 2);
	ATF_CHECK_EQ(avail_event, 3);
	free(mem.lo);
}

ATF_TP_ADD_TCS(tp)
{
	ATF_TP_ADD_TC(tp, good_chain);
	ATF_TP_ADD_TC(tp, bad_chains);
	ATF_TP_ADD_TC(tp, indirect);
	ATF_TP_ADD_TC(tp, rings_checked_at_enable);
	ATF_TP_ADD_TC(tp, event_idx);
	return atf_no_error();
}
