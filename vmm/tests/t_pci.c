/* PCI: configuration mechanisms, BAR sizing and decoding, capability list,
 * MSI and MSI-X masking.  Messages are aimed at guest RAM (not the APIC
 * window), where a message is a plain memory write the test can observe;
 * the irqfd cases give the fake VM a real KVM VM (no vCPUs) and watch the
 * vectors' eventfds and routes instead. */
#include <atf-c.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/pci_regs.h>

#include "devices/device.h"
#include "devices/pci/pci.h"
#include "vmm/abi.h"
#include "vmm/tests/fakevm.h"
#include "vmm/vm.h"

#define RAM (4u << 20)
#define MSG_AT 0x10000u         /* where test messages land */

static struct vm *
mkvm(void)
{
	struct vm *vm = fakevm_new(RAM, 0);
	char err[200];
	ATF_REQUIRE(vm != NULL);
	ATF_REQUIRE_EQ(fakevm_add(vm, "hostbridge", NULL, NULL, err,
	    sizeof(err)), 0);
	int r = fakevm_add(vm, "pcitest", "3", NULL, err, sizeof(err));
	ATF_REQUIRE_MSG(r == 0, "%s", err);
	return vm;
}


static struct vcpu cpu;

static uint32_t
cfg_rd(struct vm *vm, unsigned slot, unsigned off, unsigned len)
{
	uint32_t a = 0x80000000u | slot << 11 | (off & 0xfc), v = 0;
	cpu.vm = vm;
	ATF_REQUIRE_EQ(bus_access(&vm->pio, &cpu, 0xcf8, (uint8_t *)&a, 4, true), 0);
	ATF_REQUIRE_EQ(bus_access(&vm->pio, &cpu, 0xcfc + (off & 3),
	    (uint8_t *)&v, len, false), 0);
	return v;
}

static void
cfg_wr(struct vm *vm, unsigned slot, unsigned off, unsigned len, uint32_t v)
{
	uint32_t a = 0x80000000u | slot << 11 | (off & 0xfc);
	cpu.vm = vm;
	ATF_REQUIRE_EQ(bus_access(&vm->pio, &cpu, 0xcf8, (uint8_t *)&a, 4, true), 0);
	ATF_REQUIRE_EQ(bus_access(&vm->pio, &cpu, 0xcfc + (off & 3),
	    (uint8_t *)&v, len, true), 0);
}

static uint32_t
ecam_rd(struct vm *vm, unsigned slot, unsigned off)
{
	uint32_t v = 0;
	cpu.vm = vm;
	ATF_REQUIRE_EQ(bus_access(&vm->mmio, &cpu, HYVE_PCI_ECAM +
	    (slot << 15) + off, (uint8_t *)&v, 4, false), 0);
	return v;
}

ATF_TC_WITHOUT_HEAD(config_space);
ATF_TC_BODY(config_space, tc)
{
	struct vm *vm = mkvm();
	ATF_CHECK_EQ(cfg_rd(vm, 0, 0, 4), 0x00081b36u);         /* host bridge */
	ATF_CHECK_EQ(cfg_rd(vm, 0, PCI_CLASS_DEVICE, 2), 0x0600);
	ATF_CHECK_EQ(cfg_rd(vm, 3, 0, 4),
	    (uint32_t)HYVE_PCITEST_DEVICE << 16 | HYVE_PCITEST_VENDOR);
	ATF_CHECK_EQ(ecam_rd(vm, 3, 0), cfg_rd(vm, 3, 0, 4));
	ATF_CHECK_EQ(cfg_rd(vm, 7, 0, 4), 0xffffffffu);         /* absent */
	ATF_CHECK_EQ(cfg_rd(vm, 3, 2, 2), HYVE_PCITEST_DEVICE); /* byte lanes */
	/* Read-only fields ignore writes. */
	cfg_wr(vm, 3, 0, 4, 0x12345678);
	ATF_CHECK_EQ(cfg_rd(vm, 3, 0, 2), HYVE_PCITEST_VENDOR);
	/* Capability list: MSI-X first (added last), then MSI. */
	ATF_CHECK(cfg_rd(vm, 3, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	unsigned p = cfg_rd(vm, 3, PCI_CAPABILITY_LIST, 1);
	int seen_msi = 0, seen_msix = 0, n = 0;
	while (p != 0 && n++ < 48) {
		unsigned id = cfg_rd(vm, 3, p, 1);
		seen_msi += id == PCI_CAP_ID_MSI;
		seen_msix += id == PCI_CAP_ID_MSIX;
		p = cfg_rd(vm, 3, p + 1, 1);
	}
	ATF_CHECK(seen_msi == 1 && seen_msix == 1);
	/* Address register without the enable bit: no config cycle. */
	uint32_t a = 3u << 11, v;
	ATF_REQUIRE_EQ(bus_access(&vm->pio, &cpu, 0xcf8, (uint8_t *)&a, 4, true), 0);
	ATF_REQUIRE_EQ(bus_access(&vm->pio, &cpu, 0xcfc, (uint8_t *)&v, 4, false), 0);
	ATF_CHECK_EQ(v, 0xffffffffu);
	fakevm_free(vm);
}

ATF_TC_WITHOUT_HEAD(bar_sizing_and_decode);
ATF_TC_BODY(bar_sizing_and_decode, tc)
{
	struct vm *vm = mkvm();
	uint32_t bar0 = cfg_rd(vm, 3, PCI_BASE_ADDRESS_0, 4);
	ATF_CHECK(bar0 >= HYVE_PCI_MMIO32 && bar0 < HYVE_PCI_MMIO32_END);
	cfg_wr(vm, 3, PCI_BASE_ADDRESS_0, 4, 0xffffffffu);
	ATF_CHECK_EQ(cfg_rd(vm, 3, PCI_BASE_ADDRESS_0, 4), 0xfffff000u);
	cfg_wr(vm, 3, PCI_BASE_ADDRESS_0, 4, bar0);
	/* 64-bit BAR2 */
	ATF_CHECK_EQ(cfg_rd(vm, 3, PCI_BASE_ADDRESS_2, 4) & 6, 4);
	ATF_CHECK_EQ(cfg_rd(vm, 3, PCI_BASE_ADDRESS_3, 4),
	    (uint32_t)(HYVE_PCI_MMIO64 >> 32));
	/* Decoding off: nothing at the BAR. */
	uint32_t id = 0;
	ATF_CHECK_EQ(bus_access(&vm->mmio, &cpu, bar0, (uint8_t *)&id, 4, false),
	    -ENOENT);
	cfg_wr(vm, 3, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	ATF_CHECK_EQ(bus_access(&vm->mmio, &cpu, bar0, (uint8_t *)&id, 4, false), 0);
	ATF_CHECK_EQ(id, HYVE_PCITEST_ID);
	/* Moving the BAR moves the decode. */
	cfg_wr(vm, 3, PCI_BASE_ADDRESS_0, 4, 0xd0000000u);
	ATF_CHECK_EQ(bus_access(&vm->mmio, &cpu, bar0, (uint8_t *)&id, 4, false),
	    -ENOENT);
	ATF_CHECK_EQ(bus_access(&vm->mmio, &cpu, 0xd0000000u, (uint8_t *)&id, 4,
	    false), 0);
	/* Onto RAM: refused, not decoded. */
	cfg_wr(vm, 3, PCI_BASE_ADDRESS_0, 4, 0x1000);
	ATF_CHECK_EQ(bus_access(&vm->mmio, &cpu, 0xd0000000u, (uint8_t *)&id, 4,
	    false), -ENOENT);
	fakevm_free(vm);
}

static uint32_t
reg_rw(struct vm *vm, unsigned off, uint32_t v, bool write)
{
	uint32_t bar0 = cfg_rd(vm, 3, PCI_BASE_ADDRESS_0, 4) & ~15u;
	ATF_REQUIRE_EQ(bus_access(&vm->mmio, &cpu, bar0 + off, (uint8_t *)&v, 4,
	    write), 0);
	return v;
}

static unsigned
cap_of(struct vm *vm, unsigned id)
{
	for (unsigned p = cfg_rd(vm, 3, PCI_CAPABILITY_LIST, 1); p;
	    p = cfg_rd(vm, 3, p + 1, 1))
		if (cfg_rd(vm, 3, p, 1) == id)
			return p;
	atf_tc_fail("capability %u missing", id);
	return 0;
}

static uint32_t
landed(struct vm *vm)
{
	uint32_t v;
	memcpy(&v, vm->mem.lo + MSG_AT, 4);
	memset(vm->mem.lo + MSG_AT, 0, 4);
	return v;
}

ATF_TC_WITHOUT_HEAD(msi_multivector_and_masking);
ATF_TC_BODY(msi_multivector_and_masking, tc)
{
	struct vm *vm = mkvm();
	cfg_wr(vm, 3, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	unsigned m = cap_of(vm, PCI_CAP_ID_MSI);
	ATF_CHECK_EQ((cfg_rd(vm, 3, m + PCI_MSI_FLAGS, 2) >> 1) & 7, 5); /* 32 */
	cfg_wr(vm, 3, m + PCI_MSI_ADDRESS_LO, 4, MSG_AT);
	cfg_wr(vm, 3, m + PCI_MSI_ADDRESS_HI, 4, 0);
	cfg_wr(vm, 3, m + PCI_MSI_DATA_64, 2, 0x40);
	/* Disabled: nothing is sent. */
	reg_rw(vm, PCITEST_RAISE, 0, true);
	ATF_CHECK_EQ(landed(vm), 0);
	/* Enable with 8 messages: vector 5 carries data 0x45. */
	cfg_wr(vm, 3, m + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE | (3 << 4));
	reg_rw(vm, PCITEST_RAISE, 5, true);
	ATF_CHECK_EQ(landed(vm), 0x45);
	/* Vector 9 does not exist with 8 messages enabled. */
	reg_rw(vm, PCITEST_RAISE, 9, true);
	ATF_CHECK_EQ(landed(vm), 0);
	/* Masked: held pending, delivered exactly once on unmask. */
	cfg_wr(vm, 3, m + PCI_MSI_MASK_64, 4, 1u << 2);
	reg_rw(vm, PCITEST_RAISE, 2, true);
	ATF_CHECK_EQ(landed(vm), 0);
	ATF_CHECK_EQ(cfg_rd(vm, 3, m + PCI_MSI_PENDING_64, 4), 1u << 2);
	cfg_wr(vm, 3, m + PCI_MSI_PENDING_64, 4, 0);    /* read-only */
	ATF_CHECK_EQ(cfg_rd(vm, 3, m + PCI_MSI_PENDING_64, 4), 1u << 2);
	cfg_wr(vm, 3, m + PCI_MSI_MASK_64, 4, 0);
	ATF_CHECK_EQ(landed(vm), 0x42);
	ATF_CHECK_EQ(cfg_rd(vm, 3, m + PCI_MSI_PENDING_64, 4), 0);
	cfg_wr(vm, 3, m + PCI_MSI_MASK_64, 4, 0);
	ATF_CHECK_EQ(landed(vm), 0);                    /* only once */
	fakevm_free(vm);
}

ATF_TC_WITHOUT_HEAD(msix_table_and_masks);
ATF_TC_BODY(msix_table_and_masks, tc)
{
	struct vm *vm = mkvm();
	uint64_t bar2 = (cfg_rd(vm, 3, PCI_BASE_ADDRESS_2, 4) & ~15u) |
	    (uint64_t)cfg_rd(vm, 3, PCI_BASE_ADDRESS_3, 4) << 32;
	cfg_wr(vm, 3, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	unsigned x = cap_of(vm, PCI_CAP_ID_MSIX);
	ATF_CHECK_EQ(cfg_rd(vm, 3, x + PCI_MSIX_FLAGS, 2) & 0x7ff, 31);
	/* Entry 7: address, data, unmasked. */
	uint64_t addr = MSG_AT;
	uint32_t data = 0x77, ctl = 0;
	ATF_REQUIRE_EQ(bus_access(&vm->mmio, &cpu, bar2 + 7 * 16, (uint8_t *)&addr,
	    8, true), 0);
	ATF_REQUIRE_EQ(bus_access(&vm->mmio, &cpu, bar2 + 7 * 16 + 8,
	    (uint8_t *)&data, 4, true), 0);
	ATF_REQUIRE_EQ(bus_access(&vm->mmio, &cpu, bar2 + 7 * 16 + 12,
	    (uint8_t *)&ctl, 4, true), 0);
	/* Function mask set while enabling: pending, then sent on unmask. */
	cfg_wr(vm, 3, x + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE |
	    PCI_MSIX_FLAGS_MASKALL);
	reg_rw(vm, PCITEST_RAISE, 7, true);
	ATF_CHECK_EQ(landed(vm), 0);
	uint64_t pba = 0;
	ATF_REQUIRE_EQ(bus_access(&vm->mmio, &cpu, bar2 + 0x800, (uint8_t *)&pba,
	    8, false), 0);
	ATF_CHECK_EQ(pba, 1ull << 7);
	cfg_wr(vm, 3, x + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	ATF_CHECK_EQ(landed(vm), 0x77);
	/* Vector mask: pending, and once on unmask. */
	ctl = 1;
	bus_access(&vm->mmio, &cpu, bar2 + 7 * 16 + 12, (uint8_t *)&ctl, 4, true);
	reg_rw(vm, PCITEST_RAISE, 7, true);
	reg_rw(vm, PCITEST_RAISE, 7, true);
	ATF_CHECK_EQ(landed(vm), 0);
	ctl = 0;
	bus_access(&vm->mmio, &cpu, bar2 + 7 * 16 + 12, (uint8_t *)&ctl, 4, true);
	ATF_CHECK_EQ(landed(vm), 0x77);
	ATF_CHECK_EQ(reg_rw(vm, PCITEST_DELIVERED, 0, false), 2);
	/* Table writes take effect: new data. */
	data = 0x99;
	bus_access(&vm->mmio, &cpu, bar2 + 7 * 16 + 8, (uint8_t *)&data, 4, true);
	reg_rw(vm, PCITEST_RAISE, 7, true);
	ATF_CHECK_EQ(landed(vm), 0x99);
	/* A masked-by-default entry never fires. */
	reg_rw(vm, PCITEST_RAISE, 8, true);
	ATF_CHECK_EQ(landed(vm), 0);
	/* Misaligned and 2-byte table accesses are refused. */
	uint16_t h = 0;
	ATF_CHECK(bus_access(&vm->mmio, &cpu, bar2 + 2, (uint8_t *)&h, 2, true) < 0);
	fakevm_free(vm);
}

static uint32_t
dma_go(struct vm *vm)
{
	reg_rw(vm, PCITEST_DMA_GO, 1, true);
	return reg_rw(vm, PCITEST_DMA_GO, 0, false);
}

ATF_TC_WITHOUT_HEAD(dma_checked);
ATF_TC_BODY(dma_checked, tc)
{
	struct vm *vm = mkvm();
	cfg_wr(vm, 3, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	reg_rw(vm, PCITEST_DMA_LO, 0x20000, true);
	reg_rw(vm, PCITEST_DMA_LEN, 256, true);
	reg_rw(vm, PCITEST_DMA_SEED, 7, true);
	/* No bus mastering: refused. */
	ATF_CHECK_EQ(dma_go(vm), 1);
	ATF_CHECK_EQ(vm->mem.lo[0x20000], 0);
	cfg_wr(vm, 3, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	ATF_CHECK_EQ(dma_go(vm), 0);
	ATF_CHECK_EQ(vm->mem.lo[0x20000], 7);
	ATF_CHECK_EQ(vm->mem.lo[0x200ff], (uint8_t)(7 + 255));
	ATF_CHECK_EQ(vm->mem.lo[0x20100], 0);
	/* Straddling the end of RAM, or far outside: refused, nothing written. */
	reg_rw(vm, PCITEST_DMA_LO, RAM - 16, true);
	ATF_CHECK_EQ(dma_go(vm), 1);
	ATF_CHECK_EQ(vm->mem.lo[RAM - 16], 0);
	reg_rw(vm, PCITEST_DMA_HI, 0x100, true);
	ATF_CHECK_EQ(dma_go(vm), 1);
	fakevm_free(vm);
}

/* ---- irqfd routes ------------------------------------------------------ */

/* The fake VM with a KVM VM behind it (for routes and irqfds only). */
static struct vm *
mkvm_kvm(void)
{
	if (hv_open() < 0 || !hv_has_irqfd())
		atf_tc_skip("no /dev/kvm with irqfds and GSI routing");
	struct vm *vm = mkvm();
	ATF_REQUIRE_EQ(hv_vm_create(&vm->hv), 0);
	ATF_REQUIRE_EQ(hv_vm_create_irqchip(vm->hv), 0);
	return vm;
}

static void
free_kvm(struct vm *vm)
{
	struct hv_vm *hv = vm->hv;
	fakevm_free(vm);                /* detaches and frees the routes */
	hv_vm_destroy(hv);
}

static void
msix_entry(struct vm *vm, uint64_t bar2, unsigned v, uint64_t addr,
    uint32_t data, uint32_t ctl)
{
	ATF_REQUIRE_EQ(bus_access(&vm->mmio, &cpu, bar2 + 16 * v,
	    (uint8_t *)&addr, 8, true), 0);
	ATF_REQUIRE_EQ(bus_access(&vm->mmio, &cpu, bar2 + 16 * v + 8,
	    (uint8_t *)&data, 4, true), 0);
	ATF_REQUIRE_EQ(bus_access(&vm->mmio, &cpu, bar2 + 16 * v + 12,
	    (uint8_t *)&ctl, 4, true), 0);
}

/* Whether an eventfd holds a count (and take it). */
static bool
efd_counted(int fd)
{
	uint64_t n;
	return read(fd, &n, sizeof(n)) == sizeof(n) && n > 0;
}

ATF_TC_WITHOUT_HEAD(irqfd_msix);
ATF_TC_BODY(irqfd_msix, tc)
{
	struct vm *vm = mkvm_kvm();
	struct pci_func *f = pci_lookup(vm, 3, 0);
	ATF_REQUIRE(f != NULL);
	uint64_t bar2 = (cfg_rd(vm, 3, PCI_BASE_ADDRESS_2, 4) & ~15u) |
	    (uint64_t)cfg_rd(vm, 3, PCI_BASE_ADDRESS_3, 4) << 32;
	cfg_wr(vm, 3, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	unsigned x = cap_of(vm, PCI_CAP_ID_MSIX);
	msix_entry(vm, bar2, 7, HYVE_LAPIC_BASE, 0x47, 0);
	ATF_CHECK(f->vec == NULL || !f->vec[7].attached);  /* not enabled yet */
	cfg_wr(vm, 3, x + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	ATF_REQUIRE(f->vec != NULL && f->vec[7].attached);
	ATF_CHECK(f->vec[7].gsi >= 24 && f->vec[7].data == 0x47);
	ATF_CHECK(f->vec[8].efd < 0 && !f->vec[8].attached);  /* masked */
	/* Raised: one eventfd write, which KVM takes at once. */
	reg_rw(vm, PCITEST_RAISE, 7, true);
	ATF_CHECK_EQ(f->msgs_irqfd, 1);
	ATF_CHECK_EQ(f->msgs_ioctl, 0);
	int efd = pci_vector_eventfd(f, 7);
	ATF_REQUIRE(efd >= 0);
	ATF_CHECK(!efd_counted(efd));
	uint64_t one = 1;
	ATF_REQUIRE_EQ(write(efd, &one, 8), 8);             /* an outside producer */
	ATF_CHECK(!efd_counted(efd));
	/* Masked: detached; the device's raise and the producer's write are
	 * one pending bit, sent once on unmask. */
	msix_entry(vm, bar2, 7, HYVE_LAPIC_BASE, 0x47, 1);
	ATF_CHECK(!f->vec[7].attached);
	reg_rw(vm, PCITEST_RAISE, 7, true);
	ATF_REQUIRE_EQ(write(efd, &one, 8), 8);
	uint64_t pba = 0;
	ATF_REQUIRE_EQ(bus_access(&vm->mmio, &cpu, bar2 + 0x800, (uint8_t *)&pba,
	    8, false), 0);
	ATF_CHECK_EQ(pba, 1ull << 7);
	/* The producer again, after the PBA was read: the eventfd holds it. */
	ATF_REQUIRE_EQ(write(efd, &one, 8), 8);
	ATF_CHECK_EQ(f->msgs_irqfd, 1);
	/* Retargeted while masked, then unmasked: the route follows, the
	 * pending message goes once, through the irqfd. */
	msix_entry(vm, bar2, 7, HYVE_LAPIC_BASE | (1u << 12), 0x52, 0);
	ATF_CHECK(f->vec[7].attached);
	ATF_CHECK_EQ(f->vec[7].addr, HYVE_LAPIC_BASE | (1u << 12));
	ATF_CHECK_EQ(f->vec[7].data, 0x52);
	ATF_CHECK_EQ(f->msgs_irqfd, 2);
	ATF_CHECK_EQ(f->msix.pba[0], 0);
	ATF_CHECK(!efd_counted(efd));
	/* Function mask: every vector detached; a raise is held. */
	cfg_wr(vm, 3, x + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE |
	    PCI_MSIX_FLAGS_MASKALL);
	ATF_CHECK(!f->vec[7].attached);
	reg_rw(vm, PCITEST_RAISE, 7, true);
	ATF_CHECK_EQ(f->msgs_irqfd, 2);
	cfg_wr(vm, 3, x + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	ATF_CHECK(f->vec[7].attached);
	ATF_CHECK_EQ(f->msgs_irqfd, 3);
	/* An address outside the APIC window: no route, a memory write. */
	msix_entry(vm, bar2, 7, MSG_AT, 0x66, 0);
	ATF_CHECK(!f->vec[7].attached);
	reg_rw(vm, PCITEST_RAISE, 7, true);
	ATF_CHECK_EQ(landed(vm), 0x66);
	ATF_CHECK_EQ(f->msgs_mem, 1);
	/* Disabled: detached. */
	msix_entry(vm, bar2, 7, HYVE_LAPIC_BASE, 0x47, 0);
	ATF_CHECK(f->vec[7].attached);
	cfg_wr(vm, 3, x + PCI_MSIX_FLAGS, 2, 0);
	ATF_CHECK(!f->vec[7].attached);
	ATF_CHECK_EQ(f->msgs_ioctl, 0);
	ATF_CHECK_EQ(pci_vector_eventfd(f, 32), -EINVAL);
	free_kvm(vm);
}

ATF_TC_WITHOUT_HEAD(irqfd_msi);
ATF_TC_BODY(irqfd_msi, tc)
{
	struct vm *vm = mkvm_kvm();
	struct pci_func *f = pci_lookup(vm, 3, 0);
	cfg_wr(vm, 3, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	unsigned m = cap_of(vm, PCI_CAP_ID_MSI);
	cfg_wr(vm, 3, m + PCI_MSI_ADDRESS_LO, 4, HYVE_LAPIC_BASE);
	cfg_wr(vm, 3, m + PCI_MSI_ADDRESS_HI, 4, 0);
	cfg_wr(vm, 3, m + PCI_MSI_DATA_64, 2, 0x40);
	cfg_wr(vm, 3, m + PCI_MSI_MASK_64, 4, 1u << 2);
	/* 4 vectors: data 0x40..0x43, vector 2 masked. */
	cfg_wr(vm, 3, m + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE | (2 << 4));
	ATF_REQUIRE(f->vec != NULL);
	for (unsigned v = 0; v < 4; v++) {
		ATF_CHECK_EQ(f->vec[v].attached, v != 2);
		if (v != 2)
			ATF_CHECK_EQ(f->vec[v].data, 0x40 + v);
	}
	ATF_CHECK(!f->vec[4].attached);
	reg_rw(vm, PCITEST_RAISE, 1, true);
	reg_rw(vm, PCITEST_RAISE, 2, true);
	ATF_CHECK_EQ(f->msgs_irqfd, 1);
	ATF_CHECK_EQ(cfg_rd(vm, 3, m + PCI_MSI_PENDING_64, 4), 1u << 2);
	/* Unmask: attached, the pending message sent once. */
	cfg_wr(vm, 3, m + PCI_MSI_MASK_64, 4, 0);
	ATF_CHECK(f->vec[2].attached);
	ATF_CHECK_EQ(f->msgs_irqfd, 2);
	ATF_CHECK_EQ(cfg_rd(vm, 3, m + PCI_MSI_PENDING_64, 4), 0);
	/* New data: every route follows. */
	cfg_wr(vm, 3, m + PCI_MSI_DATA_64, 2, 0x60);
	ATF_CHECK_EQ(f->vec[3].data, 0x63);
	/* MSI-X enabled: MSI's vectors are off. */
	unsigned x = cap_of(vm, PCI_CAP_ID_MSIX);
	cfg_wr(vm, 3, x + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	for (unsigned v = 0; v < 4; v++)
		ATF_CHECK(!f->vec[v].attached);     /* MSI-X entries masked */
	cfg_wr(vm, 3, x + PCI_MSIX_FLAGS, 2, 0);
	ATF_CHECK(f->vec[0].attached);
	ATF_CHECK_EQ(f->msgs_ioctl, 0);
	free_kvm(vm);
}

ATF_TP_ADD_TCS(tp)
{
	ATF_TP_ADD_TC(tp, config_space);
	ATF_TP_ADD_TC(tp, bar_sizing_and_decode);
	ATF_TP_ADD_TC(tp, msi_multivector_and_masking);
	ATF_TP_ADD_TC(tp, msix_table_and_masks);
	ATF_TP_ADD_TC(tp, dma_checked);
	ATF_TP_ADD_TC(tp, irqfd_msix);
	ATF_TP_ADD_TC(tp, irqfd_msi);
	return atf_no_error();
}
