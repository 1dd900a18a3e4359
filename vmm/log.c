#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "vmm/log.h"

int log_verbosity = LOG_WARN;
const char *log_progname = "hyve";

static void
vlog(const char *fmt, va_list ap)
{
	char buf[1024];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	fprintf(stderr, "%s: %s\n", log_progname, buf);
}

void
pr_log(enum log_level lvl, const char *fmt, ...)
{
	if ((int)lvl > log_verbosity)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void
die_status(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
	exit(status);
}
