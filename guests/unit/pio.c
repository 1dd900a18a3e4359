/*
 * Port-I/O exits: IN and OUT of 1, 2 and 4 bytes and the string forms
 * REP INS/OUTS of each width, against hyve's loopback ports (vmm/abi.h),
 * data checked byte for byte; and pc-testdev's scratch port 0xe0, which
 * QEMU and bhyve offer too.
 */
#include "string.h"
#include "test.h"
#include "x86.h"

#define FIFO  HYVE_PORT_LOOP_FIFO
#define REG   HYVE_PORT_LOOP_REG
#define LEVEL HYVE_PORT_LOOP_LEVEL
#define NBUF  1024

static uint8_t out_buf[NBUF], in_buf[NBUF];

static void need_loopback(void)
{
	if (inl(LEVEL) == 0xffffffffu)
		test_skip("no hyve-loopback device at port 0x%x", LEVEL);
	outl(LEVEL, 0);                 /* empty the FIFO */
	if (inl(LEVEL) != 0)
		test_abort("loopback FIFO holds %u bytes after being emptied", inl(LEVEL));
}

static void pattern(uint8_t *b, unsigned n, unsigned seed)
{
	unsigned i;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 7 + seed + (i >> 8) * 13);
}

static void compare(const uint8_t *want, const uint8_t *got, unsigned n, const char *what)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (want[i] != got[i]) {
			test_fail("%s: byte %u is 0x%02x, expected 0x%02x", what, i, got[i], want[i]);
			return;
		}
}

TEST(pio_byte)
{
	static const uint8_t v[4] = { 0x11, 0x82, 0x3c, 0xf7 };
	unsigned k;

	need_loopback();
	for (k = 0; k < 4; k++)
		outb(REG + k, v[k]);
	for (k = 0; k < 4; k++)
		expect_eq(inb(REG + k), v[k]);
	expect_eq(inl(REG), 0xf73c8211u);
	/* FIFO: bytes come back in order. */
	for (k = 0; k < 4; k++)
		outb(FIFO, v[k]);
	expect_eq(inl(LEVEL), 4);
	for (k = 0; k < 4; k++)
		expect_eq(inb(FIFO), v[k]);
	expect_eq(inl(LEVEL), 0);
	expect_eq(inb(FIFO), 0xff);     /* empty */
}

TEST(pio_word)
{
	need_loopback();
	outw(REG, 0xbeef);
	outw(REG + 2, 0x8001);
	expect_eq(inw(REG), 0xbeef);
	expect_eq(inw(REG + 2), 0x8001);
	expect_eq(inb(REG + 1), 0xbe);
	expect_eq(inl(REG), 0x8001beefu);
	outw(FIFO, 0x1234);
	outw(FIFO, 0xabcd);
	expect_eq(inl(LEVEL), 4);
	expect_eq(inb(FIFO), 0x34);
	expect_eq(inw(FIFO), 0xcd12);
	expect_eq(inb(FIFO), 0xab);
	expect_eq(inw(FIFO), 0xffff);
}

TEST(pio_dword)
{
	need_loopback();
	outl(REG, 0xdeadbeefu);
	expect_eq(inl(REG), 0xdeadbeefu);
	expect_eq(inw(REG + 2), 0xdead);
	expect_eq(inb(REG + 3), 0xde);
	outl(REG, 0x00000000u);
	expect_eq(inl(REG), 0);
	outl(FIFO, 0x44332211u);
	outb(FIFO, 0x55);
	expect_eq(inl(LEVEL), 5);
	expect_eq(inl(FIFO), 0x44332211u);
	expect_eq(inb(FIFO), 0x55);
	expect_eq(inl(FIFO), 0xffffffffu);
}

TEST(pio_fifo_full)
{
	unsigned i, level;

	need_loopback();
	for (i = 0; i < HYVE_LOOP_FIFO_SIZE / 4; i++)
		outl(FIFO, i * 0x01010101u);
	level = inl(LEVEL);
	expect(level == HYVE_LOOP_FIFO_SIZE, "FIFO level %u after filling it, expected %u",
	       level, HYVE_LOOP_FIFO_SIZE);
	outb(FIFO, 0x99);               /* no room: dropped */
	expect_eq(inl(LEVEL), HYVE_LOOP_FIFO_SIZE);
	for (i = 0; i < HYVE_LOOP_FIFO_SIZE / 4; i++) {
		uint32_t v = inl(FIFO);

		if (v != i * 0x01010101u) {
			test_fail("FIFO dword %u is 0x%x, expected 0x%x", i, v, i * 0x01010101u);
			break;
		}
	}
	outl(LEVEL, 0);
	expect_eq(inl(LEVEL), 0);
}

/* REP OUTS of width w, then read back one byte at a time. */
static void rep_outs(unsigned w, unsigned n)
{
	unsigned count = n / w, i;
	const void *src = out_buf;
	uint64_t rcx = count;

	pattern(out_buf, n, w);
	switch (w) {
	case 1: __asm__ volatile("rep outsb" : "+S"(src), "+c"(rcx) : "d"(FIFO) : "memory"); break;
	case 2: __asm__ volatile("rep outsw" : "+S"(src), "+c"(rcx) : "d"(FIFO) : "memory"); break;
	default: __asm__ volatile("rep outsl" : "+S"(src), "+c"(rcx) : "d"(FIFO) : "memory"); break;
	}
	expect(rcx == 0, "rep outs%u left RCX %lu", w, rcx);
	expect((const uint8_t *)src == out_buf + n, "rep outs%u left RSI %p, expected %p",
	       w, src, out_buf + n);
	expect_eq(inl(LEVEL), n);
	for (i = 0; i < n; i++)
		in_buf[i] = inb(FIFO);
	compare(out_buf, in_buf, n, "rep outs");
	expect_eq(inl(LEVEL), 0);
}

/* Fill with single OUTs, then REP INS of width w. */
static void rep_ins(unsigned w, unsigned n)
{
	unsigned count = n / w, i;
	void *dst = in_buf;
	uint64_t rcx = count;

	pattern(out_buf, n, 100 + w);
	memset(in_buf, 0, sizeof(in_buf));
	for (i = 0; i < n; i++)
		outb(FIFO, out_buf[i]);
	expect_eq(inl(LEVEL), n);
	switch (w) {
	case 1: __asm__ volatile("rep insb" : "+D"(dst), "+c"(rcx) : "d"(FIFO) : "memory"); break;
	case 2: __asm__ volatile("rep insw" : "+D"(dst), "+c"(rcx) : "d"(FIFO) : "memory"); break;
	default: __asm__ volatile("rep insl" : "+D"(dst), "+c"(rcx) : "d"(FIFO) : "memory"); break;
	}
	expect(rcx == 0, "rep ins%u left RCX %lu", w, rcx);
	expect((uint8_t *)dst == in_buf + n, "rep ins%u left RDI %p, expected %p",
	       w, dst, in_buf + n);
	compare(out_buf, in_buf, n, "rep ins");
	for (i = n; i < NBUF; i++)
		if (in_buf[i]) {
			test_fail("rep ins%u wrote past its %u bytes (byte %u = 0x%x)", w, n, i, in_buf[i]);
			break;
		}
	expect_eq(inl(LEVEL), 0);
}

TEST(pio_rep_outsb) { need_loopback(); rep_outs(1, 1000); rep_outs(1, 1); }
TEST(pio_rep_outsw) { need_loopback(); rep_outs(2, 1000); rep_outs(2, 2); }
TEST(pio_rep_outsd) { need_loopback(); rep_outs(4, 1000); rep_outs(4, 4); }
TEST(pio_rep_insb)  { need_loopback(); rep_ins(1, 999); rep_ins(1, 1); }
TEST(pio_rep_insw)  { need_loopback(); rep_ins(2, 1000); rep_ins(2, 2); }
TEST(pio_rep_insd)  { need_loopback(); rep_ins(4, 1000); rep_ins(4, 4); }

TEST(pio_rep_backwards)
{
	/* DF = 1: REP OUTSB walks down from the last byte. */
	const uint8_t *src = out_buf + 99;
	uint64_t rcx = 100;
	unsigned i;

	need_loopback();
	pattern(out_buf, 100, 42);
	__asm__ volatile("std; rep outsb; cld" : "+S"(src), "+c"(rcx) : "d"(FIFO) : "memory", "cc");
	expect((uintptr_t)src == (uintptr_t)out_buf - 1,
	       "std; rep outsb left RSI %p, expected one below %p", src, out_buf);
	expect_eq(inl(LEVEL), 100);
	for (i = 0; i < 100; i++) {
		uint8_t b = inb(FIFO);

		if (b != out_buf[99 - i]) {
			test_fail("backwards byte %u is 0x%x, expected 0x%x", i, b, out_buf[99 - i]);
			break;
		}
	}
}

TEST(pio_rep_zero_count)
{
	const void *src = out_buf;
	void *dst = in_buf;
	uint64_t rcx = 0;

	need_loopback();
	__asm__ volatile("rep outsb" : "+S"(src), "+c"(rcx) : "d"(FIFO) : "memory");
	expect_eq(inl(LEVEL), 0);
	expect(src == out_buf, "rep outsb with RCX = 0 moved RSI");
	outb(FIFO, 0x5a);
	__asm__ volatile("rep insb" : "+D"(dst), "+c"(rcx) : "d"(FIFO) : "memory");
	expect(dst == in_buf, "rep insb with RCX = 0 moved RDI");
	expect_eq(inl(LEVEL), 1);
}

TEST(pio_testdev)
{
	const uint16_t p = HYVE_PORT_TESTDEV;

	outl(p, 0x12345678u);
	expect_eq(inl(p), 0x12345678u);
	outb(p + 2, 0xab);
	expect_eq(inl(p), 0x12ab5678u);
	expect_eq(inb(p + 2), 0xab);
	outw(p, 0xcafe);
	expect_eq(inl(p), 0x12abcafeu);
	expect_eq(inw(p + 2), 0x12ab);
	outl(p, 0);
	expect_eq(inl(p), 0);
}
