/* virtio-console: output to a file and to a socket client, input from the
 * socket client (waiting while the guest has no buffer), emergency write,
 * bad chains. */
#include <atf-c.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_console.h>

#include "devices/virtio/virtio.h"
#include "vmm/tests/vdrv.h"

#define RXQ 0
#define TXQ 1

static char err[256];

static void
attach(struct vdrv *v, const char *conf, uint64_t extra)
{
	int r = vdrv_attach(v, "t", "virtio-console", conf, err, sizeof(err));
	ATF_REQUIRE_MSG(r == 0, "%s", err);
	ATF_REQUIRE(vdrv_negotiate(v, (1ull << VIRTIO_F_VERSION_1) | extra));
	vdrv_queue(v, RXQ, 16);
	vdrv_queue(v, TXQ, 16);
	vdrv_driver_ok(v);
}

static void
put_out(struct vdrv *v, const char *s, uint64_t gpa)
{
	size_t n = strlen(s);
	memcpy(vdrv_mem(v, gpa), s, n);
	struct vbuf b = { gpa, (uint32_t)n, false };
	vdrv_add(v, TXQ, &b, 1);
	vdrv_kick(v, TXQ);
	uint32_t id, len;
	ATF_REQUIRE(vdrv_used(v, TXQ, &id, &len, 2000));
	ATF_CHECK_EQ(len, 0);
}

ATF_TC_WITHOUT_HEAD(output_to_file);
ATF_TC_BODY(output_to_file, tc)
{
	struct vdrv v;
	char path[64];
	snprintf(path, sizeof(path), "./con.out");
	unlink(path);
	attach(&v, path, 1ull << VIRTIO_CONSOLE_F_EMERG_WRITE);
	put_out(&v, "hello, ", VDRV_DATA);
	/* Two buffers in one chain. */
	memcpy(vdrv_mem(&v, VDRV_DATA), "wor", 3);
	memcpy(vdrv_mem(&v, VDRV_DATA + 0x100), "ld", 2);
	struct vbuf b[2] = { { VDRV_DATA, 3, false },
	    { VDRV_DATA + 0x100, 2, false } };
	vdrv_add(&v, TXQ, b, 2);
	vdrv_kick(&v, TXQ);
	uint32_t id, len;
	ATF_REQUIRE(vdrv_used(&v, TXQ, &id, &len, 2000));
	/* A chain with a writable buffer is refused, not written. */
	struct vbuf bad[2] = { { VDRV_DATA, 3, false },
	    { VDRV_DATA + 0x100, 2, true } };
	vdrv_add(&v, TXQ, bad, 2);
	vdrv_kick(&v, TXQ);
	ATF_REQUIRE(vdrv_used(&v, TXQ, &id, &len, 2000));
	ATF_CHECK_EQ(v.d->errors, 1);
	/* Emergency write through the configuration. */
	vdrv_cfg_write(&v, 8, 4, '!');
	ATF_CHECK_EQ(vdrv_cfg_read(&v, 8, 4), 0);
	vdrv_detach(&v);
	char got[64] = "";
	FILE *f = fopen(path, "r");
	ATF_REQUIRE(f != NULL);
	size_t n = fread(got, 1, sizeof(got) - 1, f);
	fclose(f);
	got[n] = '\0';
	ATF_CHECK_STREQ(got, "hello, world!");
}

static int
connect_to(const char *path)
{
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ATF_REQUIRE_EQ(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	struct timeval tv = { 2, 0 };
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return s;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { 0, ms * 1000000L };
	nanosleep(&ts, NULL);
}

ATF_TC_WITHOUT_HEAD(socket_backend);
ATF_TC_BODY(socket_backend, tc)
{
	signal(SIGPIPE, SIG_IGN);
	struct vdrv v;
	char path[] = "./con.sock";
	char conf[64];
	snprintf(conf, sizeof(conf), "socket=%s", path);
	attach(&v, conf, 0);
	int s = connect_to(path);
	sleep_ms(50);                   /* the worker accepts */
	put_out(&v, "to the client", VDRV_DATA);
	char got[64];
	ATF_REQUIRE_EQ(recv(s, got, sizeof(got), 0), 13);
	ATF_CHECK(memcmp(got, "to the client", 13) == 0);

	/* Input waits until the guest gives a buffer. */
	ATF_REQUIRE_EQ(send(s, "typed", 5, 0), 5);
	sleep_ms(100);
	uint32_t id, len;
	ATF_CHECK(!vdrv_used(&v, RXQ, &id, &len, 0));
	struct vbuf rb = { VDRV_DATA + 0x1000, 64, true };
	uint16_t head = vdrv_add(&v, RXQ, &rb, 1);
	vdrv_kick(&v, RXQ);
	ATF_REQUIRE(vdrv_used(&v, RXQ, &id, &len, 2000));
	ATF_CHECK(id == head && len == 5);
	ATF_CHECK(memcmp(vdrv_mem(&v, VDRV_DATA + 0x1000), "typed", 5) == 0);
	/* A buffer posted first, input later. */
	vdrv_add(&v, RXQ, &rb, 1);
	vdrv_kick(&v, RXQ);
	sleep_ms(50);
	ATF_REQUIRE_EQ(send(s, "more", 4, 0), 4);
	ATF_REQUIRE(vdrv_used(&v, RXQ, &id, &len, 2000));
	ATF_CHECK_EQ(len, 4);
	/* A read-only receive buffer is refused. */
	struct vbuf ro = { VDRV_DATA + 0x1000, 64, false };
	vdrv_add(&v, RXQ, &ro, 1);
	vdrv_kick(&v, RXQ);
	ATF_REQUIRE_EQ(send(s, "x", 1, 0), 1);
	ATF_REQUIRE(vdrv_used(&v, RXQ, &id, &len, 2000));
	ATF_CHECK_EQ(len, 0);
	ATF_CHECK_EQ(v.d->errors, 1);

	/* The client leaves; output is dropped; a new client is served. */
	close(s);
	sleep_ms(50);
	put_out(&v, "lost", VDRV_DATA);
	s = connect_to(path);
	sleep_ms(100);
	put_out(&v, "again", VDRV_DATA);
	ATF_REQUIRE_EQ(recv(s, got, sizeof(got), 0), 5);
	ATF_CHECK(memcmp(got, "again", 5) == 0);
	close(s);
	vdrv_detach(&v);
	ATF_CHECK(access(path, F_OK) != 0);     /* removed at the end */
}

ATF_TC_WITHOUT_HEAD(options);
ATF_TC_BODY(options, tc)
{
	struct vdrv v;
	static const char *bad[] = { "a,b", "socket=", "bogus=1",
	    "/nonexistent/dir/file" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ATF_CHECK_MSG(vdrv_attach(&v, "t", "virtio-console", bad[i], err,
		    sizeof(err)) < 0, "accepted '%s'", bad[i]);
		ATF_CHECK_MSG(strncmp(err, "virtio-console: ", 16) == 0, "%s",
		    err);
		vdrv_detach(&v);
	}
	ATF_CHECK_EQ(vdrv_attach(&v, "t", "virtio-console", "null", err,
	    sizeof(err)), 0);
	vdrv_detach(&v);
}

ATF_TP_ADD_TCS(tp)
{
	ATF_TP_ADD_TC(tp, output_to_file);
	ATF_TP_ADD_TC(tp, socket_backend);
	ATF_TP_ADD_TC(tp, options);
	return atf_no_error();
}
