/* A 16550 UART (com1 at 0x3f8/IRQ 4, com2 at 0x2f8/IRQ 3): register file,
 * divisor latch, transmit to a backend (stdio or a file), transmit-empty
 * interrupts.  -l com1,stdio  or  -l com1,/path/to/log */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "devices/device.h"
#include "vmm/vm.h"

enum { RBR_THR = 0, IER = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6,
       SCR = 7 };
#define LCR_DLAB 0x80
#define IER_THRE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define IIR_NONE 0x01
#define IIR_THRE 0x02
#define MCR_LOOP 0x10

struct uart {
	pthread_mutex_t lock;
	struct vm *vm;
	int fd;                 /* backend; -1 = discard */
	bool own_fd;
	uint32_t irq;
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	bool thre_pending;      /* THR-empty interrupt waiting to be read */
	bool irq_level;
};

static void
update_irq(struct uart *u)
{
	bool level = (u->ier & IER_THRE) && u->thre_pending;
	if (level != u->irq_level) {
		u->irq_level = level;
		(void)hv_vm_irq_line(u->vm->hv, u->irq, level);
	}
}

static void
transmit(struct uart *u, uint8_t c)
{
	if (u->mcr & MCR_LOOP || u->fd < 0)
		return;
	ssize_t n;
	do {
		n = write(u->fd, &c, 1);
	} while (n < 0 && errno == EINTR);
}

static uint8_t
reg_read(struct uart *u, unsigned reg)
{
	switch (reg) {
	case RBR_THR:
		return (u->lcr & LCR_DLAB) ? u->dll : 0;
	case IER:
		return (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
	case IIR_FCR: {
		uint8_t fifo = (u->fcr & 1) ? 0xc0 : 0;
		if ((u->ier & IER_THRE) && u->thre_pending) {
			u->thre_pending = false;        /* reading IIR clears it */
			update_irq(u);
			return fifo | IIR_THRE;
		}
		return fifo | IIR_NONE;
	}
	case LCR:
		return u->lcr;
	case MCR:
		return u->mcr;
	case LSR:
		return LSR_THRE | LSR_TEMT;
	case MSR:
		return (u->mcr & MCR_LOOP) ? (uint8_t)((u->mcr & 0xf) << 4) : 0xb0;
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
			u->ier = v & 0x0f;
			if (u->ier & IER_THRE)
				u->thre_pending = true;
		}
		break;
	case IIR_FCR:
		u->fcr = v;
		break;
	case LCR:
		u->lcr = v;
		break;
	case MCR:
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

static void
uart_reset(void *arg)
{
	struct uart *u = arg;
	pthread_mutex_lock(&u->lock);
	u->ier = u->lcr = u->mcr = u->scr = u->dll = u->dlm = u->fcr = 0;
	u->thre_pending = false;
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

static void
uart_destroy(void *arg)
{
	struct uart *u = arg;
	if (u->own_fd)
		close(u->fd);
	pthread_mutex_destroy(&u->lock);
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
	u->irq = irq;
	u->fd = -1;
	const char *be = dc->conf;
	if (strcmp(be, "stdio") == 0) {
		u->fd = STDOUT_FILENO;
	} else if (be[0] == '/' || be[0] == '.') {
		u->fd = open(be, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (u->fd < 0) {
			snprintf(err, errlen, "%s: %s: %s", dc->emul, be,
			    strerror(errno));
			pthread_mutex_destroy(&u->lock);
			return -errno;
		}
		u->own_fd = true;
	} else if (strcmp(be, "null") != 0) {
		snprintf(err, errlen, "%s: unknown backend '%s' (stdio, null or "
		    "a file path)", dc->emul, be);
		pthread_mutex_destroy(&u->lock);
		return -EINVAL;
	}
	int r = vm_add_hook(vm, false, uart_destroy, u);
	if (r == 0)
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
