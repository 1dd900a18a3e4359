/* virtio-rng: writable buffers filled from getrandom(2), bad requests
 * answered with length 0. */
#include <atf-c.h>
#include <string.h>

#include <linux/virtio_config.h>

#include "devices/virtio/virtio.h"
#include "vmm/tests/vdrv.h"

static char err[256];

static void
attach(struct vdrv *v)
{
	int r = vdrv_attach(v, "t", "virtio-rng", "", err, sizeof(err));
	ATF_REQUIRE_MSG(r == 0, "%s", err);
	ATF_REQUIRE(vdrv_negotiate(v, 1ull << VIRTIO_F_VERSION_1));
	vdrv_queue(v, 0, 16);
	vdrv_driver_ok(v);
}

static bool
all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

ATF_TC_WITHOUT_HEAD(fills_buffers);
ATF_TC_BODY(fills_buffers, tc)
{
	struct vdrv v;
	attach(&v);
	ATF_CHECK_EQ(vdrv_read(&v, 18, 2), 1);
	struct vbuf b[2] = { { VDRV_DATA, 64, true },
	    { VDRV_DATA + 0x1000, 200, true } };
	uint16_t head = vdrv_add(&v, 0, b, 2);
	vdrv_kick(&v, 0);
	uint32_t id, len;
	ATF_REQUIRE(vdrv_used(&v, 0, &id, &len, 2000));
	ATF_CHECK(id == head && len == 264);
	/* 64 and 200 random bytes are all zero with probability 2^-512. */
	ATF_CHECK(!all_zero(vdrv_mem(&v, VDRV_DATA), 64));
	ATF_CHECK(!all_zero(vdrv_mem(&v, VDRV_DATA + 0x1000), 200));
	ATF_CHECK(memcmp(vdrv_mem(&v, VDRV_DATA), vdrv_mem(&v, VDRV_DATA +
	    0x1000), 64) != 0);
	/* A large request is answered in part (64 KiB at most). */
	struct vbuf big = { VDRV_DATA, 1u << 20, true };
	vdrv_add(&v, 0, &big, 1);
	vdrv_kick(&v, 0);
	ATF_REQUIRE(vdrv_used(&v, 0, &id, &len, 2000));
	ATF_CHECK_EQ(len, 65536);
	vdrv_detach(&v);
}

ATF_TC_WITHOUT_HEAD(bad_requests);
ATF_TC_BODY(bad_requests, tc)
{
	struct vdrv v;
	attach(&v);
	memset(vdrv_mem(&v, VDRV_DATA), 0, 64);
	struct vbuf ro = { VDRV_DATA, 64, false };
	struct vbuf mixed[2] = { { VDRV_DATA, 16, false },
	    { VDRV_DATA + 64, 16, true } };
	struct vbuf outside = { VDRV_RAM - 8, 64, true };
	vdrv_add(&v, 0, &ro, 1);
	vdrv_add(&v, 0, mixed, 2);
	vdrv_add(&v, 0, &outside, 1);
	vdrv_kick(&v, 0);
	uint32_t id, len;
	for (int i = 0; i < 3; i++) {
		ATF_REQUIRE(vdrv_used(&v, 0, &id, &len, 2000));
		ATF_CHECK_EQ(len, 0);
	}
	ATF_CHECK(all_zero(vdrv_mem(&v, VDRV_DATA), 64 + 16));
	ATF_CHECK_EQ(v.d->errors, 3);
	ATF_CHECK(!(vdrv_status(&v) & VIRTIO_CONFIG_S_NEEDS_RESET));
	/* And it goes on serving. */
	struct vbuf ok = { VDRV_DATA, 32, true };
	vdrv_add(&v, 0, &ok, 1);
	vdrv_kick(&v, 0);
	ATF_REQUIRE(vdrv_used(&v, 0, &id, &len, 2000));
	ATF_CHECK_EQ(len, 32);
	vdrv_detach(&v);
}

ATF_TC_WITHOUT_HEAD(options);
ATF_TC_BODY(options, tc)
{
	struct vdrv v;
	ATF_CHECK(vdrv_attach(&v, "t", "virtio-rng", "foo", err,
	    sizeof(err)) < 0);
	ATF_CHECK(strncmp(err, "virtio-rng: ", 12) == 0);
	vdrv_detach(&v);
}

ATF_TP_ADD_TCS(tp)
{
	ATF_TP_ADD_TC(tp, fills_buffers);
	ATF_TP_ADD_TC(tp, bad_requests);
	ATF_TP_ADD_TC(tp, options);
	return atf_no_error();
}
