/*
 * virtio-blk on a file or block device:
 *   -s slot,virtio-blk,PATH[,ro][,queues=N][,serial=ID]
 * read, write, flush (fdatasync), discard, write-zeroes, get-id, read-only
 * mode, up to 8 queues.  Every request is checked: header and status
 * present, sector range inside the disk, data length a whole number of
 * sectors; a bad one is answered VIRTIO_BLK_S_IOERR or _UNSUPP.
 * Reads, writes and flushes go to io_uring, so the device worker keeps
 * taking requests while earlier ones are in flight; where io_uring is not
 * available they are done synchronously on the worker.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <liburing.h>
#include <sys/eventfd.h>

#include <linux/virtio_blk.h>

#include "devices/device.h"
#include "devices/virtio/virtio.h"
#include "vmm/config.h"
#include "vmm/vm.h"

#define SECTOR 512u
#define MAX_QUEUES 8
#define QUEUE_SIZE 256
#define SEG_MAX (QUEUE_SIZE - 2)
#define MAX_DISCARD_SEG 32
#define DISCARD_MAX_SECTORS (1u << 22)

/* A request in flight on io_uring. */
struct aio {
	bool busy;
	uint16_t head;
	uint8_t q;
	uint8_t *status;        /* the status byte in guest memory */
	uint32_t written;       /* reported on success */
	uint64_t expect;        /* bytes the operation must move */
	int niov;
	struct iovec iov[SEG_MAX];
};

#define AIO_SLOTS (MAX_QUEUES * QUEUE_SIZE)

struct blk {
	int fd;
	bool ro;
	uint64_t capacity;      /* sectors */
	char serial[VIRTIO_BLK_ID_BYTES + 1];
	uint64_t reqs, bytes_read, bytes_written, flushes;
	/* asynchronous I/O */
	bool uring;
	struct io_uring ring;
	int ring_efd;
	unsigned inflight;
	struct virtio_dev *dev;
	struct aio *slots;      /* AIO_SLOTS */
	unsigned next_slot;
};

struct req_hdr {
	uint32_t type, ioprio;
	uint64_t sector;
};

/* The iovecs of c covering [off, off+len) of its readable (or writable)
 * part, into out; returns how many. */
static int
sub_iov(const struct vq_chain *c, bool writable, uint64_t off, uint64_t len,
    struct iovec *out)
{
	const struct iovec *iov = writable ? c->iov + c->nread : c->iov;
	unsigned n = writable ? c->nwrite : c->nread;
	int k = 0;
	for (unsigned i = 0; i < n && len > 0; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		uint64_t take = iov[i].iov_len - off;
		if (take > len)
			take = len;
		out[k].iov_base = (uint8_t *)iov[i].iov_base + off;
		out[k].iov_len = take;
		k++;
		len -= take;
		off = 0;
	}
	return k;
}

static int
rw_all(int fd, struct iovec *iov, int n, uint64_t pos, bool write)
{
	while (n > 0) {
		ssize_t r = write ? pwritev(fd, iov, n, (off_t)pos) :
		    preadv(fd, iov, n, (off_t)pos);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0) {
			/* Reading past the end of a short file: zeros. */
			if (write)
				return -EIO;
			for (int i = 0; i < n; i++)
				memset(iov[i].iov_base, 0, iov[i].iov_len);
			return 0;
		}
		pos += (uint64_t)r;
		while (n > 0 && (size_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return 0;
}

static bool
range_ok(struct blk *b, uint64_t sector, uint64_t nsect)
{
	return sector <= b->capacity && nsect <= b->capacity - sector;
}

static uint8_t
do_discard(struct blk *b, const struct vq_chain *c, uint64_t data_len,
    bool zeroes)
{
	if (b->ro)
		return VIRTIO_BLK_S_IOERR;
	if (data_len == 0 || data_len % 16 || data_len / 16 > MAX_DISCARD_SEG)
		return VIRTIO_BLK_S_UNSUPP;
	for (uint64_t off = 0; off < data_len; off += 16) {
		struct virtio_blk_discard_write_zeroes seg;
		if (vq_copy_from(c, sizeof(struct req_hdr) + off, &seg,
		    sizeof(seg)) != sizeof(seg))
			return VIRTIO_BLK_S_IOERR;
		uint32_t known = zeroes ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0;
		if ((seg.flags & ~known) || seg.num_sectors > DISCARD_MAX_SECTORS ||
		    !range_ok(b, seg.sector, seg.num_sectors))
			return VIRTIO_BLK_S_UNSUPP;
		off_t pos = (off_t)(seg.sector * SECTOR);
		off_t len = (off_t)seg.num_sectors * SECTOR;
		int mode = zeroes && !(seg.flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) ?
		    FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE :
		    FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		if (fallocate(b->fd, mode, pos, len) < 0) {
			if (!zeroes)
				continue;       /* discard is only a hint */
			/* Write zeros by hand where the file system cannot. */
			static const uint8_t zero[65536];
			for (off_t p = 0; p < len; ) {
				size_t k = (size_t)(len - p) < sizeof(zero) ?
				    (size_t)(len - p) : sizeof(zero);
				ssize_t w = pwrite(b->fd, zero, k, pos + p);
				if (w <= 0)
					return VIRTIO_BLK_S_IOERR;
				p += w;
			}
		}
	}
	return VIRTIO_BLK_S_OK;
}

static struct aio *
aio_slot(struct blk *b)
{
	for (unsigned i = 0; i < AIO_SLOTS; i++) {
		struct aio *a = &b->slots[(b->next_slot + i) % AIO_SLOTS];
		if (!a->busy) {
			b->next_slot = (b->next_slot + i + 1) % AIO_SLOTS;
			return a;
		}
	}
	return NULL;
}

/* Queue a read, write or flush on io_uring.  Returns false when it could
 * not be queued (the caller then does it synchronously). */
static bool
aio_submit(struct blk *b, unsigned q, const struct vq_chain *c, int op,
    struct iovec *iov, int niov, uint64_t pos, uint64_t len, uint32_t written)
{
	if (!b->uring || niov > SEG_MAX)
		return false;
	struct aio *a = aio_slot(b);
	struct io_uring_sqe *sqe = a ? io_uring_get_sqe(&b->ring) : NULL;
	if (sqe == NULL)
		return false;
	a->busy = true;
	a->head = c->head;
	a->q = (uint8_t)q;
	const struct iovec *last = &c->iov[c->nread + c->nwrite - 1];
	a->status = (uint8_t *)last->iov_base + last->iov_len - 1;
	a->written = written;
	a->expect = len;
	a->niov = niov;
	if (niov > 0)
		memcpy(a->iov, iov, (size_t)niov * sizeof(*iov));
	if (op == VIRTIO_BLK_T_IN)
		io_uring_prep_readv(sqe, b->fd, a->iov, (unsigned)niov, pos);
	else if (op == VIRTIO_BLK_T_OUT)
		io_uring_prep_writev(sqe, b->fd, a->iov, (unsigned)niov, pos);
	else
		io_uring_prep_fsync(sqe, b->fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data(sqe, a);
	if (io_uring_submit(&b->ring) < 0) {
		a->busy = false;
		return false;
	}
	b->inflight++;
	return true;
}

#define SUBMITTED UINT32_MAX

/* Handle one request on queue q; returns the bytes written into the chain,
 * or SUBMITTED when it went to io_uring and completes later. */
static uint32_t
handle(struct blk *b, unsigned q, const struct vq_chain *c)
{
	static __thread struct iovec iov[VQ_MAX_SEGS];
	struct req_hdr h;
	/* Header in the readable part, status byte at the end of the
	 * writable part: without them there is no way to answer. */
	if (c->read_len < sizeof(h) || c->write_len < 1)
		return 0;
	vq_copy_from(c, 0, &h, sizeof(h));
	uint64_t status_off = c->write_len - 1;
	uint8_t st = VIRTIO_BLK_S_OK;
	uint32_t written = 1;
	b->reqs++;
	switch (h.type) {
	case VIRTIO_BLK_T_IN: {
		uint64_t len = c->write_len - 1;
		if (len % SECTOR || !range_ok(b, h.sector, len / SECTOR)) {
			st = VIRTIO_BLK_S_IOERR;
			break;
		}
		int n = sub_iov(c, true, 0, len, iov);
		b->bytes_read += len;
		if (aio_submit(b, q, c, VIRTIO_BLK_T_IN, iov, n, h.sector * SECTOR,
		    len, (uint32_t)len + 1))
			return SUBMITTED;
		if (rw_all(b->fd, iov, n, h.sector * SECTOR, false) < 0) {
			st = VIRTIO_BLK_S_IOERR;
			break;
		}
		written += (uint32_t)len;
		break;
	}
	case VIRTIO_BLK_T_OUT: {
		uint64_t len = c->read_len - sizeof(h);
		if (b->ro || len % SECTOR || !range_ok(b, h.sector, len / SECTOR)) {
			st = VIRTIO_BLK_S_IOERR;
			break;
		}
		int n = sub_iov(c, false, sizeof(h), len, iov);
		b->bytes_written += len;
		if (aio_submit(b, q, c, VIRTIO_BLK_T_OUT, iov, n, h.sector * SECTOR,
		    len, 1))
			return SUBMITTED;
		if (rw_all(b->fd, iov, n, h.sector * SECTOR, true) < 0)
			st = VIRTIO_BLK_S_IOERR;
		break;
	}
	case VIRTIO_BLK_T_FLUSH:
		b->flushes++;
		if (b->ro)
			break;
		if (aio_submit(b, q, c, VIRTIO_BLK_T_FLUSH, NULL, 0, 0, 0, 1))
			return SUBMITTED;
		if (fdatasync(b->fd) < 0)
			st = VIRTIO_BLK_S_IOERR;
		break;
	case VIRTIO_BLK_T_GET_ID: {
		uint64_t len = c->write_len - 1;
		if (len < VIRTIO_BLK_ID_BYTES) {
			st = VIRTIO_BLK_S_IOERR;
			break;
		}
		char id[VIRTIO_BLK_ID_BYTES] = { 0 };
		memcpy(id, b->serial, strnlen(b->serial, VIRTIO_BLK_ID_BYTES));
		vq_copy_to(c, 0, id, sizeof(id));
		written += VIRTIO_BLK_ID_BYTES;
		break;
	}
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		st = do_discard(b, c, c->read_len - sizeof(h),
		    h.type == VIRTIO_BLK_T_WRITE_ZEROES);
		break;
	default:
		st = VIRTIO_BLK_S_UNSUPP;
	}
	vq_copy_to(c, status_off, &st, 1);
	return written;
}

static void
blk_notify(struct virtio_dev *d, unsigned q)
{
	struct blk *b = d->priv;
	static __thread struct vq_chain c;
	struct virtqueue *vq = &d->vq[q];
	int r;
	bool pushed = false;
	while ((r = vq_pop(vq, &c)) != VQ_EMPTY) {
		if (r == VQ_EBADIDX) {
			virtio_bad_chain(d, q, r);
			d->status |= 0x40;      /* NEEDS_RESET: the ring is garbage */
			virtio_config_changed(d);
			return;
		}
		uint32_t len = 0;
		if (r == VQ_OK) {
			len = handle(b, q, &c);
			if (len == SUBMITTED)
				continue;       /* completes in blk_complete */
		} else {
			/* The head is ours to return: answer it with nothing
			 * written, the device's error for a malformed request. */
			virtio_bad_chain(d, q, r);
		}
		if (r == VQ_EBADHEAD && c.head >= vq->size) {
			d->status |= 0x40;
			virtio_config_changed(d);
			return;
		}
		vq_push(vq, c.head, len);
		pushed = true;
	}
	if (pushed)
		virtio_notify(d, q);
}

/* io_uring completions: status byte, used ring, interrupt. */
static void
blk_complete(struct virtio_dev *d, void *arg)
{
	struct blk *b = arg;
	uint64_t cnt;
	if (read(b->ring_efd, &cnt, 8) < 0) {
		/* nothing counted: the CQ is still looked at */
	}
	bool notify[MAX_QUEUES] = { false };
	struct io_uring_cqe *cqe;
	while (io_uring_peek_cqe(&b->ring, &cqe) == 0) {
		struct aio *a = io_uring_cqe_get_data(cqe);
		int res = cqe->res;
		io_uring_cqe_seen(&b->ring, cqe);
		b->inflight--;
		if (a == NULL || !a->busy)
			continue;
		bool ok = res >= 0 && (uint64_t)res == a->expect;
		*(volatile uint8_t *)a->status = ok ? VIRTIO_BLK_S_OK :
		    VIRTIO_BLK_S_IOERR;
		a->busy = false;
		if (d == NULL || !d->vq[a->q].ready)
			continue;       /* the device was reset meanwhile */
		vq_push(&d->vq[a->q], a->head, ok ? a->written : 1);
		notify[a->q] = true;
	}
	for (unsigned q = 0; d != NULL && q < d->nvq; q++)
		if (notify[q])
			virtio_notify(d, q);
}

/* A reset waits for the I/O in flight: its buffers belong to the guest. */
static void
blk_reset(struct virtio_dev *d)
{
	struct blk *b = d->priv;
	while (b->uring && b->inflight > 0) {
		struct io_uring_cqe *cqe;
		if (io_uring_wait_cqe(&b->ring, &cqe) < 0)
			break;
		struct aio *a = io_uring_cqe_get_data(cqe);
		io_uring_cqe_seen(&b->ring, cqe);
		b->inflight--;
		if (a)
			a->busy = false;
	}
}

static const struct virtio_ops blk_ops = {
	.name = "virtio-blk",
	.device_type = 2,
	.pci_class = 0x01, .pci_subclass = 0x80,
	.features = (1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |
	    (1ull << VIRTIO_BLK_F_FLUSH) | (1ull << VIRTIO_BLK_F_DISCARD) |
	    (1ull << VIRTIO_BLK_F_WRITE_ZEROES) | (1ull << VIRTIO_BLK_F_MQ),
	.cfg_size = 60,
	.queue_notify = blk_notify,
	.reset = blk_reset,
};

static void
blk_close(void *arg)
{
	struct blk *b = arg;
	if (b->uring) {
		io_uring_queue_exit(&b->ring);
		close(b->ring_efd);
	}
	free(b->slots);
	if (b->fd >= 0)
		close(b->fd);
}

/* io_uring with its completions signalled on an eventfd the device worker
 * watches; without it, synchronous I/O. */
static void
aio_setup(struct blk *b)
{
	b->slots = calloc(AIO_SLOTS, sizeof(*b->slots));
	b->ring_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->slots == NULL || b->ring_efd < 0)
		goto fail;
	if (io_uring_queue_init(QUEUE_SIZE, &b->ring, 0) < 0)
		goto fail;
	if (io_uring_register_eventfd(&b->ring, b->ring_efd) < 0) {
		io_uring_queue_exit(&b->ring);
		goto fail;
	}
	b->uring = true;
	return;
fail:
	if (b->ring_efd >= 0)
		close(b->ring_efd);
	b->ring_efd = -1;
}

static int
parse_conf(const char *conf, char *path, size_t plen, bool *ro,
    unsigned *queues, char *serial, char *err, size_t errlen)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", conf);
	char *save, *tok = strtok_r(buf, ",", &save);
	if (tok == NULL || tok[0] == '\0') {
		snprintf(err, errlen, "virtio-blk: no backing file (-s slot,"
		    "virtio-blk,PATH[,ro][,queues=N][,serial=ID][,transport=T])");
		return -EINVAL;
	}
	snprintf(path, plen, "%s", tok);
	while ((tok = strtok_r(NULL, ",", &save)) != NULL) {
		char *end;
		if (strcmp(tok, "ro") == 0) {
			*ro = true;
		} else if (strncmp(tok, "queues=", 7) == 0) {
			unsigned long v = strtoul(tok + 7, &end, 10);
			if (*end || v < 1 || v > MAX_QUEUES) {
				snprintf(err, errlen, "virtio-blk: bad %s (1 to %d)",
				    tok, MAX_QUEUES);
				return -EINVAL;
			}
			*queues = (unsigned)v;
		} else if (strncmp(tok, "serial=", 7) == 0) {
			snprintf(serial, VIRTIO_BLK_ID_BYTES + 1, "%s", tok + 7);
		} else if (!virtio_transport_opt(tok)) {
			snprintf(err, errlen, "virtio-blk: unknown option '%s'", tok);
			return -EINVAL;
		}
	}
	return 0;
}

static int
blk_init(struct vm *vm, const struct dev_config *dc, char *err, size_t errlen)
{
	struct blk *b = vm_dev_alloc(vm, sizeof(*b));
	if (b == NULL)
		return -ENOMEM;
	b->fd = -1;
	b->ring_efd = -1;
	char path[256];
	unsigned queues = 1;
	snprintf(b->serial, sizeof(b->serial), "hyve-%s", dc->slot);
	int r = parse_conf(dc->conf, path, sizeof(path), &b->ro, &queues,
	    b->serial, err, errlen);
	if (r < 0)
		return r;
	b->fd = open(path, (b->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (b->fd < 0) {
		snprintf(err, errlen, "virtio-blk: %s: %s", path, strerror(errno));
		return -errno == -ENOENT ? -ENOENT : -EINVAL;
	}
	r = vm_add_hook(vm, false, blk_close, b);
	if (r < 0) {
		close(b->fd);
		return r;
	}
	struct stat st;
	uint64_t bytes = 0;
	if (fstat(b->fd, &st) == 0 && S_ISBLK(st.st_mode))
		(void)ioctl(b->fd, BLKGETSIZE64, &bytes);
	else if (fstat(b->fd, &st) == 0 && S_ISREG(st.st_mode))
		bytes = (uint64_t)st.st_size;
	else {
		snprintf(err, errlen, "virtio-blk: %s: not a file or block device",
		    path);
		return -EINVAL;
	}
	b->capacity = bytes / SECTOR;
	aio_setup(b);
	struct virtio_dev *d;
	r = virtio_dev_create(vm, dc, &blk_ops, b, queues, QUEUE_SIZE, &d, err,
	    errlen);
	if (r < 0)
		return r;
	b->dev = d;
	if (b->uring && (r = virtio_poll_fd(d, b->ring_efd, blk_complete, b)) < 0) {
		snprintf(err, errlen, "virtio-blk: %s", strerror(-r));
		return r;
	}
	if (b->ro)
		d->offered |= 1ull << VIRTIO_BLK_F_RO;
	struct virtio_blk_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.capacity = b->capacity;
	cfg.seg_max = SEG_MAX;
	cfg.blk_size = SECTOR;
	cfg.num_queues = (uint16_t)queues;
	cfg.max_discard_sectors = DISCARD_MAX_SECTORS;
	cfg.max_discard_seg = MAX_DISCARD_SEG;
	cfg.discard_sector_alignment = 1;
	cfg.max_write_zeroes_sectors = DISCARD_MAX_SECTORS;
	cfg.max_write_zeroes_seg = MAX_DISCARD_SEG;
	cfg.write_zeroes_may_unmap = 1;
	memcpy(d->cfg, &cfg, blk_ops.cfg_size);
	return 0;
}

static const struct device_emul virtio_blk = {
	.name = "virtio-blk", .kind = DEV_PCI, .init = blk_init,
};
DEVICE_EMUL(virtio_blk);
