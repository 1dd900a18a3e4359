/*
 * A misbehaving guest: garbage to every I/O port and to a sweep of MSRs.
 * The VMM must stay up; each access completes or raises #GP in the guest.
 *
 * Ports skipped: the debug-exit port 0xf4-0xf7 and the test-result port
 * 0x500-0x503 (they would end the run or are checked by chaos_testresult),
 * and the ports that reset or power off the machine, which hyve implements
 * as a PC does (vmm/abi.h): the i8042 command port 0x64, port A 0x92, the
 * reset register 0xcf9 and the ACPI sleep registers 0x600-0x601.  A reset
 * would rerun this kernel from the start, for ever.  Under QEMU also the
 * rest of its PIIX power-management and PCI configuration ports
 * (0x600-0x6ff, 0xb000-0xb0ff, APM 0xb2-0xb3, 0xcf8-0xcff), fw_cfg
 * 0x510-0x51b (its DMA port writes guest memory) and pc-testdev's
 * interrupt-line ports for lines 16-23 (QEMU asserts that an ISA line is
 * below 16, in isa_get_irq).  Under QEMU every access is one byte wide:
 * QEMU's 16550 aborts the whole emulator on a wider access (an assertion
 * in serial_ioport_write), which hyve handles.
 *
 * MSRs whose garbage would break this guest itself rather than test the
 * VMM (EFER, APIC base, DEBUGCTL, KVM's paravirtual clock MSRs that make
 * the host write guest memory) are only read; every MSR that reads
 * successfully is restored after the write.
 */
#include "console.h"
#include "test.h"
#include "x86.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int port_skipped(unsigned p)
{
	/* The run's own exits, and the machine-control ports that would reset
	 * the machine (which reruns this kernel: a loop) or power it off. */
	if (p >= HYVE_PORT_DEBUG_EXIT && p < HYVE_PORT_DEBUG_EXIT + 4)
		return 1;
	if (p >= HYVE_PORT_TESTRESULT && p < HYVE_PORT_TESTRESULT + 4)
		return 1;
	if (p == HYVE_PORT_KBD_CMD || p == 0x92 || p == HYVE_PORT_RESET ||
	    p == HYVE_PORT_SLEEP_CTL || p == HYVE_PORT_SLEEP_STS)
		return 1;
	if (on_hyve())
		return 0;
	return (p >= 0xb2 && p <= 0xb3) || (p >= 0xcf8 && p <= 0xcff) ||
		(p >= 0x600 && p <= 0x6ff) || (p >= 0xb000 && p <= 0xb0ff) ||
		(p >= 0x510 && p <= 0x51b) ||   /* fw_cfg, with its DMA port */
		(p >= 0x2010 && p <= 0x2017);   /* pc-testdev lines 16-23 */
}

static int range_skipped(unsigned p, unsigned w)
{
	unsigned i;

	for (i = 0; i < w; i++)
		if (p + i > 0xffff || port_skipped(p + i))
			return 1;
	return 0;
}

/* Per port: one OUT of a random width with random data, one IN of a random
 * width; a width that would touch a skipped port falls back to one byte.
 * Guest code is slow under some backends (PVM), so this stays short. */
static unsigned width(unsigned p, uint64_t g)
{
	static const unsigned widths[4] = { 1, 2, 4, 1 };
	unsigned w = on_hyve() ? widths[g & 3] : 1;

	if (w > 1 && range_skipped(p, w))
		w = 1;
	return port_skipped(p) ? 0 : w;
}

static void port_out(unsigned p, unsigned w, uint32_t v)
{
	if (w == 1)
		outb((uint16_t)p, (uint8_t)v);
	else if (w == 2)
		outw((uint16_t)p, (uint16_t)v);
	else
		outl((uint16_t)p, v);
}

static uint32_t port_in(unsigned p, unsigned w)
{
	if (w == 1)
		return inb((uint16_t)p);
	if (w == 2)
		return inw((uint16_t)p);
	return inl((uint16_t)p);
}

TEST(chaos_ports)
{
	unsigned p, w, n = 0;
	volatile uint32_t sink = 0;

	for (p = 0; p <= 0xffff; p++) {
		uint64_t g = next();

		w = width(p, g);
		if (w) {
			port_out(p, w, (uint32_t)(g >> 16));
			n++;
		}
		w = width(p, g >> 8);
		if (w) {
			sink += port_in(p, w);
			n++;
		}
	}
	console_init();                 /* the UART got garbage too */
	printf("  %u port accesses\n", n);
	(void)sink;
	test_info("chaos_port_accesses", n);
}

struct msr_range {
	uint32_t first, last;
};

static const struct msr_range sweep[] = {
	{ 0x00000000, 0x00001fff },
	{ 0x40000000, 0x400001ff },
	{ 0x4b564d00, 0x4b564dff },
	{ 0xc0000000, 0xc0001fff },
	{ 0xc0010000, 0xc0011fff },
};

static int msr_read_only(uint32_t m)
{
	return m == 0x11 || m == 0x12 ||                /* KVM clock (old) */
		m == MSR_IA32_APIC_BASE || m == 0x1d9 ||  /* DEBUGCTL */
		m == MSR_EFER ||
		(m >= 0x40000000 && m <= 0x400001ff) ||   /* Hyper-V, KVM */
		(m >= 0x4b564d00 && m <= 0x4b564dff);     /* KVM paravirtual */
}

TEST(chaos_msrs)
{
	unsigned r, readable = 0, writable = 0, gp = 0, total = 0;
	uint64_t v, check;

	for (r = 0; r < sizeof(sweep) / sizeof(sweep[0]); r++) {
		uint32_t m = sweep[r].first;

		for (;; m++) {
			int rd = rdmsr_safe(m, &v), wr;

			total++;
			readable += rd < 0;
			if (rd >= 0 && rd != EXC_GP)
				test_fail("rdmsr 0x%x raised vector %d, expected #GP or success", m, rd);
			if (!msr_read_only(m)) {
				wr = wrmsr_safe(m, next());
				if (wr < 0)
					writable++;
				else if (wr == EXC_GP)
					gp++;
				else
					test_fail("wrmsr 0x%x raised vector %d, expected #GP or success",
						  m, wr);
				if (rd < 0 && wr < 0)
					(void)wrmsr_safe(m, v);
			}
			if (m == sweep[r].last)
				break;
		}
	}
	printf("  %u MSRs: %u readable, %u accepted garbage, %u writes raised #GP\n",
	       total, readable, writable, gp);
	/* The guest still works: EFER is intact. */
	require(rdmsr_safe(MSR_EFER, &check) < 0, "EFER unreadable after the sweep");
	expect(check & EFER_LMA, "EFER 0x%lx lost LMA", check);
	test_info("chaos_msrs_readable", readable);
}

TEST(chaos_testresult)
{
	static struct hyve_test_report bad __attribute__((aligned(8)));
	static const char name[] = "chaos_bogus";
	uint32_t e;

	if (!on_hyve())
		test_skip("hyve-testresult is a hyve device");
	/* A report address outside guest RAM. */
	outl(HYVE_PORT_TESTRESULT, 0xfffff000u);
	e = inl(HYVE_PORT_TESTRESULT);
	expect(e == HYVE_TRE_ADDR, "report outside RAM: status %u, expected %u", e, HYVE_TRE_ADDR);
	/* Bad magic. */
	bad.magic = 0x12345678;
	bad.status = HYVE_TR_PASS;
	bad.name = (uintptr_t)name;
	outl(HYVE_PORT_TESTRESULT, (uint32_t)(uintptr_t)&bad);
	e = inl(HYVE_PORT_TESTRESULT);
	expect(e == HYVE_TRE_MAGIC, "bad magic: status %u, expected %u", e, HYVE_TRE_MAGIC);
	/* Unknown status. */
	bad.magic = HYVE_TR_MAGIC;
	bad.status = 99;
	outl(HYVE_PORT_TESTRESULT, (uint32_t)(uintptr_t)&bad);
	e = inl(HYVE_PORT_TESTRESULT);
	expect(e == HYVE_TRE_STATUS, "status 99: status %u, expected %u", e, HYVE_TRE_STATUS);
	/* A name pointer outside RAM. */
	bad.status = HYVE_TR_INFO;
	bad.name = 0xfffffff0u;
	outl(HYVE_PORT_TESTRESULT, (uint32_t)(uintptr_t)&bad);
	e = inl(HYVE_PORT_TESTRESULT);
	expect(e == HYVE_TRE_ADDR, "name outside RAM: status %u, expected %u", e, HYVE_TRE_ADDR);
}
