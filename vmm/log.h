/* Messages: one line each, prefixed with the program name.  pr_* print;
 * die() prints and exits with HYVE_EXIT_INTERNAL or a given status. */
#ifndef HYVE_LOG_H
#define HYVE_LOG_H

#include <stdnoreturn.h>

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };
extern int log_verbosity;               /* default LOG_WARN */
extern const char *log_progname;

void pr_log(enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
noreturn void die_status(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define pr_err(...)   pr_log(LOG_ERR, __VA_ARGS__)
#define pr_warn(...)  pr_log(LOG_WARN, __VA_ARGS__)
#define pr_info(...)  pr_log(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) pr_log(LOG_DEBUG, __VA_ARGS__)

#endif
