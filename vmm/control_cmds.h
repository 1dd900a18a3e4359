/* The control socket's verbs (control_cmds.c), called by its server
 * thread (control.c) with one request line. */
#ifndef HYVE_CONTROL_CMDS_H
#define HYVE_CONTROL_CMDS_H

#include <stdbool.h>
#include <stddef.h>

struct vm;

/* An answer's data lines, built up before the final ok/error line. */
struct ctl_out {
	char *buf;
	size_t len, cap;
	bool overflow;          /* grew past CTL_REPLY_MAX or out of memory */
};

void ctl_printf(struct ctl_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Parse and run one request (modified in place).  Returns 0 with data
 * lines in out, or a negative errno with a one-line reason in err.  Every
 * argument is checked before anything is changed. */
int control_dispatch(struct vm *vm, char *line, struct ctl_out *out,
    char *err, size_t errlen);

#endif
