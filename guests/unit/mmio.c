/*
 * MMIO exits: reads and writes of 1, 2, 4 and 8 bytes through the MOV forms
 * compilers emit, MOVZX/MOVSX, 32-bit loads that zero-extend, byte loads
 * into AH, read-modify-write instructions (ADD, OR, AND, XCHG, INC, with
 * their flags) and REP MOVS/STOS, each run against hyve's scratch MMIO page
 * (mmio_*, hyve only) and against pc-testdev's iomem (mmio_testdev_*, which
 * QEMU offers too).  Every instruction is written in inline assembly so that
 * its exact form is known.
 */
#include "string.h"
#include "test.h"
#include "x86.h"

typedef uintptr_t addr_t;

#define M8(a)  (*(volatile uint8_t *)(a))
#define M16(a) (*(volatile uint16_t *)(a))
#define M32(a) (*(volatile uint32_t *)(a))
#define M64(a) (*(volatile uint64_t *)(a))

static void st8(addr_t a, uint8_t v)   { __asm__ volatile("movb %1, %0" : "=m"(M8(a)) : "q"(v)); }
static void st16(addr_t a, uint16_t v) { __asm__ volatile("movw %1, %0" : "=m"(M16(a)) : "r"(v)); }
static void st32(addr_t a, uint32_t v) { __asm__ volatile("movl %1, %0" : "=m"(M32(a)) : "r"(v)); }
static void st64(addr_t a, uint64_t v) { __asm__ volatile("movq %1, %0" : "=m"(M64(a)) : "r"(v)); }
static uint8_t ld8(addr_t a)   { uint8_t v;  __asm__ volatile("movb %1, %0" : "=q"(v) : "m"(M8(a)));  return v; }
static uint16_t ld16(addr_t a) { uint16_t v; __asm__ volatile("movw %1, %0" : "=r"(v) : "m"(M16(a))); return v; }
static uint32_t ld32(addr_t a) { uint32_t v; __asm__ volatile("movl %1, %0" : "=r"(v) : "m"(M32(a))); return v; }
static uint64_t ld64(addr_t a) { uint64_t v; __asm__ volatile("movq %1, %0" : "=r"(v) : "m"(M64(a))); return v; }

static addr_t scratch(void)
{
	if (!on_hyve())
		test_skip("hyve-scratch-mmio is a hyve device");
	return (addr_t)HYVE_SCRATCH_MMIO;
}

static addr_t testdev(void)
{
	return (addr_t)HYVE_TESTDEV_IOMEM;
}

static void t_mov(addr_t b)
{
	uint64_t v;

	st8(b + 0x10, 0xa5);
	expect_eq(ld8(b + 0x10), 0xa5);
	st16(b + 0x20, 0xbeef);
	expect_eq(ld16(b + 0x20), 0xbeef);
	st32(b + 0x30, 0xdeadbeefu);
	expect_eq(ld32(b + 0x30), 0xdeadbeefu);
	st64(b + 0x40, 0x0123456789abcdefull);
	expect_eq(ld64(b + 0x40), 0x0123456789abcdefull);
	/* Narrow views of the wide value: little-endian bytes. */
	expect_eq(ld8(b + 0x40), 0xef);
	expect_eq(ld8(b + 0x47), 0x01);
	expect_eq(ld16(b + 0x42), 0x89ab);
	expect_eq(ld32(b + 0x44), 0x01234567u);
	/* A byte store into the middle of the quadword. */
	st8(b + 0x43, 0x00);
	expect_eq(ld64(b + 0x40), 0x0123456700abcdefull);
	/* Immediate stores. */
	st64(b + 0x50, 0);
	__asm__ volatile("movb $0x7e, %0" : "=m"(M8(b + 0x50)));
	__asm__ volatile("movw $0x1234, %0" : "=m"(M16(b + 0x52)));
	__asm__ volatile("movl $0x89abcdef, %0" : "=m"(M32(b + 0x54)));
	expect_eq(ld64(b + 0x50), 0x89abcdef1234007eull);
	__asm__ volatile("movq $-2, %0" : "=m"(M64(b + 0x58)));
	expect_eq(ld64(b + 0x58), 0xfffffffffffffffeull);
	/* Loads into a register that held all ones: 32-bit loads zero-extend,
	 * 8- and 16-bit loads keep the upper bits. */
	st64(b + 0x60, 0x1122334455667788ull);
	v = ~0ull;
	__asm__ volatile("movl %1, %k0" : "+r"(v) : "m"(M32(b + 0x60)));
	expect_eq(v, 0x55667788ull);
	v = ~0ull;
	__asm__ volatile("movw %1, %w0" : "+r"(v) : "m"(M16(b + 0x60)));
	expect_eq(v, 0xffffffffffff7788ull);
	v = ~0ull;
	__asm__ volatile("movb %1, %b0" : "+q"(v) : "m"(M8(b + 0x61)));
	expect_eq(v, 0xffffffffffffff77ull);
}

static void t_unaligned(addr_t b)
{
	st64(b + 0x103, 0xa1b2c3d4e5f60718ull);
	expect_eq(ld64(b + 0x103), 0xa1b2c3d4e5f60718ull);
	expect_eq(ld32(b + 0x105), 0xc3d4e5f6u);
	expect_eq(ld16(b + 0x109), 0xa1b2);
	st32(b + 0x1ff, 0x01020304u);
	expect_eq(ld8(b + 0x1ff), 0x04);
	expect_eq(ld8(b + 0x202), 0x01);
	st16(b + 0x2ff, 0x5a6b);
	expect_eq(ld16(b + 0x2ff), 0x5a6b);
	/* Last bytes of the page. */
	st64(b + 0xff8, 0x8877665544332211ull);
	expect_eq(ld64(b + 0xff8), 0x8877665544332211ull);
	expect_eq(ld8(b + 0xfff), 0x88);
}

static void t_movzx(addr_t b)
{
	uint32_t l;
	uint64_t q;

	st32(b + 0x80, 0x00f08085u);
	__asm__ volatile("movzbl %1, %0" : "=r"(l) : "m"(M8(b + 0x80)));
	expect_eq(l, 0x85);
	__asm__ volatile("movzwl %1, %0" : "=r"(l) : "m"(M16(b + 0x80)));
	expect_eq(l, 0x8085);
	q = ~0ull;
	__asm__ volatile("movzbq %1, %0" : "+r"(q) : "m"(M8(b + 0x81)));
	expect_eq(q, 0x80);
	q = ~0ull;
	__asm__ volatile("movzwq %1, %0" : "+r"(q) : "m"(M16(b + 0x81)));
	expect_eq(q, 0xf080);
}

static void t_movsx(addr_t b)
{
	uint32_t l;
	uint64_t q;

	st64(b + 0x90, 0x80000000ffff8081ull);
	__asm__ volatile("movsbq %1, %0" : "=r"(q) : "m"(M8(b + 0x90)));
	expect_eq(q, 0xffffffffffffff81ull);
	__asm__ volatile("movswq %1, %0" : "=r"(q) : "m"(M16(b + 0x90)));
	expect_eq(q, 0xffffffffffff8081ull);
	__asm__ volatile("movsbl %1, %0" : "=r"(l) : "m"(M8(b + 0x91)));
	expect_eq(l, 0xffffff80u);
	__asm__ volatile("movswl %1, %0" : "=r"(l) : "m"(M16(b + 0x91)));
	expect_eq(l, 0xffffff80u);
	__asm__ volatile("movslq %1, %0" : "=r"(q) : "m"(M32(b + 0x94)));
	expect_eq(q, 0xffffffff80000000ull);
	/* Positive values stay positive. */
	st16(b + 0x98, 0x7f7f);
	__asm__ volatile("movsbq %1, %0" : "=r"(q) : "m"(M8(b + 0x98)));
	expect_eq(q, 0x7f);
}

static void t_high_byte(addr_t b)
{
	uint64_t v = 0x1111111111110000ull;

	st8(b + 0xa0, 0xc3);
	/* movb mem, %ah (no REX prefix allowed) */
	__asm__ volatile("movb (%1), %%ah" : "+a"(v) : "S"(b + 0xa0) : "memory");
	expect_eq(v, 0x111111111111c300ull);
	v = 0x5a00;
	__asm__ volatile("movb %%ah, (%0)" :: "S"(b + 0xa1), "a"(v) : "memory");
	expect_eq(ld8(b + 0xa1), 0x5a);
}

static void t_rmw(addr_t b)
{
	uint64_t q;
	uint32_t l;
	uint8_t zf, cf;

	st32(b + 0xc0, 41);
	__asm__ volatile("addl $1, %0" : "+m"(M32(b + 0xc0)) :: "cc");
	expect_eq(ld32(b + 0xc0), 42);
	/* Carry and zero out of a memory operand. */
	st32(b + 0xc4, 0xffffffffu);
	__asm__ volatile("addl $1, %0; setz %1; setc %2"
			 : "+m"(M32(b + 0xc4)), "=q"(zf), "=q"(cf) :: "cc");
	expect_eq(ld32(b + 0xc4), 0);
	expect(zf && cf, "addl $1 to 0xffffffff in MMIO: ZF %u CF %u, expected 1 1", zf, cf);
	st8(b + 0xc8, 0x01);
	__asm__ volatile("orb $0x80, %0" : "+m"(M8(b + 0xc8)) :: "cc");
	expect_eq(ld8(b + 0xc8), 0x81);
	st16(b + 0xca, 0xffff);
	__asm__ volatile("andw $0x0ff0, %0" : "+m"(M16(b + 0xca)) :: "cc");
	expect_eq(ld16(b + 0xca), 0x0ff0);
	st64(b + 0xd0, 0x00000000ffffffffull);
	__asm__ volatile("incq %0" : "+m"(M64(b + 0xd0)) :: "cc");
	expect_eq(ld64(b + 0xd0), 0x0000000100000000ull);
	st64(b + 0xd8, 0x1111222233334444ull);
	q = 0x5555666677778888ull;
	__asm__ volatile("xchgq %0, %1" : "+r"(q), "+m"(M64(b + 0xd8)));
	expect_eq(q, 0x1111222233334444ull);
	expect_eq(ld64(b + 0xd8), 0x5555666677778888ull);
	st32(b + 0xe0, 100);
	l = 5;
	__asm__ volatile("lock xaddl %0, %1" : "+r"(l), "+m"(M32(b + 0xe0)) :: "cc");
	expect_eq(l, 100);
	expect_eq(ld32(b + 0xe0), 105);
	/* A register operand read from MMIO. */
	l = 7;
	__asm__ volatile("addl %1, %0" : "+r"(l) : "m"(M32(b + 0xe0)) : "cc");
	expect_eq(l, 112);
	/* Compare against memory sets flags without writing. */
	__asm__ volatile("cmpl $105, %1; setz %0" : "=q"(zf) : "m"(M32(b + 0xe0)) : "cc");
	expect(zf, "cmpl $105 with MMIO holding 105: ZF clear");
}

static void t_string(addr_t b)
{
	static uint8_t src[64], dst[64];
	void *d, *s;
	uint64_t n;
	unsigned i;

	for (i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(0x30 + i * 3);
	d = (void *)(b + 0x400);
	s = src;
	n = sizeof(src);
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) :: "memory");
	for (i = 0; i < sizeof(src); i++)
		if (ld8(b + 0x400 + i) != src[i]) {
			test_fail("rep movsb to MMIO: byte %u is 0x%x, expected 0x%x",
				  i, ld8(b + 0x400 + i), src[i]);
			break;
		}
	memset(dst, 0, sizeof(dst));
	d = dst;
	s = (void *)(b + 0x400);
	n = sizeof(dst) / 8;
	__asm__ volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(n) :: "memory");
	expect(!memcmp(src, dst, sizeof(dst)), "rep movsq from MMIO: data differ");
	d = (void *)(b + 0x500);
	n = 16;
	__asm__ volatile("rep stosl" : "+D"(d), "+c"(n) : "a"(0xfeedf00du) : "memory");
	for (i = 0; i < 16; i++)
		if (ld32(b + 0x500 + 4 * i) != 0xfeedf00du) {
			test_fail("rep stosl to MMIO: dword %u is 0x%x", i, ld32(b + 0x500 + 4 * i));
			break;
		}
}

TEST(mmio_initial)
{
	addr_t b = scratch();
	unsigned i;

	for (i = 0; i < HYVE_SCRATCH_MMIO_LEN; i++)
		if (ld8(b + i) != (uint8_t)i) {
			test_fail("scratch byte 0x%x is 0x%x, expected 0x%x", i, ld8(b + i), i & 0xff);
			break;
		}
	expect_eq(ld64(b + 0x808), 0x0f0e0d0c0b0a0908ull);
}

TEST(mmio_mov)          { t_mov(scratch()); }
TEST(mmio_unaligned)    { t_unaligned(scratch()); }
TEST(mmio_movzx)        { t_movzx(scratch()); }
TEST(mmio_movsx)        { t_movsx(scratch()); }
TEST(mmio_high_byte)    { t_high_byte(scratch()); }
TEST(mmio_rmw)          { t_rmw(scratch()); }
TEST(mmio_string)       { t_string(scratch()); }
TEST(mmio_testdev_mov)       { t_mov(testdev()); }
TEST(mmio_testdev_unaligned) { t_unaligned(testdev()); }
TEST(mmio_testdev_movzx)     { t_movzx(testdev()); }
TEST(mmio_testdev_movsx)     { t_movsx(testdev()); }
TEST(mmio_testdev_rmw)       { t_rmw(testdev()); }
TEST(mmio_testdev_string)    { t_string(testdev()); }
