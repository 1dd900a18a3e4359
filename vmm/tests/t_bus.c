/* The port/MMIO bus: registration, overlap refusal, dispatch, bounds. */
#include <atf-c.h>
#include <errno.h>
#include <string.h>

#include "vmm/bus.h"

static int
h_record(struct vcpu *v, uint64_t addr, uint8_t *data, unsigned len,
    bool write, void *opaque)
{
	(void)v;
	uint64_t *last = opaque;
	last[0] = addr;
	last[1] = len;
	last[2] = write;
	if (!write)
		memset(data, 0x5a, len);
	return 0;
}

ATF_TC_WITHOUT_HEAD(register_and_dispatch);
ATF_TC_BODY(register_and_dispatch, tc)
{
	struct bus b;
	uint64_t a[3] = { 0 }, c[3] = { 0 };
	bus_init(&b, "pio");
	ATF_REQUIRE_EQ(bus_register(&b, 0x100, 8, h_record, a, "a"), 0);
	ATF_REQUIRE_EQ(bus_register(&b, 0x10, 4, h_record, c, "c"), 0);
	uint8_t d[4] = { 1, 2, 3, 4 };
	ATF_CHECK_EQ(bus_access(&b, NULL, 0x104, d, 4, true), 0);
	ATF_CHECK(a[0] == 0x104 && a[1] == 4 && a[2] == 1);
	ATF_CHECK_EQ(bus_access(&b, NULL, 0x12, d, 2, false), 0);
	ATF_CHECK(c[0] == 0x12 && c[1] == 2 && c[2] == 0);
	ATF_CHECK(d[0] == 0x5a && d[1] == 0x5a && d[2] == 3);
	ATF_CHECK_STREQ(bus_owner(&b, 0x107), "a");
	ATF_CHECK(bus_owner(&b, 0x108) == NULL);
	bus_fini(&b);
}

ATF_TC_WITHOUT_HEAD(unclaimed_and_straddling);
ATF_TC_BODY(unclaimed_and_straddling, tc)
{
	struct bus b;
	uint64_t a[3];
	uint8_t d[8];
	bus_init(&b, "mmio");
	ATF_REQUIRE_EQ(bus_register(&b, 0x1000, 0x10, h_record, a, "a"), 0);
	ATF_CHECK_EQ(bus_access(&b, NULL, 0xfff, d, 1, false), -ENOENT);
	ATF_CHECK_EQ(bus_access(&b, NULL, 0x1010, d, 1, false), -ENOENT);
	/* An access that runs past the end of a range is not the device's. */
	ATF_CHECK_EQ(bus_access(&b, NULL, 0x100c, d, 8, false), -ENOENT);
	ATF_CHECK_EQ(bus_access(&b, NULL, 0xffe, d, 4, false), -ENOENT);
	ATF_CHECK_EQ(bus_access(&b, NULL, 0x1008, d, 8, false), 0);
	bus_fini(&b);
}

ATF_TC_WITHOUT_HEAD(overlaps_refused);
ATF_TC_BODY(overlaps_refused, tc)
{
	struct bus b;
	bus_init(&b, "pio");
	ATF_REQUIRE_EQ(bus_register(&b, 0x100, 8, h_record, NULL, "a"), 0);
	ATF_CHECK_EQ(bus_register(&b, 0x100, 1, h_record, NULL, "b"), -EBUSY);
	ATF_CHECK_EQ(bus_register(&b, 0x107, 4, h_record, NULL, "b"), -EBUSY);
	ATF_CHECK_EQ(bus_register(&b, 0xf8, 9, h_record, NULL, "b"), -EBUSY);
	ATF_CHECK_EQ(bus_register(&b, 0xf8, 8, h_record, NULL, "b"), 0);
	ATF_CHECK_EQ(bus_register(&b, 0x108, 8, h_record, NULL, "c"), 0);
	ATF_CHECK_EQ(bus_register(&b, 0x200, 0, h_record, NULL, "z"), -EINVAL);
	ATF_CHECK_EQ(bus_register(&b, UINT64_MAX - 1, 4, h_record, NULL, "w"),
	    -EINVAL);
	ATF_CHECK_EQ(bus_unregister(&b, 0x100), 0);
	ATF_CHECK_EQ(bus_unregister(&b, 0x100), -ENOENT);
	ATF_CHECK_EQ(bus_register(&b, 0x100, 8, h_record, NULL, "a2"), 0);
	bus_fini(&b);
}

ATF_TC_WITHOUT_HEAD(many_ranges_sorted);
ATF_TC_BODY(many_ranges_sorted, tc)
{
	struct bus b;
	static uint64_t rec[200][3];
	bus_init(&b, "pio");
	/* Registered in a scrambled order; lookups must still find each. */
	for (int i = 0; i < 200; i++) {
		int j = (i * 73) % 200;
		ATF_REQUIRE_EQ(bus_register(&b, (uint64_t)j * 16, 16, h_record,
		    rec[j], "r"), 0);
	}
	for (int j = 0; j < 200; j++) {
		uint8_t d[2];
		ATF_REQUIRE_EQ(bus_access(&b, NULL, (uint64_t)j * 16 + 3, d, 2,
		    false), 0);
		ATF_CHECK_EQ(rec[j][0], (uint64_t)j * 16 + 3);
	}
	bus_fini(&b);
}

ATF_TP_ADD_TCS(tp)
{
	ATF_TP_ADD_TC(tp, register_and_dispatch);
	ATF_TP_ADD_TC(tp, unclaimed_and_straddling);
	ATF_TP_ADD_TC(tp, overlaps_refused);
	ATF_TP_ADD_TC(tp, many_ranges_sorted);
	return atf_no_error();
}
