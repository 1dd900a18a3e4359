#include <errno.h>
#include <string.h>

#include <linux/virtio_ring.h>

#include "devices/virtio/virtqueue.h"
#include "vmm/mem.h"

/* Ring layout offsets (split virtqueue). */
#define AVAIL_FLAGS 0
#define AVAIL_IDX 2
#define AVAIL_RING(i) (4 + 2 * (i))
#define USED_FLAGS 0
#define USED_IDX 2
#define USED_RING(i) (4 + 8 * (i))

static inline uint16_t
ld16(volatile const uint8_t *p)
{
	return __atomic_load_n((const volatile uint16_t *)p, __ATOMIC_ACQUIRE);
}

static inline void
st16(volatile uint8_t *p, uint16_t v)
{
	__atomic_store_n((volatile uint16_t *)p, v, __ATOMIC_RELEASE);
}

const char *
vq_strerror(int e)
{
	switch (e) {
	case VQ_OK: return "ok";
	case VQ_EMPTY: return "empty";
	case VQ_EBADIDX: return "available index moved by more than the queue size";
	case VQ_EBADHEAD: return "descriptor index out of range";
	case VQ_ELOOP: return "descriptor chain loops";
	case VQ_EADDR: return "buffer outside guest memory";
	case VQ_EORDER: return "device-readable buffer after a writable one";
	case VQ_EINDIRECT: return "bad indirect descriptor table";
	case VQ_ETOOBIG: return "too many buffers in one chain";
	default: return "unknown error";
	}
}

void
vq_reset(struct virtqueue *vq)
{
	memset(vq, 0, sizeof(*vq));
	vq->msix_vector = 0xffff;
}

int
vq_enable(struct virtqueue *vq, const struct guest_mem *mem)
{
	uint64_t n = vq->size;
	if (n == 0 || n > VQ_MAX_SIZE || (n & (n - 1)))
		return -EINVAL;
	if ((vq->desc_gpa & 15) || (vq->avail_gpa & 1) || (vq->used_gpa & 3))
		return -EINVAL;
	vq->desc = gpa_to_hva(mem, vq->desc_gpa, 16 * n);
	vq->avail = gpa_to_hva(mem, vq->avail_gpa, 6 + 2 * n);
	vq->used = gpa_to_hva(mem, vq->used_gpa, 6 + 8 * n);
	if (vq->desc == NULL || vq->avail == NULL || vq->used == NULL) {
		vq->desc = vq->avail = vq->used = NULL;
		return -EINVAL;
	}
	vq->mem = mem;
	vq->last_avail = 0;
	vq->used_idx = 0;
	vq->signalled_valid = false;
	vq->ready = true;
	return 0;
}

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static void
read_desc(volatile const uint8_t *table, unsigned i, struct desc *d)
{
	memcpy(d, (const void *)(table + 16 * (size_t)i), 16);
}

static int
add_buf(struct virtqueue *vq, struct vq_chain *c, const struct desc *d)
{
	bool w = d->flags & VRING_DESC_F_WRITE;
	if (!w && c->nwrite > 0)
		return VQ_EORDER;
	if (c->nread + c->nwrite >= VQ_MAX_SEGS)
		return VQ_ETOOBIG;
	if (d->len == 0)
		return VQ_OK;           /* empty buffers carry nothing */
	void *p = gpa_to_hva(vq->mem, d->addr, d->len);
	if (p == NULL)
		return VQ_EADDR;
	struct iovec *iov = &c->iov[c->nread + c->nwrite];
	iov->iov_base = p;
	iov->iov_len = d->len;
	if (w) {
		c->nwrite++;
		c->write_len += d->len;
	} else {
		c->nread++;
		c->read_len += d->len;
	}
	return VQ_OK;
}

static int
walk_indirect(struct virtqueue *vq, struct vq_chain *c, const struct desc *d)
{
	if (!vq->indirect || (d->flags & VRING_DESC_F_NEXT) || d->len == 0 ||
	    (d->len & 15) || d->len / 16 > VQ_MAX_SEGS)
		return VQ_EINDIRECT;
	const uint8_t *table = gpa_to_hva(vq->mem, d->addr, d->len);
	if (table == NULL)
		return VQ_EADDR;
	unsigned n = d->len / 16, i = 0;
	for (unsigned steps = 0; ; steps++) {
		if (steps >= n)
			return VQ_ELOOP;
		struct desc e;
		read_desc(table, i, &e);
		if (e.flags & VRING_DESC_F_INDIRECT)
			return VQ_EINDIRECT;    /* no nesting */
		int r = add_buf(vq, c, &e);
		if (r != VQ_OK)
			return r;
		if (!(e.flags & VRING_DESC_F_NEXT))
			return VQ_OK;
		if (e.next >= n)
			return VQ_EINDIRECT;
		i = e.next;
	}
}

int
vq_pop(struct virtqueue *vq, struct vq_chain *c)
{
	if (!vq->ready)
		return VQ_EMPTY;
	uint16_t avail_idx = ld16(vq->avail + AVAIL_IDX);
	uint16_t pending = (uint16_t)(avail_idx - vq->last_avail);
	if (pending == 0 && vq->event_idx) {
		/* Before the device sleeps: avail_event (written at the last
		 * pop; the driver zeroed it before any) must be visible before
		 * the index is read again, or a driver that read the older
		 * avail_event after adding a buffer skips its kick while this
		 * read still sees the queue empty (x86 lets a load pass an
		 * earlier store; the driver's side of this pairing is its own
		 * full barrier). */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		avail_idx = ld16(vq->avail + AVAIL_IDX);
		pending = (uint16_t)(avail_idx - vq->last_avail);
	}
	if (pending == 0)
		return VQ_EMPTY;
	if (pending > vq->size)
		return VQ_EBADIDX;
	uint16_t head = ld16(vq->avail + AVAIL_RING(vq->last_avail % vq->size));
	vq->last_avail++;
	if (vq->event_idx)      /* avail_event: tell us at the next entry */
		st16(vq->used + USED_RING(vq->size), vq->last_avail);
	c->head = head;
	c->nread = c->nwrite = 0;
	c->read_len = c->write_len = 0;
	if (head >= vq->size)
		return VQ_EBADHEAD;
	unsigned i = head;
	for (unsigned steps = 0; ; steps++) {
		if (steps >= vq->size)
			return VQ_ELOOP;
		struct desc d;
		read_desc(vq->desc, i, &d);
		int r;
		if (d.flags & VRING_DESC_F_INDIRECT)
			r = walk_indirect(vq, c, &d);
		else
			r = add_buf(vq, c, &d);
		if (r != VQ_OK)
			return r;
		if ((d.flags & VRING_DESC_F_INDIRECT) ||
		    !(d.flags & VRING_DESC_F_NEXT))
			return VQ_OK;
		if (d.next >= vq->size)
			return VQ_EBADHEAD;
		i = d.next;
	}
}

void
vq_push(struct virtqueue *vq, uint16_t head, uint32_t len)
{
	volatile uint8_t *e = vq->used + USED_RING(vq->used_idx % vq->size);
	uint32_t id = head;
	memcpy((void *)e, &id, 4);
	memcpy((void *)(e + 4), &len, 4);
	vq->used_idx++;
	st16(vq->used + USED_IDX, vq->used_idx);        /* release */
}

bool
vq_should_notify(struct virtqueue *vq)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(ld16(vq->avail + AVAIL_FLAGS) & VRING_AVAIL_F_NO_INTERRUPT);
	uint16_t used_event = ld16(vq->avail + AVAIL_RING(vq->size));
	uint16_t old = vq->signalled_used, new_idx = vq->used_idx;
	bool valid = vq->signalled_valid;
	vq->signalled_used = new_idx;
	vq->signalled_valid = true;
	/* vring_need_event(): did new_idx pass used_event since old? */
	return !valid || (uint16_t)(new_idx - used_event - 1) <
	    (uint16_t)(new_idx - old);
}

static uint64_t
copy_iov(const struct iovec *iov, unsigned n, uint64_t off, void *buf,
    uint64_t len, bool to_iov)
{
	uint64_t done = 0;
	for (unsigned i = 0; i < n && done < len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		uint64_t k = iov[i].iov_len - off;
		if (k > len - done)
			k = len - done;
		if (to_iov)
			memcpy((uint8_t *)iov[i].iov_base + off,
			    (const uint8_t *)buf + done, k);
		else
			memcpy((uint8_t *)buf + done,
			    (const uint8_t *)iov[i].iov_base + off, k);
		done += k;
		off = 0;
	}
	return done;
}

uint64_t
vq_copy_from(const struct vq_chain *c, uint64_t off, void *dst, uint64_t len)
{
	return copy_iov(c->iov, c->nread, off, dst, len, false);
}

uint64_t
vq_copy_to(const struct vq_chain *c, uint64_t off, const void *src,
    uint64_t len)
{
	return copy_iov(c->iov + c->nread, c->nwrite, off, (void *)src, len,
	    true);
}
