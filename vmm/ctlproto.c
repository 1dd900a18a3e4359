/* The control protocol's shared parts: see ctlproto.h and hyvectl(8). */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vmm/ctlproto.h"

int
ctl_split(char *line, char **words, int max)
{
	int n = 0;
	char *p = line;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			return n;
		if (n == max)
			return -E2BIG;
		words[n++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t') {
			if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
				return -EINVAL;
			p++;
		}
		if (*p != '\0')
			*p++ = '\0';
	}
}

int
ctl_parse_u64(const char *s, uint64_t *out)
{
	unsigned base = 10;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (*s == '\0')
		return -EINVAL;
	uint64_t v = 0;
	for (; *s != '\0'; s++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			return -EINVAL;
		if (v > (UINT64_MAX - d) / base)
			return -ERANGE;
		v = v * base + d;
	}
	*out = v;
	return 0;
}

int
ctl_parse_index(const char *s, unsigned max, unsigned *out)
{
	uint64_t v = 0;
	if (*s == '\0' || strlen(s) > 10)
		return -EINVAL;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > max)
		return -ERANGE;
	*out = (unsigned)v;
	return 0;
}

static long
ms_left(const struct timespec *deadline)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (deadline->tv_sec - now.tv_sec) * 1000 +
	    (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

/* Read until the server closes the connection (one request each). */
static int
read_all(int fd, char **buf, size_t *len)
{
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += CTL_TIMEOUT_MS / 1000;
	size_t cap = 4096;
	*len = 0;
	*buf = malloc(cap);
	if (*buf == NULL)
		return -ENOMEM;
	for (;;) {
		long left = ms_left(&deadline);
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (left <= 0)
			return -ETIMEDOUT;
		int r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		if (*len + 1 >= cap) {
			if (cap >= CTL_REPLY_MAX)
				return -EPROTO;
			char *n = realloc(*buf, cap * 2);
			if (n == NULL)
				return -ENOMEM;
			*buf = n;
			cap *= 2;
		}
		ssize_t got = read(fd, *buf + *len, cap - 1 - *len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			break;
		*len += (size_t)got;
	}
	(*buf)[*len] = '\0';
	return 0;
}

/* Split the answer into its data lines and the final status line. */
static int
parse_reply(char *buf, size_t len, char **reply)
{
	if (len == 0 || buf[len - 1] != '\n' || strlen(buf) != len)
		return -EPROTO;
	buf[len - 1] = '\0';
	char *last = strrchr(buf, '\n');
	char *status = last ? last + 1 : buf;
	bool ok;
	if (strcmp(status, "ok") == 0)
		ok = true;
	else if (strncmp(status, "error: ", 7) == 0)
		ok = false;
	else
		return -EPROTO;
	if (ok) {
		if (last)
			last[1] = '\0';
		else
			buf[0] = '\0';
		*reply = buf;
		return 0;
	}
	memmove(buf, status + 7, strlen(status + 7) + 1);
	*reply = buf;
	return 1;
}

int
ctl_request(const char *path, const char *line, char **reply)
{
	*reply = NULL;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	size_t n = strlen(line);
	char req[CTL_LINE_MAX + 1];
	if (n + 1 > CTL_LINE_MAX) {
		close(fd);
		return -E2BIG;
	}
	memcpy(req, line, n);
	req[n++] = '\n';
	for (size_t off = 0; off < n;) {
		ssize_t w = send(fd, req + off, n - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int e = -errno;
			close(fd);
			return e;
		}
		off += (size_t)w;
	}
	char *buf;
	size_t len;
	int r = read_all(fd, &buf, &len);
	close(fd);
	if (r == 0)
		r = parse_reply(buf, len, reply);
	if (r < 0)
		free(buf);
	return r;
}
