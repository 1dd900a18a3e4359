/* COM1 output: wait for the transmit-holding register to empty, then write.
 * The wait is bounded so that a kernel without a UART still runs. */
#include "console.h"
#include "x86.h"
#include "vmm/abi.h"

#define COM_THR 0
#define COM_IER 1
#define COM_FCR 2
#define COM_LCR 3
#define COM_MCR 4
#define COM_LSR 5
#define LSR_THRE 0x20
#define SPIN_LIMIT 100000

void console_init(void)
{
	const uint16_t p = HYVE_PORT_COM1;

	outb(p + COM_IER, 0x00);        /* no interrupts */
	outb(p + COM_LCR, 0x80);        /* DLAB: divisor follows */
	outb(p + 0, 0x01);              /* 115200 baud */
	outb(p + 1, 0x00);
	outb(p + COM_LCR, 0x03);        /* 8N1 */
	outb(p + COM_FCR, 0x07);        /* FIFO on and cleared */
	outb(p + COM_MCR, 0x03);        /* DTR, RTS */
}

void console_putc(char c)
{
	int spin;

	if (c == '\n')
		console_putc('\r');
	for (spin = 0; spin < SPIN_LIMIT; spin++)
		if (inb(HYVE_PORT_COM1 + COM_LSR) & LSR_THRE)
			break;
	outb(HYVE_PORT_COM1 + COM_THR, (uint8_t)c);
}

void console_puts(const char *s)
{
	while (*s)
		console_putc(*s++);
}

int printf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	console_puts(buf);
	return n;
}
