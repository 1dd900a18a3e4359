/*
 * The control socket: where it lives, and the server thread that accepts
 * one request per connection and answers it (verbs in control_cmds.c).
 * Protocol: see ctlproto.h and hyvectl(8).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vmm/config.h"
#include "vmm/control.h"
#include "vmm/control_cmds.h"
#include "vmm/ctlproto.h"
#include "vmm/log.h"
#include "vmm/vm.h"

#define REQUEST_TIMEOUT_MS 2000

struct ctl_server {
	struct vm *vm;
	int lfd;
	int stop[2];            /* a pipe: a byte on it ends the thread */
	pthread_t thread;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static struct ctl_server *server;      /* one VM per hyve process */

const char *
control_dir(void)
{
	static char buf[200];
	const char *env = getenv("HYVE_RUN_DIR");
	if (env != NULL && *env != '\0')
		return env;
	if (geteuid() == 0)
		return "/run/hyve";
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (xdg != NULL && *xdg != '\0')
		snprintf(buf, sizeof(buf), "%s/hyve", xdg);
	else
		snprintf(buf, sizeof(buf), "/tmp/hyve-%u/run", (unsigned)geteuid());
	return buf;
}

int
control_socket_path(const char *name, char *buf, size_t len)
{
	if (!valid_vm_name(name))
		return -EINVAL;
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path);
	int n = snprintf(buf, len, "%s/%s.sock", control_dir(), name);
	if (n < 0 || (size_t)n >= len || (size_t)n >= max)
		return -ENAMETOOLONG;
	return 0;
}

/* mkdir -p with mode 0700 for what we create; the last component must end
 * up a directory of ours that nobody else may write. */
static int
make_private_dir(const char *dir)
{
	char p[256];
	if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	for (char *s = p + 1; ; s++) {
		bool end = *s == '\0';
		if (*s == '/' || end) {
			*s = '\0';
			if (mkdir(p, 0700) < 0 && errno != EEXIST)
				return -errno;
			if (end)
				break;
			*s = '/';
		}
	}
	struct stat st;
	if (lstat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (st.st_uid != geteuid() || (st.st_mode & 022) != 0)
		return -EPERM;
	return 0;
}

/* Another hyve answering on path?  0: the path is free (a stale socket
 * was removed), -EADDRINUSE: live, -EEXIST: something else is there. */
static int
claim_path(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, path);
	int r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	int e = errno;
	close(fd);
	if (r == 0)
		return -EADDRINUSE;
	if (e != ECONNREFUSED)
		return -e;
	pr_info("removing stale control socket %s", path);
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

/* Read one request line: up to '\n' or the end of input, within the time
 * and length limits.  Returns its length, or -E2BIG / -ETIMEDOUT / -EINVAL. */
static int
read_request(int fd, char *line)
{
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	size_t len = 0;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long left = REQUEST_TIMEOUT_MS - ((now.tv_sec - t0.tv_sec) * 1000 +
		    (now.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 ? -ETIMEDOUT : -errno;
		ssize_t got = recv(fd, line + len, CTL_LINE_MAX - len, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			break;
		char *nl = memchr(line + len, '\n', (size_t)got);
		if (nl != NULL) {
			len = (size_t)(nl - line);
			break;
		}
		len += (size_t)got;
		if (len == CTL_LINE_MAX)
			return -E2BIG;
	}
	line[len] = '\0';
	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	if (strlen(line) != len)
		return -EINVAL;         /* a NUL byte inside */
	return (int)len;
}

static void
send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;         /* the client went away */
		p += w;
		n -= (size_t)w;
	}
}

/* After the answer: let the client read it even if it sent more than we
 * read (closing with unread input would reset the connection). */
static void
finish(int fd)
{
	char junk[4096];
	(void)shutdown(fd, SHUT_WR);
	for (int i = 0; i < 16; i++) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, 100) <= 0 ||
		    recv(fd, junk, sizeof(junk), MSG_DONTWAIT) <= 0)
			break;
	}
}

static void
serve(struct ctl_server *s, int fd)
{
	struct timeval tv = { 2, 0 };
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 ||
	    (cred.uid != geteuid() && cred.uid != 0)) {
		static const char msg[] = "error: permission denied\n";
		send_all(fd, msg, sizeof(msg) - 1);
		return;
	}
	char line[CTL_LINE_MAX + 1];
	char err[256] = "";
	struct ctl_out out = { 0 };
	int r = read_request(fd, line);
	if (r == -E2BIG)
		snprintf(err, sizeof(err), "request line longer than %d bytes",
		    CTL_LINE_MAX - 1);
	else if (r == -ETIMEDOUT)
		snprintf(err, sizeof(err), "no complete request line within "
		    "%d ms", REQUEST_TIMEOUT_MS);
	else if (r == -EINVAL)
		snprintf(err, sizeof(err), "request contains a NUL byte");
	else if (r < 0)
		return;
	else
		r = control_dispatch(s->vm, line, &out, err, sizeof(err));
	if (r >= 0 && out.overflow) {
		r = -ENOSPC;
		snprintf(err, sizeof(err), "answer too long");
	}
	if (r >= 0) {
		ctl_printf(&out, "ok\n");
		send_all(fd, out.buf, out.len);
	} else {
		char msg[300];
		int n = snprintf(msg, sizeof(msg), "error: %s\n",
		    err[0] ? err : strerror(-r));
		send_all(fd, msg, (size_t)n < sizeof(msg) ? (size_t)n :
		    sizeof(msg) - 1);
	}
	free(out.buf);
}

static void *
server_thread(void *arg)
{
	struct ctl_server *s = arg;
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = s->lfd, .events = POLLIN },
			{ .fd = s->stop[0], .events = POLLIN },
		};
		int r = poll(pfd, 2, -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			pr_err("control socket: poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents)
			break;
		if (!(pfd[0].revents & POLLIN))
			continue;
		int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;       /* ECONNABORTED, EMFILE, ...: keep serving */
		serve(s, fd);
		finish(fd);
		close(fd);
	}
	return NULL;
}

static void
server_free(struct ctl_server *s)
{
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->stop[0] >= 0) {
		close(s->stop[0]);
		close(s->stop[1]);
	}
	free(s);
}

int
control_start(struct vm *vm)
{
	if (server != NULL)
		return -EBUSY;
	struct ctl_server *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->vm = vm;
	s->lfd = s->stop[0] = s->stop[1] = -1;
	const char *dir = control_dir();
	int r = make_private_dir(dir);
	if (r < 0) {
		pr_err("control directory %s: %s", dir, r == -EPERM ?
		    "not owned by us or writable by others" : strerror(-r));
		goto fail;
	}
	r = control_socket_path(vm->cfg.name, s->path, sizeof(s->path));
	if (r < 0) {
		pr_err("control socket path for %s in %s: %s", vm->cfg.name, dir,
		    strerror(-r));
		goto fail;
	}
	r = claim_path(s->path);
	if (r < 0) {
		if (r == -EADDRINUSE)     /* refuse to run a second one */
			vm_request_stop(vm, HYVE_EXIT_USAGE, "a VM named %s is "
			    "already running (%s answers)", vm->cfg.name, s->path);
		else
			pr_err("%s: %s", s->path, r == -EEXIST ?
			    "exists and is not a socket" : strerror(-r));
		goto fail;
	}
	if (pipe2(s->stop, O_CLOEXEC) < 0) {
		r = -errno;
		goto fail;
	}
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0) {
		r = -errno;
		goto fail;
	}
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, s->path);
	if (bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		pr_err("control socket %s: %s", s->path, strerror(errno));
		goto fail;
	}
	if (chmod(s->path, 0600) < 0 || listen(s->lfd, 16) < 0) {
		r = -errno;
		pr_err("control socket %s: %s", s->path, strerror(errno));
		unlink(s->path);
		goto fail;
	}
	r = -pthread_create(&s->thread, NULL, server_thread, s);
	if (r < 0) {
		pr_err("control socket: cannot start its thread: %s",
		    strerror(-r));
		unlink(s->path);
		goto fail;
	}
	server = s;
	pr_info("control socket %s", s->path);
	return 0;
fail:
	server_free(s);
	return r;
}

void
control_stop(struct vm *vm)
{
	struct ctl_server *s = server;
	if (s == NULL || s->vm != vm)
		return;
	char b = 1;
	while (write(s->stop[1], &b, 1) < 0 && errno == EINTR)
		;
	pthread_join(s->thread, NULL);
	unlink(s->path);
	server_free(s);
	server = NULL;
}
