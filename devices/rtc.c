/*
 * The MC146818 real-time clock and its CMOS RAM at ports 0x70/0x71: time
 * and date (BCD or binary, 12- or 24-hour, as register B says) following
 * the host clock plus whatever offset the guest sets, the update-in-progress
 * bit, and 114 bytes of RAM that survive a reset, holding the memory sizes
 * firmware reads (0x15-0x18, 0x30-0x31, 0x34-0x35, 0x5b-0x5d).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "devices/device.h"
#include "vmm/abi.h"
#include "vmm/vm.h"

enum { SEC = 0, MIN = 2, HOUR = 4, WDAY = 6, MDAY = 7, MON = 8, YEAR = 9,
       REG_A = 0xa, REG_B = 0xb, REG_C = 0xc, REG_D = 0xd, CENTURY = 0x32 };
#define B_SET 0x80
#define B_DM 0x04               /* binary */
#define B_24H 0x02

struct rtc {
	pthread_mutex_t lock;
	uint8_t index;
	uint8_t ram[128];
	int64_t offset;         /* guest time - host time, seconds */
};

static uint8_t
enc(const struct rtc *r, int v)
{
	return (r->ram[REG_B] & B_DM) ? (uint8_t)v :
	    (uint8_t)(((v / 10) << 4) | (v % 10));
}

static int
dec(const struct rtc *r, uint8_t v)
{
	return (r->ram[REG_B] & B_DM) ? v : (v >> 4) * 10 + (v & 0xf);
}

static void
now_tm(const struct rtc *r, struct tm *tm)
{
	time_t t = time(NULL) + (time_t)r->offset;
	gmtime_r(&t, tm);
}

static uint8_t
read_reg(struct rtc *r, unsigned i)
{
	struct tm tm;
	switch (i) {
	case SEC: case MIN: case HOUR: case WDAY: case MDAY: case MON: case YEAR:
	case CENTURY:
		if (r->ram[REG_B] & B_SET)
			return r->ram[i];       /* frozen while being set */
		now_tm(r, &tm);
		switch (i) {
		case SEC: return enc(r, tm.tm_sec);
		case MIN: return enc(r, tm.tm_min);
		case HOUR:
			if (r->ram[REG_B] & B_24H)
				return enc(r, tm.tm_hour);
			return (uint8_t)(enc(r, tm.tm_hour % 12 ? tm.tm_hour % 12 : 12) |
			    (tm.tm_hour >= 12 ? 0x80 : 0));
		case WDAY: return enc(r, tm.tm_wday + 1);
		case MDAY: return enc(r, tm.tm_mday);
		case MON: return enc(r, tm.tm_mon + 1);
		case YEAR: return enc(r, tm.tm_year % 100);
		default: return enc(r, 19 + tm.tm_year / 100);
		}
	case REG_A: {
		/* Update in progress during the last 244 us of each second. */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		return (uint8_t)((r->ram[REG_A] & 0x7f) |
		    (ts.tv_nsec >= 999756000L ? 0x80 : 0));
	}
	case REG_C: {
		uint8_t v = r->ram[REG_C];
		r->ram[REG_C] = 0;      /* read to clear */
		return v;
	}
	case REG_D:
		return 0x80;            /* valid RAM and time */
	default:
		return r->ram[i];
	}
}

/* Leaving SET mode: the registers written meanwhile become the time. */
static void
commit_time(struct rtc *r)
{
	struct tm tm = { 0 };
	int h = dec(r, r->ram[HOUR] & 0x7f);
	if (!(r->ram[REG_B] & B_24H)) {
		h %= 12;
		if (r->ram[HOUR] & 0x80)
			h += 12;
	}
	tm.tm_sec = dec(r, r->ram[SEC]);
	tm.tm_min = dec(r, r->ram[MIN]);
	tm.tm_hour = h;
	tm.tm_mday = dec(r, r->ram[MDAY]);
	tm.tm_mon = dec(r, r->ram[MON]) - 1;
	tm.tm_year = dec(r, r->ram[CENTURY]) * 100 + dec(r, r->ram[YEAR]) - 1900;
	time_t t = timegm(&tm);
	if (t != (time_t)-1)
		r->offset = (int64_t)t - (int64_t)time(NULL);
}

static void
write_reg(struct rtc *r, unsigned i, uint8_t v)
{
	switch (i) {
	case REG_B:
		if ((r->ram[REG_B] & B_SET) && !(v & B_SET)) {
			r->ram[REG_B] = v;
			commit_time(r);
			return;
		}
		if (!(r->ram[REG_B] & B_SET) && (v & B_SET)) {
			/* Freeze the current time, in the new format, so that
			 * partial writes compose. */
			r->ram[REG_B] = v & (uint8_t)~B_SET;
			for (unsigned k = SEC; k <= YEAR; k++)
				r->ram[k] = read_reg(r, k);
			r->ram[CENTURY] = read_reg(r, CENTURY);
		}
		r->ram[REG_B] = v;
		return;
	case REG_C: case REG_D:
		return;                 /* read-only */
	case REG_A:
		r->ram[REG_A] = v & 0x7f;
		return;
	default:
		r->ram[i] = v;
	}
}

static int
rtc_io(struct vcpu *vcpu, uint64_t addr, uint8_t *data, unsigned len,
    bool write, void *opaque)
{
	(void)vcpu;
	struct rtc *r = opaque;
	if (len != 1) {
		if (!write)
			memset(data, 0xff, len);
		return -EINVAL;
	}
	pthread_mutex_lock(&r->lock);
	if (addr == HYVE_PORT_RTC) {
		if (write)
			r->index = data[0] & 0x7f;      /* bit 7: NMI mask */
		else
			data[0] = 0xff;
	} else if (write) {
		write_reg(r, r->index, data[0]);
	} else {
		data[0] = read_reg(r, r->index);
	}
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static void
set_memory_sizes(struct rtc *r, const struct vm *vm)
{
	uint64_t lo = vm->mem.lo_size;
	uint64_t ext = lo > (1u << 20) ? (lo - (1u << 20)) >> 10 : 0;   /* KiB */
	if (ext > 0xffff)
		ext = 0xffff;
	r->ram[0x15] = 640 & 0xff;
	r->ram[0x16] = 640 >> 8;
	r->ram[0x17] = r->ram[0x30] = (uint8_t)ext;
	r->ram[0x18] = r->ram[0x31] = (uint8_t)(ext >> 8);
	uint64_t above16 = lo > (16u << 20) ? (lo - (16u << 20)) >> 16 : 0;
	if (above16 > 0xffff)
		above16 = 0xffff;
	r->ram[0x34] = (uint8_t)above16;
	r->ram[0x35] = (uint8_t)(above16 >> 8);
	uint64_t hi = vm->mem.hi_size >> 16;
	r->ram[0x5b] = (uint8_t)hi;
	r->ram[0x5c] = (uint8_t)(hi >> 8);
	r->ram[0x5d] = (uint8_t)(hi >> 16);
}

static void
rtc_destroy(void *arg)
{
	pthread_mutex_destroy(&((struct rtc *)arg)->lock);
}

static int
rtc_init(struct vm *vm, const struct dev_config *dc, char *err, size_t errlen)
{
	(void)dc;
	struct rtc *r = vm_dev_alloc(vm, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	r->ram[REG_A] = 0x26;           /* 32.768 kHz base, 1024 Hz rate */
	r->ram[REG_B] = B_24H;
	set_memory_sizes(r, vm);
	int e = vm_add_hook(vm, false, rtc_destroy, r);
	if (e == 0)
		e = bus_register(&vm->pio, HYVE_PORT_RTC, 2, rtc_io, r, "rtc");
	if (e < 0)
		snprintf(err, errlen, "rtc: %s", strerror(-e));
	return e;
}

static const struct device_emul rtc = {
	.name = "rtc", .kind = DEV_BUILTIN, .init = rtc_init,
};
DEVICE_EMUL(rtc);
