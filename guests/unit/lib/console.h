/* Console on COM1 (16550, polled) and printf-style formatting. */
#ifndef UNIT_CONSOLE_H
#define UNIT_CONSOLE_H

#include <stdarg.h>
#include <stddef.h>

void console_init(void);
void console_putc(char c);
void console_puts(const char *s);

/* %d %i %u %x %X %s %c %p %%, with flags '-' and '0', a width, and the
 * length modifiers l, ll and z. */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
