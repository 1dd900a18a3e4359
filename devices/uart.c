/*
 * A 16550A UART (com1 at 0x3f8/IRQ 4, com2 at 0x2f8/IRQ 3): register file,
 * divisor latch, 16-byte receive FIFO, loopback mode, and the interrupts a
 * driver uses (received data, transmitter empty, line status, modem
 * status).  Backends:
 *   -l com1,stdio          output to stdout, input from stdin
 *   -l com1,PATH           output appended to a file (no input)
 *   -l com1,socket=PATH    a Unix stream socket hyve listens on; one client
 *                          at a time gets the output and sends the input
 *   -l com1,null           no backend
 * A reader thread moves backend input into the FIFO; when the FIFO is full
 * it stops reading until the guest drains it (nothing is dropped).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/device.h"
#include "vmm/vm.h"

enum { RBR_THR = 0, IER = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6,
       SCR = 7 };
#define LCR_DLAB 0x80
#define IER_RDA 0x01
#define IER_THRE 0x02
#define IER_RLS 0x04
#define IER_MSI 0x08
#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define IIR_NONE 0x01
#define IIR_MSR 0x00
#define IIR_THRE 0x02
#define IIR_RDA 0x04
#define IIR_RLS 0x06
#define MCR_LOOP 0x10
#define FIFO 16

enum backend { BE_NULL, BE_STDIO, BE_FILE, BE_SOCKET };

struct uart {
	pthread_mutex_t lock;
	struct vm *vm;
	const char *name;
	enum backend be;
	int out_fd, in_fd;      /* -1 when absent */
	int listen_fd;          /* socket backend */
	int wake_fd;            /* eventfd: FIFO has room again, or stop */
	bool stop;
	pthread_t reader;
	bool reader_running;
	char sock_path[108];
	uint32_t irq;
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr, lsr_err, msr_delta;
	uint8_t rx[FIFO];
	unsigned rx_head, rx_count;
	bool thre_pending;
	bool irq_level;
};

static uint8_t
pending_iir(struct uart *u)
{
	if ((u->ier & IER_RLS) && u->lsr_err)
		return IIR_RLS;
	if ((u->ier & IER_RDA) && u->rx_count)
		return IIR_RDA;
	if ((u->ier & IER_THRE) && u->thre_pending)
		return IIR_THRE;
	if ((u->ier & IER_MSI) && u->msr_delta)
		return IIR_MSR;
	return IIR_NONE;
}

static void
update_irq(struct uart *u)
{
	bool level = pending_iir(u) != IIR_NONE;
	if (level != u->irq_level) {
		u->irq_level = level;
		if (u->vm->hv)
			(void)hv_vm_irq_line(u->vm->hv, u->irq, level);
	}
}

static void
rx_push(struct uart *u, uint8_t c)
{
	if (u->rx_count == FIFO) {
		u->lsr_err |= LSR_OE;
		return;
	}
	u->rx[(u->rx_head + u->rx_count) % FIFO] = c;
	u->rx_count++;
}

static void
transmit(struct uart *u, uint8_t c)
{
	if (u->mcr & MCR_LOOP) {
		rx_push(u, c);
		return;
	}
	if (u->out_fd < 0)
		return;
	ssize_t n;
	do {
		n = write(u->out_fd, &c, 1);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && u->be == BE_SOCKET && (errno == EPIPE ||
	    errno == ECONNRESET)) {
		/* The client went away: the reader closes the socket when it
		 * sees the hang-up and waits for the next client. */
		u->out_fd = -1;
	}
}

static uint8_t
reg_read(struct uart *u, unsigned reg)
{
	switch (reg) {
	case RBR_THR: {
		if (u->lcr & LCR_DLAB)
			return u->dll;
		uint8_t c = 0;
		if (u->rx_count) {
			c = u->rx[u->rx_head];
			u->rx_head = (u->rx_head + 1) % FIFO;
			u->rx_count--;
			uint64_t one = 1;
			if (u->rx_count == FIFO - 1 &&
			    write(u->wake_fd, &one, 8) < 0) {
				/* the reader re-checks the FIFO on its next poll */
			}
		}
		update_irq(u);
		return c;
	}
	case IER:
		return (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
	case IIR_FCR: {
		uint8_t iir = pending_iir(u);
		if (iir == IIR_THRE) {
			u->thre_pending = false;        /* reading IIR clears it */
			update_irq(u);
		}
		return (uint8_t)(((u->fcr & 1) ? 0xc0 : 0) | iir);
	}
	case LCR:
		return u->lcr;
	case MCR:
		return u->mcr;
	case LSR: {
		uint8_t v = LSR_THRE | LSR_TEMT | u->lsr_err |
		    (u->rx_count ? LSR_DR : 0);
		u->lsr_err = 0;
		update_irq(u);
		return v;
	}
	case MSR: {
		uint8_t v;
		if (u->mcr & MCR_LOOP)
			v = (uint8_t)(((u->mcr & 0x0c) << 4) | ((u->mcr & 0x01) << 5) |
			    ((u->mcr & 0x02) << 3));
		else
			v = 0xb0;       /* DCD, DSR, CTS */
		v |= u->msr_delta;
		u->msr_delta = 0;
		update_irq(u);
		return v;
	}
	default:
		return u->scr;
	}
}

static void
reg_write(struct uart *u, unsigned reg, uint8_t v)
{
	switch (reg) {
	case RBR_THR:
		if (u->lcr & LCR_DLAB) {
			u->dll = v;
		} else {
			transmit(u, v);
			u->thre_pending = true;         /* sent at once */
		}
		break;
	case IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
		} else {
			if ((v & IER_THRE) && !(u->ier & IER_THRE))
				u->thre_pending = true;
			u->ier = v & 0x0f;
		}
		break;
	case IIR_FCR:
		if (v & 0x02) {                 /* clear the receive FIFO */
			u->rx_head = u->rx_count = 0;
			uint64_t one = 1;
			if (write(u->wake_fd, &one, 8) < 0) {
				/* see reg_read */
			}
		}
		u->fcr = v & 0xc9;
		break;
	case LCR:
		u->lcr = v;
		break;
	case MCR:
		if ((v ^ u->mcr) & MCR_LOOP)
			u->msr_delta = 0;
		u->mcr = v & 0x1f;
		break;
	case SCR:
		u->scr = v;
		break;
	default:
		break;                  /* LSR, MSR: read-only */
	}
	update_irq(u);
}

static int
uart_io(struct vcpu *vcpu, uint64_t addr, uint8_t *data, unsigned len,
    bool write, void *opaque)
{
	(void)vcpu;
	struct uart *u = opaque;
	unsigned reg = (unsigned)(addr & 7);
	pthread_mutex_lock(&u->lock);
	for (unsigned i = 0; i < len && reg + i < 8; i++) {
		if (write)
			reg_write(u, reg + i, data[i]);
		else
			data[i] = reg_read(u, reg + i);
	}
	pthread_mutex_unlock(&u->lock);
	return 0;
}

/* The reader: backend input into the FIFO, as much as fits. */
static void *
reader_main(void *arg)
{
	struct uart *u = arg;
	for (;;) {
		pthread_mutex_lock(&u->lock);
		bool stop = u->stop;
		int in = u->in_fd;
		bool room = u->rx_count < FIFO && !(u->mcr & MCR_LOOP);
		pthread_mutex_unlock(&u->lock);
		if (stop)
			return NULL;
		struct pollfd p[2] = {
			{ .fd = u->wake_fd, .events = POLLIN },
			{ .fd = room ? (in >= 0 ? in : u->listen_fd) : -1,
			    .events = POLLIN },
		};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		if (p[0].revents & POLLIN) {
			uint64_t v;
			if (read(u->wake_fd, &v, 8) < 0) {
				/* nonblocking: nothing to take */
			}
		}
		if (!(p[1].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if (in < 0) {
			int c = accept4(u->listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (c >= 0) {
				pthread_mutex_lock(&u->lock);
				u->in_fd = u->out_fd = c;
				pthread_mutex_unlock(&u->lock);
			}
			continue;
		}
		uint8_t buf[FIFO];
		pthread_mutex_lock(&u->lock);
		size_t want = FIFO - u->rx_count;
		pthread_mutex_unlock(&u->lock);
		ssize_t n = read(in, buf, want);
		pthread_mutex_lock(&u->lock);
		if (n <= 0) {
			/* End of input: a socket client left, stdin closed. */
			if (u->be == BE_SOCKET && u->in_fd == in) {
				close(in);
				u->in_fd = u->out_fd = -1;
			} else {
				u->in_fd = -1;
			}
		} else {
			for (ssize_t i = 0; i < n; i++)
				rx_push(u, buf[i]);
			update_irq(u);
		}
		pthread_mutex_unlock(&u->lock);
	}
}

static void
uart_reset(void *arg)
{
	struct uart *u = arg;
	pthread_mutex_lock(&u->lock);
	u->ier = u->lcr = u->mcr = u->scr = u->dll = u->dlm = u->fcr = 0;
	u->lsr_err = u->msr_delta = 0;
	u->rx_head = u->rx_count = 0;
	u->thre_pending = false;
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

static void
uart_destroy(void *arg)
{
	struct uart *u = arg;
	if (u->reader_running) {
		pthread_mutex_lock(&u->lock);
		u->stop = true;
		pthread_mutex_unlock(&u->lock);
		uint64_t one = 1;
		if (write(u->wake_fd, &one, 8) == 8)
			pthread_join(u->reader, NULL);
	}
	if (u->be == BE_FILE && u->out_fd >= 0)
		close(u->out_fd);
	if (u->be == BE_SOCKET) {
		if (u->out_fd >= 0)
			close(u->out_fd);
		if (u->listen_fd >= 0)
			close(u->listen_fd);
		unlink(u->sock_path);
	}
	if (u->wake_fd >= 0)
		close(u->wake_fd);
	pthread_mutex_destroy(&u->lock);
}

static int
open_backend(struct uart *u, const char *be, char *err, size_t errlen)
{
	if (strcmp(be, "stdio") == 0) {
		u->be = BE_STDIO;
		u->out_fd = STDOUT_FILENO;
		u->in_fd = STDIN_FILENO;
		return 0;
	}
	if (strcmp(be, "null") == 0 || be[0] == '\0') {
		u->be = BE_NULL;
		return 0;
	}
	if (strncmp(be, "socket=", 7) == 0) {
		const char *path = be + 7;
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		if (path[0] == '\0' || strlen(path) >= sizeof(sa.sun_path)) {
			snprintf(err, errlen, "%s: bad socket path '%s'", u->name,
			    path);
			return -EINVAL;
		}
		strcpy(sa.sun_path, path);
		strcpy(u->sock_path, path);
		u->be = BE_SOCKET;
		u->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		unlink(path);
		if (u->listen_fd < 0 ||
		    bind(u->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    listen(u->listen_fd, 1) < 0) {
			snprintf(err, errlen, "%s: socket %s: %s", u->name, path,
			    strerror(errno));
			return -EINVAL;
		}
		return 0;
	}
	if (be[0] == '/' || be[0] == '.') {
		u->be = BE_FILE;
		u->out_fd = open(be, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (u->out_fd < 0) {
			snprintf(err, errlen, "%s: %s: %s", u->name, be,
			    strerror(errno));
			return -EINVAL;
		}
		return 0;
	}
	snprintf(err, errlen, "%s: unknown backend '%s' (stdio, null, "
	    "socket=PATH or a file path)", u->name, be);
	return -EINVAL;
}

static int
uart_init_at(struct vm *vm, const struct dev_config *dc, uint16_t base,
    uint32_t irq, char *err, size_t errlen)
{
	struct uart *u = vm_dev_alloc(vm, sizeof(*u));
	if (u == NULL)
		return -ENOMEM;
	pthread_mutex_init(&u->lock, NULL);
	u->vm = vm;
	u->name = dc->emul;
	u->irq = irq;
	u->out_fd = u->in_fd = u->listen_fd = -1;
	u->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int r = vm_add_hook(vm, false, uart_destroy, u);
	if (r < 0) {
		if (u->wake_fd >= 0)
			close(u->wake_fd);
		pthread_mutex_destroy(&u->lock);
		return r;
	}
	if (u->wake_fd < 0)
		return -errno;
	r = open_backend(u, dc->conf, err, errlen);
	if (r < 0)
		return r;
	if (u->in_fd >= 0 || u->listen_fd >= 0) {
		r = pthread_create(&u->reader, NULL, reader_main, u);
		if (r != 0) {
			snprintf(err, errlen, "%s: %s", u->name, strerror(r));
			return -r;
		}
		u->reader_running = true;
	}
	r = vm_add_hook(vm, true, uart_reset, u);
	if (r == 0)
		r = bus_register(&vm->pio, base, 8, uart_io, u, dc->emul);
	if (r < 0)
		snprintf(err, errlen, "%s: port 0x%x: %s", dc->emul, base,
		    strerror(-r));
	return r;
}

static int
com1_init(struct vm *vm, const struct dev_config *dc, char *err, size_t errlen)
{
	return uart_init_at(vm, dc, 0x3f8, 4, err, errlen);
}

static int
com2_init(struct vm *vm, const struct dev_config *dc, char *err, size_t errlen)
{
	return uart_init_at(vm, dc, 0x2f8, 3, err, errlen);
}

static const struct device_emul com1 = {
	.name = "com1", .kind = DEV_LPC, .init = com1_init,
};
static const struct device_emul com2 = {
	.name = "com2", .kind = DEV_LPC, .init = com2_init,
};
DEVICE_EMUL(com1);
DEVICE_EMUL(com2);
