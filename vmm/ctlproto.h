/*
 * The control protocol shared by the server (control.c) and hyvectl:
 * one request line of blank-separated words, answered by data lines and a
 * final "ok" or "error: MESSAGE" line.  See hyvectl(8).
 */
#ifndef HYVE_CTLPROTO_H
#define HYVE_CTLPROTO_H

#include <stddef.h>
#include <stdint.h>

#define CTL_PROTO_VERSION 1
#define CTL_LINE_MAX 1024       /* a request line, newline included */
#define CTL_MAX_WORDS 8
#define CTL_REPLY_MAX (1u << 20)  /* a whole answer, bytes */
#define CTL_TIMEOUT_MS 10000    /* client: wait for the answer */

/* Split a request line in place into words; blanks are spaces and tabs.
 * Returns the word count, -E2BIG for more than max words, -EINVAL for a
 * byte that is neither a blank nor printable ASCII. */
int ctl_split(char *line, char **words, int max);

/* Strict numbers: decimal, or hexadecimal with 0x; no sign, no blanks,
 * nothing after the digits, no overflow.  0 or -EINVAL / -ERANGE. */
int ctl_parse_u64(const char *s, uint64_t *out);
/* A decimal number from 0 to max (vCPU numbers). */
int ctl_parse_index(const char *s, unsigned max, unsigned *out);

/* Client side: send one request line to the socket at path and collect the
 * answer.  Returns 0 with *reply (malloc'd, NUL-terminated, every line but
 * the final one) when the server said ok; 1 with *reply holding the error
 * message (without "error: ") when it said error; a negative errno when
 * the server could not be reached (-ENOENT, -ECONNREFUSED) or the answer
 * was malformed (-EPROTO) or late (-ETIMEDOUT). */
int ctl_request(const char *path, const char *line, char **reply);

#endif
