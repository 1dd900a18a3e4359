/*
 * A minimal PCI library for test kernels: configuration access through
 * ports 0xcf8/0xcfc (mechanism #1) and through ECAM at HYVE_PCI_ECAM, device
 * look-up by vendor and device ID, BAR read-back and sizing, capability
 * walks, command-register enables, and identity mappings for BARs that lie
 * above the boot page tables' 4 GiB.  Bus 0 only, as hyve has.
 */
#ifndef UNIT_PCI_H
#define UNIT_PCI_H

#include <stdint.h>

#define PCI_CFG_VENDOR     0x00
#define PCI_CFG_DEVICE     0x02
#define PCI_CFG_COMMAND    0x04
#define PCI_CFG_STATUS     0x06
#define PCI_CFG_REVISION   0x08
#define PCI_CFG_CLASS      0x09    /* prog-if, subclass, class (3 bytes) */
#define PCI_CFG_HEADER     0x0e
#define PCI_CFG_BAR0       0x10
#define PCI_CFG_SUBVENDOR  0x2c
#define PCI_CFG_CAP_PTR    0x34

#define PCI_CMD_IO         0x0001
#define PCI_CMD_MEMORY     0x0002
#define PCI_CMD_MASTER     0x0004
#define PCI_CMD_INTX_OFF   0x0400
#define PCI_STATUS_CAPS    0x0010

#define PCI_CAP_MSI        0x05
#define PCI_CAP_VENDOR     0x09
#define PCI_CAP_MSIX       0x11

enum pci_bar_kind { PCI_BAR_ABSENT, PCI_BAR_IO, PCI_BAR_MEM32, PCI_BAR_MEM64 };

struct pci_dev {
	uint8_t slot, fn;
	uint16_t vendor, device;
};

/* Mechanism #1 (bus 0 only). */
uint32_t pci_read32(unsigned slot, unsigned fn, unsigned off);
uint16_t pci_read16(unsigned slot, unsigned fn, unsigned off);
uint8_t pci_read8(unsigned slot, unsigned fn, unsigned off);
void pci_write32(unsigned slot, unsigned fn, unsigned off, uint32_t v);
void pci_write16(unsigned slot, unsigned fn, unsigned off, uint16_t v);
void pci_write8(unsigned slot, unsigned fn, unsigned off, uint8_t v);
/* The same through mechanism #1 on any bus (for absent-bus tests). */
uint32_t pci_read32_bus(unsigned bus, unsigned slot, unsigned fn, unsigned off);

/* ECAM: a pointer to the function's 4 KiB of configuration space. */
volatile uint8_t *pci_ecam(unsigned bus, unsigned slot, unsigned fn);
uint32_t pci_ecam_read32(unsigned bus, unsigned slot, unsigned fn, unsigned off);
void pci_ecam_write32(unsigned slot, unsigned fn, unsigned off, uint32_t v);

/* The index'th function (0 = first) with these IDs; 0 when found. */
int pci_find(uint16_t vendor, uint16_t device, unsigned index, struct pci_dev *d);

/* Device-relative shorthands. */
uint32_t pci_cfg32(const struct pci_dev *d, unsigned off);
uint16_t pci_cfg16(const struct pci_dev *d, unsigned off);
uint8_t pci_cfg8(const struct pci_dev *d, unsigned off);
void pci_set32(const struct pci_dev *d, unsigned off, uint32_t v);
void pci_set16(const struct pci_dev *d, unsigned off, uint16_t v);
void pci_set8(const struct pci_dev *d, unsigned off, uint8_t v);

/* BAR idx as programmed (type bits removed, both halves of a 64-bit BAR). */
enum pci_bar_kind pci_bar_kind(const struct pci_dev *d, unsigned idx);
uint64_t pci_bar_addr(const struct pci_dev *d, unsigned idx);
/* Sizes BAR idx the architected way (decoding off, all-ones, read back,
 * restore); 0 when the BAR is not implemented. */
uint64_t pci_bar_size(const struct pci_dev *d, unsigned idx);

/* Capability walk: the offset of the first capability with this ID at or
 * after the list entry `from` (0 = start of the list), or 0.  At most 48
 * entries are followed, so a looping list ends. */
unsigned pci_find_cap(const struct pci_dev *d, uint8_t id, unsigned from);

/* Sets bits in the command register. */
void pci_enable(const struct pci_dev *d, uint16_t bits);

/* Identity-maps [pa, pa+len) uncached in the current page tables (2 MiB
 * pages), for BARs above 4 GiB.  0 on success, -1 when out of table pages. */
int pci_map(uint64_t pa, uint64_t len);
/* BAR idx, mapped and with memory decoding on: its address, or 0. */
volatile uint8_t *pci_map_bar(const struct pci_dev *d, unsigned idx);

#endif
