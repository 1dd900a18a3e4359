/*
 * hyve-pcitest (-s N,pcitest) from inside the guest: configuration space
 * through both mechanisms, BAR sizing, the capability list, MSI with 1 to
 * 32 vectors, MSI-X, masking, retargeting, destinations on another vCPU,
 * an interrupt storm and DMA.  Vectors 0x40-0x5f carry the device's 32
 * messages (the MSI data base is a multiple of 32, so the low bits that
 * multi-message MSI replaces are zero).  Cases with a second vCPU need
 * -c 2 -o ap-start=direct.  The storm's count comes from "storm=N" on the
 * command line (default 100000).
 */
#include "apic.h"
#include "idt.h"
#include "pci.h"
#include "string.h"
#include "test.h"
#include "x86.h"

#define VBASE 0x40u             /* vector of message 0 */
#define NVEC HYVE_PCITEST_VECTORS
#define MSI_ADDR(cpu) (HYVE_LAPIC_BASE | ((uint32_t)(cpu) << 12))
#define WAIT_CYCLES 4000000000ull

static struct pci_dev dev;
static volatile uint32_t *regs;         /* BAR0 */
static volatile uint8_t *msix_bar;      /* BAR2: table at 0, PBA at 0x800 */
static unsigned msi_cap, msix_cap;

/* Deliveries per vector and per vCPU (APIC IDs 0 and 1). */
static volatile uint32_t hits[256][2];
static volatile uint32_t storm_hits;
static uint32_t raised0, deliv0;        /* the device's counts at set-up */

/* ---- set-up ------------------------------------------------------------ */

static void on_irq(struct trap_frame *f)
{
	hits[f->vector][apic_id() & 1]++;
	apic_eoi();
}

static void on_storm(struct trap_frame *f)
{
	(void)f;
	storm_hits++;
	apic_eoi();
}

static void find_dev(void)
{
	if (!on_hyve())
		test_skip("hyve-pcitest is a hyve device");
	if (pci_find(HYVE_PCITEST_VENDOR, HYVE_PCITEST_DEVICE, 0, &dev) < 0)
		test_skip("no hyve-pcitest (run with -s N,pcitest)");
}

/* Device found, BARs mapped, MSI and MSI-X off, all MSI-X entries masked,
 * handlers in place, counts zero. */
static void setup(void)
{
	find_dev();
	regs = (volatile uint32_t *)pci_map_bar(&dev, 0);
	require(regs != 0, "BAR0 cannot be mapped");
	msix_bar = pci_map_bar(&dev, 2);
	require(msix_bar != 0, "BAR2 cannot be mapped");
	require(regs[PCITEST_ID / 4] == HYVE_PCITEST_ID, "ID register reads 0x%x",
		regs[PCITEST_ID / 4]);
	msi_cap = pci_find_cap(&dev, PCI_CAP_MSI, 0);
	msix_cap = pci_find_cap(&dev, PCI_CAP_MSIX, 0);
	require(msi_cap && msix_cap, "capabilities: MSI at 0x%x, MSI-X at 0x%x",
		msi_cap, msix_cap);
	pci_enable(&dev, PCI_CMD_MEMORY | PCI_CMD_MASTER | PCI_CMD_INTX_OFF);
	pci_set16(&dev, msi_cap + 2, 0);
	pci_set32(&dev, msi_cap + 16, 0);
	pci_set16(&dev, msix_cap + 2, 0);
	for (unsigned v = 0; v < NVEC; v++)
		*(volatile uint32_t *)(msix_bar + 16 * v + 12) = 1;
	apic_init();
	for (unsigned v = 32; v < 255; v++)
		irq_install(v, on_irq);
	memset((void *)hits, 0, sizeof(hits));
	raised0 = regs[PCITEST_RAISED / 4];
	deliv0 = regs[PCITEST_DELIVERED / 4];
}

static uint32_t raised(void) { return regs[PCITEST_RAISED / 4] - raised0; }
static uint32_t delivered(void) { return regs[PCITEST_DELIVERED / 4] - deliv0; }

static uint32_t total_hits(void)
{
	uint32_t n = 0;

	for (unsigned v = 0; v < 256; v++)
		n += hits[v][0] + hits[v][1];
	return n;
}

/* Interrupts on until *p reaches want or the time runs out. */
static int wait_for(volatile uint32_t *p, uint32_t want)
{
	uint64_t t0 = rdtsc();

	irq_enable();
	while (*p < want && rdtsc() - t0 < WAIT_CYCLES)
		cpu_relax();
	irq_disable();
	return *p >= want;
}

/* Interrupts on for a while, so that anything pending arrives. */
static void settle(void)
{
	uint64_t t0 = rdtsc();

	irq_enable();
	while (rdtsc() - t0 < 20000000ull)
		cpu_relax();
	irq_disable();
}

static void raise(unsigned v)
{
	regs[PCITEST_RAISE / 4] = v;
}

/* MSI with n vectors (MME = log2 n) aimed at APIC ID cpu, data VBASE. */
static void msi_on(unsigned n, unsigned cpu)
{
	unsigned mme = (unsigned)__builtin_ctz(n);

	pci_set32(&dev, msi_cap + 4, MSI_ADDR(cpu));
	pci_set32(&dev, msi_cap + 8, 0);
	pci_set16(&dev, msi_cap + 12, VBASE);
	pci_set16(&dev, msi_cap + 2, (uint16_t)(mme << 4 | 1));
}

static volatile uint32_t *msix_entry(unsigned v)
{
	return (volatile uint32_t *)(msix_bar + 16 * v);
}

static void msix_set(unsigned v, unsigned cpu, unsigned vector, int masked)
{
	volatile uint32_t *e = msix_entry(v);

	e[3] = 1;
	e[0] = MSI_ADDR(cpu);
	e[1] = 0;
	e[2] = vector;
	e[3] = masked ? 1 : 0;
}

static void msix_on(int function_mask)
{
	pci_set16(&dev, msix_cap + 2, (uint16_t)(0x8000 | (function_mask ? 0x4000 : 0)));
}

static uint64_t msix_pba(void)
{
	return *(volatile uint64_t *)(msix_bar + 0x800);
}

/* ---- the second vCPU (hyve-apstart) ------------------------------------ */

static volatile int ap_ready;
static struct hyve_ap_start ap_req __attribute__((aligned(8)));
static uint8_t ap_stack[16384] __attribute__((aligned(16)));

static struct descriptor_table_ptr bsp_idt;

void ap_main(void);
void ap_main(void)
{
	/* The BSP's IDT (same selectors: hyve's GDT). */
	lidt(&bsp_idt);
	apic_init();
	ap_ready = 1;
	for (;;)
		safe_halt();
}

__asm__(".text\n\t.globl ap_entry\nap_entry:\n\tcall ap_main\n1:\tcli\n\thlt\n\tjmp 1b\n");
void ap_entry(void);

static void need_ap(void)
{
	uint32_t st;

	if (ap_ready)
		return;
	if (boot_info.ncpus < 2)
		test_skip("needs a second vCPU (-c 2)");
	sidt(&bsp_idt);
	ap_req.magic = HYVE_APSTART_MAGIC;
	ap_req.apic_id = 1;
	ap_req.entry = (uint64_t)(uintptr_t)ap_entry;
	ap_req.stack = (uint64_t)(uintptr_t)(ap_stack + sizeof(ap_stack));
	ap_req.arg = 0;
	ap_req.cr3 = read_cr3();
	outl(HYVE_PORT_APSTART, (uint32_t)(uintptr_t)&ap_req);
	st = inl(HYVE_PORT_APSTART);
	if (st == HYVE_APS_EMODE)
		test_skip("hyve starts APs with INIT/SIPI here (needs -o ap-start=direct)");
	require(st == HYVE_APS_OK, "hyve-apstart refused the AP: status %u", st);
	for (uint64_t t0 = rdtsc(); !ap_ready && rdtsc() - t0 < 4 * WAIT_CYCLES; )
		cpu_relax();
	require(ap_ready, "the AP did not come up");
}

/* ---- configuration space ---------------------------------------------- */

TEST(pci_ids)
{
	find_dev();
	expect_eq(pci_cfg16(&dev, PCI_CFG_VENDOR), HYVE_PCITEST_VENDOR);
	expect_eq(pci_cfg16(&dev, PCI_CFG_DEVICE), HYVE_PCITEST_DEVICE);
	expect_eq(pci_cfg32(&dev, PCI_CFG_REVISION) >> 8, 0xff0000);
	expect_eq(pci_cfg8(&dev, PCI_CFG_HEADER) & 0x7f, 0);
	/* The host bridge at 0:0.0, class 06.00. */
	expect_eq(pci_read32(0, 0, PCI_CFG_REVISION) >> 8, 0x060000);
	/* ECAM shows the same space, byte for byte in the header. */
	for (unsigned off = 0; off < 0x40; off += 4)
		expect(pci_ecam_read32(0, dev.slot, dev.fn, off) == pci_cfg32(&dev, off),
		       "offset 0x%x: ECAM 0x%x, 0xcfc 0x%x", off,
		       pci_ecam_read32(0, dev.slot, dev.fn, off), pci_cfg32(&dev, off));
	/* Narrow reads through 0xcfc-0xcff. */
	expect_eq(pci_cfg8(&dev, PCI_CFG_VENDOR + 1), HYVE_PCITEST_VENDOR >> 8);
	expect_eq(pci_cfg16(&dev, PCI_CFG_DEVICE), HYVE_PCITEST_DEVICE);
}

TEST(pci_ecam_write)
{
	unsigned off;
	uint16_t cmd;

	find_dev();
	/* A write through ECAM is seen through 0xcf8/0xcfc and back. */
	cmd = pci_cfg16(&dev, PCI_CFG_COMMAND);
	pci_ecam_write32(dev.slot, dev.fn, PCI_CFG_COMMAND, cmd | PCI_CMD_MASTER);
	expect(pci_cfg16(&dev, PCI_CFG_COMMAND) & PCI_CMD_MASTER,
	       "bus master set through ECAM is not seen through 0xcfc");
	pci_set16(&dev, PCI_CFG_COMMAND, cmd & (uint16_t)~PCI_CMD_MASTER);
	expect(!(pci_ecam_read32(0, dev.slot, dev.fn, PCI_CFG_COMMAND) & PCI_CMD_MASTER),
	       "bus master cleared through 0xcfc is still set in ECAM");
	/* Read-only fields stay: IDs, class. */
	pci_ecam_write32(dev.slot, dev.fn, PCI_CFG_VENDOR, 0x12345678);
	expect_eq(pci_cfg32(&dev, PCI_CFG_VENDOR), HYVE_PCITEST_DEVICE << 16 | HYVE_PCITEST_VENDOR);
	pci_set32(&dev, PCI_CFG_REVISION, 0);
	expect_eq(pci_cfg32(&dev, PCI_CFG_REVISION) >> 8, 0xff0000);
	/* The interrupt line register is writable scratch. */
	pci_set8(&dev, 0x3c, 0x5a);
	expect_eq(pci_ecam_read32(0, dev.slot, dev.fn, 0x3c) & 0xff, 0x5a);
	/* Extended configuration space (0x100-0xfff) exists through ECAM and
	 * through the extended-register bits of 0xcf8; nothing there. */
	off = 0x100;
	expect_eq(pci_ecam_read32(0, dev.slot, dev.fn, off),
		  pci_cfg32(&dev, off));
}

TEST(pci_absent)
{
	unsigned slot, empty = 32;

	find_dev();
	for (slot = 31; slot > 0; slot--)
		if ((pci_read32(slot, 0, 0) & 0xffff) == 0xffff) {
			empty = slot;
			break;
		}
	require(empty < 32, "no empty slot on bus 0");
	/* An absent device: all-ones at every width, both mechanisms. */
	expect_eq(pci_read32(empty, 0, PCI_CFG_VENDOR), 0xffffffffu);
	expect_eq(pci_read16(empty, 0, PCI_CFG_DEVICE), 0xffff);
	expect_eq(pci_read8(empty, 0, PCI_CFG_HEADER), 0xff);
	expect_eq(pci_read32(empty, 0, PCI_CFG_BAR0), 0xffffffffu);
	expect_eq(pci_ecam_read32(0, empty, 0, PCI_CFG_VENDOR), 0xffffffffu);
	expect_eq(pci_ecam_read32(0, empty, 0, 0x100), 0xffffffffu);
	/* An absent function of a present single-function device. */
	expect_eq(pci_read32(dev.slot, 5, PCI_CFG_VENDOR), 0xffffffffu);
	expect_eq(pci_ecam_read32(0, dev.slot, 7, PCI_CFG_VENDOR), 0xffffffffu);
	/* Other buses do not exist. */
	expect_eq(pci_read32_bus(1, dev.slot, 0, PCI_CFG_VENDOR), 0xffffffffu);
	expect_eq(pci_read32_bus(255, 0, 0, PCI_CFG_VENDOR), 0xffffffffu);
	/* Writes to an absent function go nowhere. */
	pci_write32(empty, 0, PCI_CFG_COMMAND, 0x7);
	pci_ecam_write32(empty, 0, PCI_CFG_BAR0, 0x12345670);
	expect_eq(pci_read32(empty, 0, PCI_CFG_COMMAND), 0xffffffffu);
	expect_eq(pci_read32(empty, 0, PCI_CFG_BAR0), 0xffffffffu);
	/* With the enable bit of 0xcf8 clear, 0xcfc is not a config cycle. */
	outl(HYVE_PORT_PCI_ADDR, (uint32_t)dev.slot << 11);
	expect_eq(inl(HYVE_PORT_PCI_DATA), 0xffffffffu);
}

TEST(pci_bar_sizing)
{
	uint64_t a0, a2;

	find_dev();
	a0 = pci_bar_addr(&dev, 0);
	a2 = pci_bar_addr(&dev, 2);
	expect_eq(pci_bar_kind(&dev, 0), PCI_BAR_MEM32);
	expect_eq(pci_bar_kind(&dev, 2), PCI_BAR_MEM64);
	expect_eq(pci_bar_size(&dev, 0), 4096);
	expect_eq(pci_bar_size(&dev, 2), 4096);
	/* hyve placed them in its windows, aligned. */
	expect(a0 >= HYVE_PCI_MMIO32 && a0 + 4096 <= HYVE_PCI_MMIO32_END && !(a0 & 0xfff),
	       "BAR0 at 0x%lx, outside the 32-bit window", a0);
	expect(a2 >= HYVE_PCI_MMIO64 && a2 + 4096 <= HYVE_PCI_MMIO64_END && !(a2 & 0xfff),
	       "BAR2 at 0x%lx, outside the 64-bit window", a2);
	/* Sizing restored the addresses. */
	expect_eq(pci_bar_addr(&dev, 0), a0);
	expect_eq(pci_bar_addr(&dev, 2), a2);
	/* Unimplemented BARs: 1 (between 0 and the 64-bit 2/3), 4, 5. */
	expect_eq(pci_bar_size(&dev, 1), 0);
	expect_eq(pci_bar_size(&dev, 4), 0);
	expect_eq(pci_bar_size(&dev, 5), 0);
	expect_eq(pci_cfg32(&dev, PCI_CFG_BAR0 + 4), 0);
	/* The address bits below the size are read-only zero. */
	pci_set32(&dev, PCI_CFG_BAR0, (uint32_t)a0 | 0x7f0);
	expect_eq(pci_cfg32(&dev, PCI_CFG_BAR0), a0);
	pci_set32(&dev, PCI_CFG_BAR0, (uint32_t)a0);
}

TEST(pci_bar_move)
{
	uint64_t a0, to;
	volatile uint32_t *r;

	find_dev();
	a0 = pci_bar_addr(&dev, 0);
	pci_enable(&dev, PCI_CMD_MEMORY);
	r = (volatile uint32_t *)(uintptr_t)a0;
	require(r[PCITEST_ID / 4] == HYVE_PCITEST_ID, "BAR0 does not decode at 0x%lx", a0);
	/* Decoding off: the BAR goes away. */
	pci_set16(&dev, PCI_CFG_COMMAND, pci_cfg16(&dev, PCI_CFG_COMMAND) & (uint16_t)~PCI_CMD_MEMORY);
	expect(r[PCITEST_ID / 4] != HYVE_PCITEST_ID, "BAR0 decodes with memory decoding off");
	/* Moved to a free page of the window: it answers there, not at the
	 * old address. */
	to = HYVE_PCI_MMIO32_END - 0x100000;
	pci_set32(&dev, PCI_CFG_BAR0, (uint32_t)to);
	pci_enable(&dev, PCI_CMD_MEMORY);
	expect_eq(pci_bar_addr(&dev, 0), to);
	expect_eq(((volatile uint32_t *)(uintptr_t)to)[PCITEST_ID / 4], HYVE_PCITEST_ID);
	expect(r[PCITEST_ID / 4] != HYVE_PCITEST_ID, "BAR0 still decodes at its old address");
	pci_set32(&dev, PCI_CFG_BAR0, (uint32_t)a0);
	expect_eq(r[PCITEST_ID / 4], HYVE_PCITEST_ID);
}

TEST(pci_caps)
{
	uint16_t ctl;
	unsigned n = 0, at;

	find_dev();
	expect(pci_cfg16(&dev, PCI_CFG_STATUS) & PCI_STATUS_CAPS, "status lacks the capability-list bit");
	msi_cap = pci_find_cap(&dev, PCI_CAP_MSI, 0);
	msix_cap = pci_find_cap(&dev, PCI_CAP_MSIX, 0);
	require(msi_cap, "no MSI capability");
	require(msix_cap, "no MSI-X capability");
	/* Each capability once; the list ends. */
	expect_eq(pci_find_cap(&dev, PCI_CAP_MSI, msi_cap), 0);
	expect_eq(pci_find_cap(&dev, PCI_CAP_MSIX, msix_cap), 0);
	for (at = pci_cfg8(&dev, PCI_CFG_CAP_PTR); at && n < 48; at = pci_cfg8(&dev, at + 1)) {
		expect(at >= 0x40 && !(at & 3), "capability at 0x%x", at);
		n++;
	}
	expect_eq(n, 2);
	/* MSI: 64-bit, per-vector masking, 32 vectors capable, off. */
	ctl = pci_cfg16(&dev, msi_cap + 2);
	expect(ctl & 0x80, "MSI is not 64-bit capable (control 0x%x)", ctl);
	expect(ctl & 0x100, "MSI lacks per-vector masking (control 0x%x)", ctl);
	expect_eq((ctl >> 1) & 7, 5);
	expect_eq(ctl & 1, 0);
	/* MSI-X: 32 entries, table and PBA in BAR2. */
	ctl = pci_cfg16(&dev, msix_cap + 2);
	expect_eq(ctl & 0x7ff, NVEC - 1);
	expect_eq(ctl & 0xc000, 0);
	expect_eq(pci_cfg32(&dev, msix_cap + 4), 0x000 | 2);
	expect_eq(pci_cfg32(&dev, msix_cap + 8), 0x800 | 2);
	/* The table size and locations are read-only. */
	pci_set16(&dev, msix_cap + 2, 0x3ff);
	expect_eq(pci_cfg16(&dev, msix_cap + 2) & 0x7ff, NVEC - 1);
	pci_set32(&dev, msix_cap + 4, 0x1003);
	expect_eq(pci_cfg32(&dev, msix_cap + 4), 2);
	/* Multiple Message Enable keeps only its 3 bits. */
	pci_set16(&dev, msi_cap + 2, 0x70);
	expect_eq(pci_cfg16(&dev, msi_cap + 2) & 0x70, 0x70);
	pci_set16(&dev, msi_cap + 2, 0);
}

/* ---- MSI ---------------------------------------------------------------- */

/* n vectors: each arrives once, with its own number, on CPU 0. */
static void msi_vectors(unsigned n)
{
	setup();
	msi_on(n, 0);
	for (unsigned v = 0; v < n; v++) {
		uint32_t before = total_hits();

		raise(v);
		if (!wait_for(&hits[VBASE + v][0], 1)) {
			test_fail("MSI %u of %u did not arrive at vector 0x%x", v, n, VBASE + v);
			continue;
		}
		settle();
		expect(total_hits() == before + 1,
		       "MSI %u of %u: %u deliveries, expected 1", v, n, total_hits() - before);
	}
	for (unsigned v = 0; v < NVEC; v++) {
		expect(hits[VBASE + v][0] == (v < n),
		       "vector 0x%x: %u deliveries, expected %u", VBASE + v,
		       hits[VBASE + v][0], v < n);
		expect(hits[VBASE + v][1] == 0, "vector 0x%x arrived on CPU 1", VBASE + v);
	}
	/* A vector beyond those enabled is not sent. */
	if (n < NVEC) {
		raise(n);
		settle();
		expect(total_hits() == n, "vector %u of %u was delivered", n, n);
	}
	expect_eq(delivered(), n);
	expect_eq(raised(), n < NVEC ? n + 1 : n);
}

TEST(msi_1) { msi_vectors(1); }
TEST(msi_2) { msi_vectors(2); }
TEST(msi_4) { msi_vectors(4); }
TEST(msi_8) { msi_vectors(8); }
TEST(msi_16) { msi_vectors(16); }
TEST(msi_32) { msi_vectors(32); }

TEST(msi_data_bits)
{
	/* With 8 vectors the low 3 data bits are the device's: a base with
	 * those bits set is overridden, the bits above kept. */
	setup();
	msi_on(8, 0);
	pci_set16(&dev, msi_cap + 12, VBASE | 7);
	raise(2);
	expect(wait_for(&hits[VBASE + 2][0], 1), "vector 2 did not arrive at 0x%x", VBASE + 2);
	settle();
	expect_eq(total_hits(), 1);
	/* Asking for more than capable: hyve grants 32 at most (MME 6, 7 are
	 * reserved); raising vector 31 is then allowed. */
	pci_set16(&dev, msi_cap + 12, VBASE);
	pci_set16(&dev, msi_cap + 2, 6 << 4 | 1);
	raise(31);
	expect(wait_for(&hits[VBASE + 31][0], 1), "vector 31 with MME 6 did not arrive");
}

TEST(msi_disabled)
{
	setup();
	/* Programmed but not enabled: nothing is sent. */
	pci_set32(&dev, msi_cap + 4, MSI_ADDR(0));
	pci_set16(&dev, msi_cap + 12, VBASE);
	raise(0);
	settle();
	expect_eq(total_hits(), 0);
	expect_eq(delivered(), 0);
	expect_eq(raised(), 1);
	/* Out-of-range vector numbers are ignored by the device. */
	msi_on(1, 0);
	raise(NVEC);
	raise(0xffffffffu);
	settle();
	expect_eq(total_hits(), 0);
	expect_eq(raised(), 1);
}

TEST(msi_mask)
{
	setup();
	msi_on(8, 0);
	/* Mask vector 3; raise it twice and vector 4 once. */
	pci_set32(&dev, msi_cap + 16, 1u << 3);
	raise(3);
	raise(3);
	raise(4);
	expect(wait_for(&hits[VBASE + 4][0], 1), "unmasked vector 4 did not arrive");
	settle();
	expect_eq(hits[VBASE + 3][0], 0);
	expect_eq(pci_cfg32(&dev, msi_cap + 20), 1u << 3);
	/* The pending bits are read-only. */
	pci_set32(&dev, msi_cap + 20, 0);
	expect_eq(pci_cfg32(&dev, msi_cap + 20), 1u << 3);
	expect_eq(pci_cfg32(&dev, msi_cap + 16), 1u << 3);
	/* Unmask: delivered exactly once, pending cleared. */
	pci_set32(&dev, msi_cap + 16, 0);
	expect(wait_for(&hits[VBASE + 3][0], 1), "vector 3 not delivered on unmask");
	settle();
	expect_eq(hits[VBASE + 3][0], 1);
	expect_eq(pci_cfg32(&dev, msi_cap + 20), 0);
	expect_eq(total_hits(), 2);
	/* Unmasked now: straight through. */
	raise(3);
	expect(wait_for(&hits[VBASE + 3][0], 2), "vector 3 not delivered after unmask");
	settle();
	expect_eq(total_hits(), 3);
}

TEST(msi_cpu1)
{
	setup();
	need_ap();
	msi_on(4, 1);
	for (unsigned v = 0; v < 4; v++)
		raise(v);
	for (unsigned v = 0; v < 4; v++) {
		expect(wait_for(&hits[VBASE + v][1], 1), "vector 0x%x did not arrive on CPU 1",
		       VBASE + v);
		expect(hits[VBASE + v][0] == 0, "vector 0x%x arrived on CPU 0", VBASE + v);
	}
	settle();
	expect_eq(total_hits(), 4);
	/* Back to CPU 0 by rewriting the address. */
	pci_set32(&dev, msi_cap + 4, MSI_ADDR(0));
	raise(1);
	expect(wait_for(&hits[VBASE + 1][0], 1), "vector 0x%x did not arrive on CPU 0", VBASE + 1);
	settle();
	expect_eq(total_hits(), 5);
}

/* ---- MSI-X -------------------------------------------------------------- */

TEST(msix_vectors)
{
	setup();
	for (unsigned v = 0; v < NVEC; v++)
		msix_set(v, 0, 0x80 + (NVEC - 1 - v), 0);      /* reversed order */
	msix_on(0);
	/* MSI-X wins over MSI when both are enabled. */
	msi_on(32, 0);
	for (unsigned v = 0; v < NVEC; v++) {
		unsigned want = 0x80 + (NVEC - 1 - v);

		raise(v);
		expect(wait_for(&hits[want][0], 1), "MSI-X entry %u did not arrive at 0x%x", v, want);
	}
	settle();
	expect_eq(total_hits(), NVEC);
	for (unsigned v = 0; v < NVEC; v++)
		expect(hits[VBASE + v][0] == 0, "MSI vector 0x%x fired with MSI-X on", VBASE + v);
	/* The table reads back what was written. */
	expect_eq(msix_entry(5)[0], MSI_ADDR(0));
	expect_eq(msix_entry(5)[2], 0x80 + NVEC - 1 - 5);
	expect_eq(msix_entry(5)[3], 0);
	expect_eq(delivered(), NVEC);
}

TEST(msix_vector_mask)
{
	setup();
	msix_set(7, 0, 0x90, 1);
	msix_on(0);
	raise(7);
	raise(7);
	settle();
	expect_eq(hits[0x90][0], 0);
	expect_eq(msix_pba(), 1ull << 7);
	/* The PBA is read-only. */
	*(volatile uint64_t *)(msix_bar + 0x800) = 0;
	expect_eq(msix_pba(), 1ull << 7);
	/* Reserved vector-control bits read 0. */
	msix_entry(7)[3] = 0xfffffff1u & ~0u;
	expect_eq(msix_entry(7)[3], 1);
	/* Unmask: once, and the pending bit clears. */
	msix_entry(7)[3] = 0;
	expect(wait_for(&hits[0x90][0], 1), "entry 7 not delivered on unmask");
	settle();
	expect_eq(hits[0x90][0], 1);
	expect_eq(total_hits(), 1);
	expect_eq(msix_pba(), 0);
	raise(7);
	expect(wait_for(&hits[0x90][0], 2), "entry 7 not delivered when unmasked");
}

TEST(msix_function_mask)
{
	setup();
	for (unsigned v = 0; v < 4; v++)
		msix_set(v, 0, 0xa0 + v, 0);
	msix_on(1);
	for (unsigned v = 0; v < 4; v++)
		raise(v);
	settle();
	expect_eq(total_hits(), 0);
	expect_eq(msix_pba(), 0xf);
	/* A vector masked on its own stays pending past the function unmask. */
	msix_entry(2)[3] = 1;
	msix_on(0);
	for (unsigned v = 0; v < 4; v++)
		if (v != 2)
			expect(wait_for(&hits[0xa0 + v][0], 1), "entry %u not delivered on function unmask", v);
	settle();
	expect_eq(total_hits(), 3);
	expect_eq(msix_pba(), 1ull << 2);
	msix_entry(2)[3] = 0;
	expect(wait_for(&hits[0xa2][0], 1), "entry 2 not delivered on its unmask");
	settle();
	expect_eq(total_hits(), 4);
	expect_eq(msix_pba(), 0);
}

TEST(msix_retarget)
{
	setup();
	msix_set(5, 0, 0xb0, 0);
	msix_on(0);
	raise(5);
	expect(wait_for(&hits[0xb0][0], 1), "entry 5 did not arrive at 0xb0");
	/* A new vector number, written while unmasked. */
	msix_entry(5)[2] = 0xb1;
	raise(5);
	expect(wait_for(&hits[0xb1][0], 1), "entry 5 did not arrive at its new vector 0xb1");
	/* The usual way: mask, rewrite, unmask. */
	msix_entry(5)[3] = 1;
	msix_entry(5)[2] = 0xb2;
	msix_entry(5)[3] = 0;
	raise(5);
	expect(wait_for(&hits[0xb2][0], 1), "entry 5 did not arrive at 0xb2");
	settle();
	expect_eq(hits[0xb0][0], 1);
	expect_eq(hits[0xb1][0], 1);
	expect_eq(hits[0xb2][0], 1);
	expect_eq(total_hits(), 3);
	/* An address outside the APICs' window is a memory write. */
	{
		static volatile uint32_t word __attribute__((aligned(16)));

		word = 0;
		msix_entry(5)[0] = (uint32_t)(uintptr_t)&word;
		msix_entry(5)[2] = 0x5eed;
		raise(5);
		settle();
		expect_eq(word, 0x5eed);
		expect_eq(total_hits(), 3);
	}
}

TEST(msix_cpu1)
{
	setup();
	need_ap();
	msix_set(0, 1, 0xc0, 0);
	msix_set(1, 0, 0xc1, 0);
	msix_on(0);
	raise(0);
	raise(1);
	expect(wait_for(&hits[0xc0][1], 1), "entry 0 did not arrive on CPU 1");
	expect(wait_for(&hits[0xc1][0], 1), "entry 1 did not arrive on CPU 0");
	/* Retarget entry 1 to CPU 1 and entry 0 to CPU 0. */
	msix_entry(1)[3] = 1;
	msix_entry(1)[0] = MSI_ADDR(1);
	msix_entry(1)[3] = 0;
	msix_entry(0)[0] = MSI_ADDR(0);
	raise(0);
	raise(1);
	expect(wait_for(&hits[0xc0][0], 1), "entry 0 did not arrive on CPU 0 after retargeting");
	expect(wait_for(&hits[0xc1][1], 1), "entry 1 did not arrive on CPU 1 after retargeting");
	settle();
	expect_eq(total_hits(), 4);
}

/* ---- storm -------------------------------------------------------------- */

static unsigned long cmdline_num(const char *key, unsigned long dflt)
{
	char val[24];
	unsigned long n = 0;

	if (!cmdline_get(key, val, sizeof(val)) || !val[0])
		return dflt;
	for (const char *p = val; *p; p++) {
		if (*p < '0' || *p > '9')
			test_abort("%s=%s is not a number", key, val);
		n = n * 10 + (unsigned long)(*p - '0');
	}
	return n;
}

/* One message at a time with interrupts on, round-robin over the 32
 * MSI-X vectors: each must arrive before the next is raised, so none can
 * merge with another and every one must be counted. */
TEST(msi_storm)
{
	unsigned long want = cmdline_num("storm", 100000), sent;
	uint64_t t0, cycles;
	uint32_t per[NVEC];

	setup();
	for (unsigned v = 0; v < NVEC; v++) {
		irq_install(VBASE + v, on_storm);
		msix_set(v, 0, VBASE + v, 0);
	}
	msix_on(0);
	storm_hits = 0;
	for (unsigned v = 0; v < NVEC; v++)
		per[v] = (uint32_t)irq_count(VBASE + v);
	t0 = rdtsc();
	irq_enable();
	for (sent = 0; sent < want; sent++) {
		uint64_t t1 = rdtsc();

		raise((unsigned)(sent % NVEC));
		while (storm_hits <= sent && rdtsc() - t1 < WAIT_CYCLES)
			cpu_relax();
		if (storm_hits <= sent)
			break;
	}
	irq_disable();
	cycles = rdtsc() - t0;
	settle();
	test_info("storm_interrupts", storm_hits);
	test_info("storm_cycles_per_interrupt", storm_hits ? cycles / storm_hits : 0);
	expect(sent == want, "message %lu (vector 0x%lx) did not arrive", sent,
	       VBASE + sent % NVEC);
	expect_eq(storm_hits, want);
	expect_eq(raised(), want);
	expect_eq(delivered(), want);
	for (unsigned v = 0; v < NVEC; v++) {
		uint32_t got = (uint32_t)irq_count(VBASE + v) - per[v];
		uint32_t exp = (uint32_t)(want / NVEC + (v < want % NVEC));

		expect(got == exp, "vector 0x%x: %u deliveries, expected %u", VBASE + v, got, exp);
	}
}

/* Bursts: all 32 vectors raised back to back with interrupts off, then
 * taken together: 32 distinct vectors pending at once, none lost. */
TEST(msix_burst)
{
	unsigned rounds = (unsigned)cmdline_num("bursts", 16);

	setup();
	for (unsigned v = 0; v < NVEC; v++) {
		irq_install(VBASE + v, on_storm);
		msix_set(v, 0, VBASE + v, 0);
	}
	msix_on(0);
	storm_hits = 0;
	for (unsigned r = 0; r < rounds; r++) {
		for (unsigned v = 0; v < NVEC; v++)
			raise(v);
		if (!wait_for(&storm_hits, (r + 1) * NVEC))
			test_abort("round %u: %u of %u messages arrived", r, storm_hits,
				   (r + 1) * NVEC);
	}
	settle();
	expect_eq(storm_hits, rounds * NVEC);
	expect_eq(delivered(), rounds * NVEC);
}

/* ---- acknowledgements and DMA ------------------------------------------ */

TEST(pcitest_ack)
{
	setup();
	expect_eq(regs[PCITEST_ACK / 4], 0);
	for (unsigned i = 0; i < 5; i++)
		regs[PCITEST_ACK / 4] = 0;
	expect_eq(regs[PCITEST_ACK / 4], 5);
	/* Registers outside the list read 0; the ID is read-only. */
	expect_eq(regs[0x100 / 4], 0);
	regs[PCITEST_ID / 4] = 0;
	expect_eq(regs[PCITEST_ID / 4], HYVE_PCITEST_ID);
}

static uint8_t dma_buf[65536 + 64] __attribute__((aligned(4096)));

static uint32_t dma(uint64_t gpa, uint32_t len, uint32_t seed)
{
	regs[PCITEST_DMA_LO / 4] = (uint32_t)gpa;
	regs[PCITEST_DMA_HI / 4] = (uint32_t)(gpa >> 32);
	regs[PCITEST_DMA_LEN / 4] = len;
	regs[PCITEST_DMA_SEED / 4] = seed;
	regs[PCITEST_DMA_GO / 4] = 1;
	return regs[PCITEST_DMA_GO / 4];
}

static unsigned pattern_errors(const uint8_t *p, uint32_t len, uint32_t seed)
{
	unsigned bad = 0;

	for (uint32_t i = 0; i < len; i++)
		bad += p[i] != (uint8_t)(seed + i);
	return bad;
}

TEST(dma_to_ram)
{
	uint64_t base = (uint64_t)(uintptr_t)dma_buf;

	setup();
	memset(dma_buf, 0xee, sizeof(dma_buf));
	expect_eq(dma(base + 16, 65536, 0x37), 0);
	expect_eq(pattern_errors(dma_buf + 16, 65536, 0x37), 0);
	/* Not a byte around it. */
	for (unsigned i = 0; i < 16; i++)
		expect(dma_buf[i] == 0xee && dma_buf[16 + 65536 + i] == 0xee,
		       "DMA wrote outside its buffer");
	/* Read-back of the registers. */
	expect_eq(regs[PCITEST_DMA_LO / 4], (uint32_t)(base + 16));
	expect_eq(regs[PCITEST_DMA_LEN / 4], 65536);
	expect_eq(regs[PCITEST_DMA_SEED / 4], 0x37);
	/* One byte, odd address. */
	expect_eq(dma(base + 3, 1, 0xa0), 0);
	expect_eq(dma_buf[3], 0xa0);
	expect_eq(dma_buf[4], 0xee);
	expect_eq(dma_buf[16], 0x37);
}

TEST(dma_refused)
{
	uint64_t base = (uint64_t)(uintptr_t)dma_buf, end = boot_info.mem_lo;

	setup();
	memset(dma_buf, 0xee, sizeof(dma_buf));
	/* Past the end of RAM, straddling it, in MMIO, above 4 GiB with no
	 * RAM there: refused. */
	require(end < HYVE_MMIO_HOLE_START && boot_info.mem_hi == 0,
		"run with less than 3 GiB of RAM");
	expect_eq(dma(end, 16, 1), 1);
	expect_eq(dma(end - 8, 16, 1), 1);
	expect_eq(dma(HYVE_SCRATCH_MMIO, 16, 1), 1);
	expect_eq(dma(HYVE_PCI_MMIO32, 16, 1), 1);
	expect_eq(dma(HYVE_HIGHMEM_START, 16, 1), 1);
	expect_eq(dma(0xfffffffffffffff0ull, 32, 1), 1);
	/* More than 1 MiB. */
	expect_eq(dma(0x200000, (1u << 20) + 1, 1), 1);
	/* Bus mastering off. */
	pci_set16(&dev, PCI_CFG_COMMAND, pci_cfg16(&dev, PCI_CFG_COMMAND) & (uint16_t)~PCI_CMD_MASTER);
	expect_eq(dma(base, 16, 1), 1);
	for (unsigned i = 0; i < 64; i++)
		expect(dma_buf[i] == 0xee, "a refused DMA wrote the buffer");
	/* The last bytes of RAM and exactly 1 MiB are fine. */
	pci_enable(&dev, PCI_CMD_MASTER);
	expect_eq(dma(base, 16, 9), 0);
	expect_eq(pattern_errors(dma_buf, 16, 9), 0);
	expect_eq(dma(end - 16, 16, 5), 0);
	expect_eq(pattern_errors((const uint8_t *)(uintptr_t)(end - 16), 16, 5), 0);
	/* Exactly 1 MiB: checked at its ends and one byte in every 256 in
	 * between (a full check takes seconds of guest time here). */
	{
		const uint8_t *p = (const uint8_t *)(uintptr_t)(end - (1u << 20));
		unsigned bad = 0;

		expect_eq(dma(end - (1u << 20), 1u << 20, 0x11), 0);
		expect_eq(pattern_errors(p, 4096, 0x11), 0);
		expect_eq(pattern_errors(p + (1u << 20) - 4096, 4096, 0x11 + (1u << 20) - 4096), 0);
		for (uint32_t i = 0; i < (1u << 20); i += 257)
			bad += p[i] != (uint8_t)(0x11 + i);
		expect(bad == 0, "%u sampled bytes of the 1 MiB DMA differ", bad);
	}
}
