#include "pci.h"
#include "string.h"
#include "x86.h"
#include "vmm/abi.h"

static uint32_t cf8(unsigned bus, unsigned slot, unsigned fn, unsigned off)
{
	return 0x80000000u | (bus & 0xff) << 16 | (slot & 31) << 11 | (fn & 7) << 8 |
	       (off & 0xfc) | (off & 0xf00) << 16;
}

uint32_t pci_read32_bus(unsigned bus, unsigned slot, unsigned fn, unsigned off)
{
	outl(HYVE_PORT_PCI_ADDR, cf8(bus, slot, fn, off));
	return inl(HYVE_PORT_PCI_DATA);
}

uint32_t pci_read32(unsigned slot, unsigned fn, unsigned off)
{
	return pci_read32_bus(0, slot, fn, off);
}

uint16_t pci_read16(unsigned slot, unsigned fn, unsigned off)
{
	outl(HYVE_PORT_PCI_ADDR, cf8(0, slot, fn, off));
	return inw((uint16_t)(HYVE_PORT_PCI_DATA + (off & 2)));
}

uint8_t pci_read8(unsigned slot, unsigned fn, unsigned off)
{
	outl(HYVE_PORT_PCI_ADDR, cf8(0, slot, fn, off));
	return inb((uint16_t)(HYVE_PORT_PCI_DATA + (off & 3)));
}

void pci_write32(unsigned slot, unsigned fn, unsigned off, uint32_t v)
{
	outl(HYVE_PORT_PCI_ADDR, cf8(0, slot, fn, off));
	outl(HYVE_PORT_PCI_DATA, v);
}

void pci_write16(unsigned slot, unsigned fn, unsigned off, uint16_t v)
{
	outl(HYVE_PORT_PCI_ADDR, cf8(0, slot, fn, off));
	outw((uint16_t)(HYVE_PORT_PCI_DATA + (off & 2)), v);
}

void pci_write8(unsigned slot, unsigned fn, unsigned off, uint8_t v)
{
	outl(HYVE_PORT_PCI_ADDR, cf8(0, slot, fn, off));
	outb((uint16_t)(HYVE_PORT_PCI_DATA + (off & 3)), v);
}

volatile uint8_t *pci_ecam(unsigned bus, unsigned slot, unsigned fn)
{
	return (volatile uint8_t *)(uintptr_t)(HYVE_PCI_ECAM +
		((uint64_t)bus << 20 | slot << 15 | fn << 12));
}

uint32_t pci_ecam_read32(unsigned bus, unsigned slot, unsigned fn, unsigned off)
{
	return *(volatile uint32_t *)(pci_ecam(bus, slot, fn) + (off & 0xffc));
}

void pci_ecam_write32(unsigned slot, unsigned fn, unsigned off, uint32_t v)
{
	*(volatile uint32_t *)(pci_ecam(0, slot, fn) + (off & 0xffc)) = v;
}

int pci_find(uint16_t vendor, uint16_t device, unsigned index, struct pci_dev *d)
{
	for (unsigned slot = 0; slot < 32; slot++) {
		unsigned nfn = 1;

		for (unsigned fn = 0; fn < nfn; fn++) {
			uint32_t id = pci_read32(slot, fn, PCI_CFG_VENDOR);

			if ((id & 0xffff) == 0xffff)
				continue;
			if (fn == 0 && (pci_read8(slot, 0, PCI_CFG_HEADER) & 0x80))
				nfn = 8;
			if ((id & 0xffff) != vendor || (id >> 16) != device)
				continue;
			if (index-- == 0) {
				d->slot = (uint8_t)slot;
				d->fn = (uint8_t)fn;
				d->vendor = vendor;
				d->device = device;
				return 0;
			}
		}
	}
	return -1;
}

uint32_t pci_cfg32(const struct pci_dev *d, unsigned off) { return pci_read32(d->slot, d->fn, off); }
uint16_t pci_cfg16(const struct pci_dev *d, unsigned off) { return pci_read16(d->slot, d->fn, off); }
uint8_t pci_cfg8(const struct pci_dev *d, unsigned off) { return pci_read8(d->slot, d->fn, off); }
void pci_set32(const struct pci_dev *d, unsigned off, uint32_t v) { pci_write32(d->slot, d->fn, off, v); }
void pci_set16(const struct pci_dev *d, unsigned off, uint16_t v) { pci_write16(d->slot, d->fn, off, v); }
void pci_set8(const struct pci_dev *d, unsigned off, uint8_t v) { pci_write8(d->slot, d->fn, off, v); }

enum pci_bar_kind pci_bar_kind(const struct pci_dev *d, unsigned idx)
{
	uint32_t v = pci_cfg32(d, PCI_CFG_BAR0 + 4 * idx);

	if (v & 1)
		return PCI_BAR_IO;
	if (((v >> 1) & 3) == 2)
		return PCI_BAR_MEM64;
	/* A memory BAR reads back its address; a BAR that is not there
	 * reads 0 and sizes to 0. */
	return v ? PCI_BAR_MEM32 : (pci_bar_size(d, idx) ? PCI_BAR_MEM32 : PCI_BAR_ABSENT);
}

uint64_t pci_bar_addr(const struct pci_dev *d, unsigned idx)
{
	uint32_t v = pci_cfg32(d, PCI_CFG_BAR0 + 4 * idx);

	if (v & 1)
		return v & ~3u;
	if (((v >> 1) & 3) == 2 && idx < 5)
		return (v & ~15ull) | (uint64_t)pci_cfg32(d, PCI_CFG_BAR0 + 4 * idx + 4) << 32;
	return v & ~15u;
}

uint64_t pci_bar_size(const struct pci_dev *d, unsigned idx)
{
	unsigned off = PCI_CFG_BAR0 + 4 * idx;
	uint16_t cmd = pci_cfg16(d, PCI_CFG_COMMAND);
	uint32_t lo = pci_cfg32(d, off), hi = 0, slo, shi = 0xffffffffu;
	int is64 = !(lo & 1) && ((lo >> 1) & 3) == 2 && idx < 5;
	uint64_t mask;

	pci_set16(d, PCI_CFG_COMMAND, cmd & (uint16_t)~(PCI_CMD_IO | PCI_CMD_MEMORY));
	pci_set32(d, off, 0xffffffffu);
	slo = pci_cfg32(d, off);
	pci_set32(d, off, lo);
	if (is64) {
		hi = pci_cfg32(d, off + 4);
		pci_set32(d, off + 4, 0xffffffffu);
		shi = pci_cfg32(d, off + 4);
		pci_set32(d, off + 4, hi);
	}
	pci_set16(d, PCI_CFG_COMMAND, cmd);
	if (slo == 0 && !is64)
		return 0;
	if (lo & 1)
		mask = (slo & ~3u) | 0xffffffffffff0000ull;     /* 16-bit I/O decode */
	else
		mask = (slo & ~15u) | (is64 ? (uint64_t)shi << 32 : 0xffffffff00000000ull);
	return mask ? ~mask + 1 : 0;
}

unsigned pci_find_cap(const struct pci_dev *d, uint8_t id, unsigned from)
{
	unsigned at;

	if (!(pci_cfg16(d, PCI_CFG_STATUS) & PCI_STATUS_CAPS))
		return 0;
	at = from ? pci_cfg8(d, from + 1) : pci_cfg8(d, PCI_CFG_CAP_PTR);
	for (unsigned n = 0; n < 48 && at >= 0x40; n++) {
		at &= 0xfc;
		if (pci_cfg8(d, at) == id)
			return at;
		at = pci_cfg8(d, at + 1);
	}
	return 0;
}

void pci_enable(const struct pci_dev *d, uint16_t bits)
{
	pci_set16(d, PCI_CFG_COMMAND, pci_cfg16(d, PCI_CFG_COMMAND) | bits);
}

/* Page-table pages for mappings above the boot identity map. */
#define PT_PAGES 8
#define PTE_P   0x001ull
#define PTE_W   0x002ull
#define PTE_PWT 0x008ull
#define PTE_PCD 0x010ull
#define PTE_PS  0x080ull
#define PTE_ADDR 0x000ffffffffff000ull

static uint64_t pt_pool[PT_PAGES][512] __attribute__((aligned(4096)));
static unsigned pt_used;

static uint64_t *pt_next(uint64_t *entry)
{
	if (*entry & PTE_P)
		return (uint64_t *)(uintptr_t)(*entry & PTE_ADDR);
	if (pt_used == PT_PAGES)
		return 0;
	uint64_t *t = pt_pool[pt_used++];

	memset(t, 0, 4096);
	*entry = (uint64_t)(uintptr_t)t | PTE_P | PTE_W;
	return t;
}

int pci_map(uint64_t pa, uint64_t len)
{
	uint64_t *pml4 = (uint64_t *)(uintptr_t)(read_cr3() & PTE_ADDR);
	uint64_t end = (pa + len + 0x1fffff) & ~0x1fffffull;

	for (uint64_t a = pa & ~0x1fffffull; a < end; a += 0x200000) {
		uint64_t *pdpt = pt_next(&pml4[(a >> 39) & 511]), *pd;

		if (!pdpt)
			return -1;
		if (pdpt[(a >> 30) & 511] & PTE_PS)
			continue;               /* a 1 GiB page covers it */
		pd = pt_next(&pdpt[(a >> 30) & 511]);
		if (!pd)
			return -1;
		if (!(pd[(a >> 21) & 511] & PTE_P))
			pd[(a >> 21) & 511] = a | PTE_P | PTE_W | PTE_PS | PTE_PCD | PTE_PWT;
	}
	__asm__ volatile("mov %0, %%cr3" :: "r"(read_cr3()) : "memory");
	return 0;
}

volatile uint8_t *pci_map_bar(const struct pci_dev *d, unsigned idx)
{
	enum pci_bar_kind k = pci_bar_kind(d, idx);
	uint64_t a = pci_bar_addr(d, idx), size;

	if (k != PCI_BAR_MEM32 && k != PCI_BAR_MEM64)
		return 0;
	size = pci_bar_size(d, idx);
	if (a == 0 || size == 0)
		return 0;
	if (a + size > HYVE_BOOT_IDMAP_LIMIT && pci_map(a, size) < 0)
		return 0;
	pci_enable(d, PCI_CMD_MEMORY);
	return (volatile uint8_t *)(uintptr_t)a;
}
