/*
 * virtio-console with one port (no MULTIPORT):
 *   -s slot,virtio-console[,stdio|PATH|socket=PATH|null]
 *   stdio          output to stdout, input from stdin (the default)
 *   PATH           output appended to a file (no input)
 *   socket=PATH    a Unix stream socket hyve listens on; one client at a
 *                  time gets the output and sends the input
 * Queue 0 (receiveq) carries input to the guest, queue 1 (transmitq) its
 * output; VIRTIO_CONSOLE_F_EMERG_WRITE lets the guest write a byte through
 * the configuration before its queues exist.  Input waits in the backend
 * while the guest has no receive buffer (the fd leaves the worker's watch
 * until the guest kicks the receive queue); output with no client
 * connected, or that a client cannot take, is counted and dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/virtio_console.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/device.h"
#include "devices/pci/pci.h"
#include "devices/virtio/virtio.h"
#include "vmm/config.h"
#include "vmm/log.h"
#include "vmm/vm.h"

#define QUEUE_SIZE 64
#define RXQ 0
#define TXQ 1
#define CFG_SIZE 12             /* cols, rows, max_nr_ports, emerg_wr */
#define CFG_EMERG_WR 8
#define NEEDS_RESET 0x40

enum vcon_be { BE_NULL, BE_STDIO, BE_FILE, BE_SOCKET };

struct vcon {
	struct virtio_dev *d;
	enum vcon_be be;
	int in_fd, out_fd;      /* -1 when none (a socket with no client) */
	int listen_fd;
	int ep;                 /* epoll over in_fd or listen_fd */
	int watched;            /* the fd in ep, or -1 */
	char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uint64_t rx_bytes, tx_bytes, tx_dropped;
};

static void
watch(struct vcon *v, int fd)
{
	if (v->watched == fd)
		return;
	struct epoll_event ev = { .events = EPOLLIN };
	if (v->watched >= 0)
		(void)epoll_ctl(v->ep, EPOLL_CTL_DEL, v->watched, &ev);
	v->watched = -1;
	if (fd >= 0 && epoll_ctl(v->ep, EPOLL_CTL_ADD, fd, &ev) == 0)
		v->watched = fd;
}

/* What the worker should watch when the guest can take input. */
static int
input_source(const struct vcon *v)
{
	if (v->be == BE_SOCKET && v->in_fd < 0)
		return v->listen_fd;
	return v->in_fd;
}

static void
client_gone(struct vcon *v)
{
	if (v->be == BE_SOCKET) {
		if (v->in_fd >= 0) {
			watch(v, -1);
			close(v->in_fd);
		}
		v->in_fd = v->out_fd = -1;
		watch(v, v->listen_fd);
	} else {
		watch(v, -1);
		v->in_fd = -1;          /* end of stdin */
	}
}

static void
out_write(struct vcon *v, struct iovec *iov, int n, uint64_t len)
{
	if (v->out_fd < 0) {
		v->tx_dropped += len;
		return;
	}
	uint64_t done = 0;
	while (n > 0) {
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		ssize_t w = v->be == BE_SOCKET ?
		    sendmsg(v->out_fd, &mh, MSG_NOSIGNAL) : writev(v->out_fd, iov, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			v->tx_dropped += len - done;
			if (v->be == BE_SOCKET && errno != EAGAIN)
				client_gone(v);
			return;
		}
		done += (uint64_t)w;
		v->tx_bytes += (uint64_t)w;
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
}

static bool
ring_broken(struct virtio_dev *d, const struct virtqueue *vq,
    const struct vq_chain *c, unsigned q, int r)
{
	virtio_bad_chain(d, q, r);
	if (r == VQ_EBADIDX || (r == VQ_EBADHEAD && c->head >= vq->size)) {
		d->status |= NEEDS_RESET;
		virtio_config_changed(d);
		return true;
	}
	return false;
}

static void
bad_chain(struct virtio_dev *d, unsigned q, const char *why)
{
	if (d->errors++ < 5)
		pr_warn("virtio-console (slot %u): queue %u: %s", d->f->slot, q,
		    why);
}

static void
vcon_tx(struct vcon *v)
{
	static __thread struct vq_chain c;
	static __thread struct iovec iov[VQ_MAX_SEGS];
	struct virtio_dev *d = v->d;
	struct virtqueue *vq = &d->vq[TXQ];
	bool pushed = false;
	int r;
	while ((r = vq_pop(vq, &c)) != VQ_EMPTY) {
		if (r != VQ_OK && ring_broken(d, vq, &c, TXQ, r))
			break;
		if (r == VQ_OK && c.nwrite > 0)
			bad_chain(d, TXQ, "transmit chain with writable buffers");
		else if (r == VQ_OK) {
			memcpy(iov, c.iov, c.nread * sizeof(*iov));
			out_write(v, iov, (int)c.nread, c.read_len);
		}
		vq_push(vq, c.head, 0);
		pushed = true;
	}
	if (pushed)
		virtio_notify(d, TXQ);
}

/* Input is ready (or the guest gave buffers): one read per wake-up, since
 * stdin is a shared, blocking descriptor. */
static void
vcon_rx(struct vcon *v)
{
	static __thread struct vq_chain c;
	struct virtio_dev *d = v->d;
	struct virtqueue *vq = &d->vq[RXQ];
	if (v->in_fd < 0)
		return;
	if (!(d->status & VIRTIO_CONFIG_S_DRIVER_OK) ||
	    (d->status & NEEDS_RESET) || !vq->ready) {
		watch(v, -1);   /* the guest's kick resumes */
		return;
	}
	bool pushed = false;
	int r;
	for (;;) {
		r = vq_pop(vq, &c);
		if (r == VQ_EMPTY) {
			watch(v, -1);   /* the input waits for a kick */
			break;
		}
		if (r != VQ_OK) {
			if (ring_broken(d, vq, &c, RXQ, r))
				break;
			vq_push(vq, c.head, 0);
			pushed = true;
			continue;
		}
		if (c.nread > 0 || c.write_len == 0) {
			bad_chain(d, RXQ, c.nread ? "receive chain with "
			    "device-readable buffers" : "empty receive chain");
			vq_push(vq, c.head, 0);
			pushed = true;
			continue;
		}
		ssize_t n;
		do {
			n = readv(v->in_fd, c.iov, (int)c.nwrite);
		} while (n < 0 && errno == EINTR);
		if (n > 0) {
			vq_push(vq, c.head, (uint32_t)n);
			v->rx_bytes += (uint64_t)n;
			pushed = true;
			watch(v, v->in_fd);
			break;
		}
		/* Nothing read: the chain goes back for the next input. */
		vq->last_avail--;
		if (n == 0 || errno != EAGAIN)
			client_gone(v);
		break;
	}
	if (pushed)
		virtio_notify(d, RXQ);
}

static void
vcon_input_ready(struct virtio_dev *d, void *arg)
{
	struct vcon *v = arg;
	(void)d;
	struct epoll_event ev;
	if (epoll_wait(v->ep, &ev, 1, 0) <= 0)
		return;
	if (v->be == BE_SOCKET && v->in_fd < 0) {
		/* A client, whether or not the guest reads yet. */
		int fd = accept4(v->listen_fd, NULL, NULL,
		    SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd >= 0) {
			v->in_fd = v->out_fd = fd;
			watch(v, fd);
		}
		return;
	}
	vcon_rx(v);
}

static void
vcon_notify(struct virtio_dev *d, unsigned q)
{
	struct vcon *v = d->priv;
	if (q == TXQ) {
		vcon_tx(v);
	} else {
		/* Buffers: watch the input again; it is read when ready (a
		 * read now could block on stdin). */
		watch(v, input_source(v));
	}
}

static void
vcon_cfg_write(struct virtio_dev *d, unsigned off, unsigned len)
{
	struct vcon *v = d->priv;
	if (off == CFG_EMERG_WR && len == 4 &&
	    virtio_negotiated(d, VIRTIO_CONSOLE_F_EMERG_WRITE)) {
		uint8_t ch = d->cfg[CFG_EMERG_WR];
		struct iovec iov = { &ch, 1 };
		out_write(v, &iov, 1, 1);
	}
	memset(d->cfg, 0, CFG_SIZE);    /* read-only but for emerg_wr */
}

static const struct virtio_ops vcon_ops = {
	.name = "virtio-console",
	.device_type = 3,
	.pci_class = 0x07, .pci_subclass = 0x80,
	.features = 1ull << VIRTIO_CONSOLE_F_EMERG_WRITE,
	.cfg_size = CFG_SIZE,
	.queue_notify = vcon_notify,
	.cfg_write = vcon_cfg_write,
};

static void
vcon_close(void *arg)
{
	struct vcon *v = arg;
	if (v->be == BE_FILE && v->out_fd >= 0)
		close(v->out_fd);
	if (v->be == BE_SOCKET) {
		if (v->in_fd >= 0)
			close(v->in_fd);
		if (v->listen_fd >= 0) {
			close(v->listen_fd);
			unlink(v->sock_path);
		}
	}
	if (v->ep >= 0)
		close(v->ep);
}

static int
open_backend(struct vcon *v, const char *be, char *err, size_t errlen)
{
	if (be[0] == '\0' || strcmp(be, "stdio") == 0) {
		v->be = BE_STDIO;
		v->out_fd = STDOUT_FILENO;
		v->in_fd = STDIN_FILENO;
		struct epoll_event ev = { .events = EPOLLIN };
		/* A regular file or /dev/null on stdin cannot be polled. */
		if (epoll_ctl(v->ep, EPOLL_CTL_ADD, STDIN_FILENO, &ev) < 0)
			v->in_fd = -1;
		else
			(void)epoll_ctl(v->ep, EPOLL_CTL_DEL, STDIN_FILENO, &ev);
		return 0;
	}
	if (strcmp(be, "null") == 0) {
		v->be = BE_NULL;
		return 0;
	}
	if (strncmp(be, "socket=", 7) == 0) {
		const char *path = be + 7;
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		if (path[0] == '\0' || strlen(path) >= sizeof(sa.sun_path)) {
			snprintf(err, errlen, "virtio-console: bad socket path '%s'",
			    path);
			return -EINVAL;
		}
		memcpy(sa.sun_path, path, strlen(path) + 1);
		v->be = BE_SOCKET;
		v->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, 0);
		struct stat st;
		if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(path);
		if (v->listen_fd < 0 ||
		    bind(v->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    listen(v->listen_fd, 1) < 0) {
			snprintf(err, errlen, "virtio-console: socket %s: %s", path,
			    strerror(errno));
			if (v->listen_fd >= 0)
				close(v->listen_fd);
			v->listen_fd = -1;
			return -EINVAL;
		}
		memcpy(v->sock_path, path, strlen(path) + 1);
		watch(v, v->listen_fd);
		return 0;
	}
	if (strchr(be, '=') != NULL) {
		snprintf(err, errlen, "virtio-console: unknown option '%s' "
		    "(stdio, null, socket=PATH or a file path)", be);
		return -EINVAL;
	}
	v->be = BE_FILE;
	v->out_fd = open(be, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (v->out_fd < 0) {
		snprintf(err, errlen, "virtio-console: %s: %s", be,
		    strerror(errno));
		return -EINVAL;
	}
	return 0;
}

static int
vcon_init(struct vm *vm, const struct dev_config *dc, char *err,
    size_t errlen)
{
	/* One backend, and the transport's option. */
	char be[sizeof(dc->conf)] = "", buf[sizeof(dc->conf)], *save, *tok;
	snprintf(buf, sizeof(buf), "%s", dc->conf);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (virtio_transport_opt(tok))
			continue;
		if (be[0] != '\0') {
			snprintf(err, errlen, "virtio-console: one backend only "
			    "('%s')", dc->conf);
			return -EINVAL;
		}
		snprintf(be, sizeof(be), "%s", tok);
	}
	struct vcon *v = vm_dev_alloc(vm, sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	v->in_fd = v->out_fd = v->listen_fd = v->watched = -1;
	int r = vm_add_hook(vm, false, vcon_close, v);
	if (r < 0)
		return r;
	v->ep = epoll_create1(EPOLL_CLOEXEC);
	if (v->ep < 0) {
		snprintf(err, errlen, "virtio-console: epoll: %s", strerror(errno));
		return -errno;
	}
	r = open_backend(v, be, err, errlen);
	if (r < 0)
		return r;
	struct virtio_dev *d;
	r = virtio_dev_create(vm, dc, &vcon_ops, v, 2, QUEUE_SIZE, &d, err,
	    errlen);
	if (r < 0)
		return r;
	v->d = d;
	r = virtio_poll_fd(d, v->ep, vcon_input_ready, v);
	if (r < 0) {
		snprintf(err, errlen, "virtio-console: cannot watch the backend: "
		    "%s", strerror(-r));
		return r;
	}
	return 0;
}

static const struct device_emul virtio_console = {
	.name = "virtio-console", .kind = DEV_PCI, .init = vcon_init,
};
DEVICE_EMUL(virtio_console);
