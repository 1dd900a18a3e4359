/*
 * Split virtqueues (virtio 1.x, section 2.7) over guest memory.  Every
 * address, length, index and flag in the rings and descriptors is guest
 * data: a chain is walked only after each descriptor is checked, and a bad
 * chain is reported as an error, never followed outside guest RAM.
 */
#ifndef HYVE_VIRTQUEUE_H
#define HYVE_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct guest_mem;

#define VQ_MAX_SIZE 1024u
#define VQ_MAX_SEGS 1024u       /* buffers in one chain, indirect included */

struct virtqueue {
	uint16_t size;          /* entries, a power of two */
	bool ready;             /* queue_enable */
	bool event_idx;         /* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect;          /* VIRTIO_F_INDIRECT_DESC negotiated */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t msix_vector;
	/* host mappings, set by vq_enable */
	volatile uint8_t *desc, *avail, *used;
	uint16_t last_avail;    /* next avail entry to take */
	uint16_t used_idx;      /* next used entry to write */
	uint16_t signalled_used;
	bool signalled_valid;
	const struct guest_mem *mem;
};

/* One request: the readable buffers, then the writable ones. */
struct vq_chain {
	uint16_t head;
	unsigned nread, nwrite;
	struct iovec iov[VQ_MAX_SEGS];  /* iov[0..nread) then writable */
	uint64_t read_len, write_len;
};

enum vq_error {
	VQ_OK = 0,
	VQ_EMPTY = 1,           /* nothing available */
	VQ_EBADIDX = -1,        /* avail index moved more than size */
	VQ_EBADHEAD = -2,       /* head index out of range */
	VQ_ELOOP = -3,          /* chain longer than the table (a loop) */
	VQ_EADDR = -4,          /* buffer outside guest RAM */
	VQ_EORDER = -5,         /* readable after writable */
	VQ_EINDIRECT = -6,      /* bad indirect table */
	VQ_ETOOBIG = -7,        /* more buffers than VQ_MAX_SEGS */
};

/* Check the addresses and map the rings; -EINVAL if any lies outside RAM
 * or is misaligned, or the size is not a power of two up to VQ_MAX_SIZE. */
int vq_enable(struct virtqueue *vq, const struct guest_mem *mem);
void vq_reset(struct virtqueue *vq);
/* Take the next available chain.  VQ_OK, VQ_EMPTY, or an error with
 * c->head set when the head itself was valid (so it can be returned). */
int vq_pop(struct virtqueue *vq, struct vq_chain *c);
/* Put head on the used ring with len bytes written. */
void vq_push(struct virtqueue *vq, uint16_t head, uint32_t len);
/* Whether the driver wants an interrupt for what was pushed since the last
 * time this returned true (event index or the NO_INTERRUPT flag). */
bool vq_should_notify(struct virtqueue *vq);
/* Copy helpers across a chain's iovecs. */
uint64_t vq_copy_from(const struct vq_chain *c, uint64_t off, void *dst,
    uint64_t len);
uint64_t vq_copy_to(const struct vq_chain *c, uint64_t off, const void *src,
    uint64_t len);
const char *vq_strerror(int e);

#endif
