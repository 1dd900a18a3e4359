/*
 * Configuration space of a passed-through function, mediated.  The guest
 * sees hyve's emulated header and capability list; the device's registers
 * are reached only through this allowlist:
 *
 *   header   IDs, revision, class, subsystem IDs: copied from the device,
 *            read-only.  Command: emulated; its I/O, memory, bus-master,
 *            SERR, parity and INTx-disable bits are written through.
 *            Status: read from the device; writes (clearing error bits)
 *            go through.  BARs: emulated, placed by hyve.  Cache line,
 *            latency timer, interrupt line: emulated.  Interrupt pin 0,
 *            expansion ROM absent, BIST 0.
 *   MSI, MSI-X  emulated by hyve (devices/pci/msi.c) and backed by VFIO
 *            interrupts (intr.c).  A function with neither gets a virtual
 *            MSI capability backed by its INTx line.
 *   PM (01)  read through; PMCSR (offset 4) written through.
 *   PCIe (10) read through; Device Control and Status, Link Control and
 *            Status, Device Control 2 and Link Control 2 written through.
 *   vendor-specific (09)  read through, read-only.
 *   Every other capability, the bytes between capabilities and the whole
 *   extended space (0x100-0xfff) are hidden: they read as 0 and writes
 *   are dropped.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <linux/pci_regs.h>

#include "devices/passthru/passthru.h"
#include "vmm/log.h"
#include "vmm/vm.h"

/* Writable ranges (offset from the capability's start, length). */
struct wrange {
	uint8_t id, off, len;
};
static const struct wrange writable[] = {
	{ PCI_CAP_ID_PM, PCI_PM_CTRL, 2 },
	{ PCI_CAP_ID_EXP, PCI_EXP_DEVCTL, 4 },          /* control, status */
	{ PCI_CAP_ID_EXP, PCI_EXP_LNKCTL, 4 },
	{ PCI_CAP_ID_EXP, PCI_EXP_DEVCTL2, 2 },
	{ PCI_CAP_ID_EXP, PCI_EXP_LNKCTL2, 2 },
};

#define CMD_THROUGH (PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | \
	PCI_COMMAND_SERR | PCI_COMMAND_PARITY | PCI_COMMAND_INTX_DISABLE)

static int
phys_read(struct passthru *pt, unsigned off, void *buf, size_t len)
{
	return vfio_region_rw(&pt->dev, &pt->dev.cfg, off, buf, len, false);
}

static int
phys_write(struct passthru *pt, unsigned off, const void *buf, size_t len)
{
	return vfio_region_rw(&pt->dev, &pt->dev.cfg, off, (void *)buf, len,
	    true);
}

static unsigned
cap_len(struct passthru *pt, uint8_t id, unsigned poff)
{
	uint8_t b[4] = { 0 };
	switch (id) {
	case PCI_CAP_ID_PM:
		return PCI_PM_SIZEOF;
	case PCI_CAP_ID_EXP:
		if (phys_read(pt, poff + PCI_EXP_FLAGS, b, 2) < 0)
			return 0;
		return (b[0] & PCI_EXP_FLAGS_VERS) >= 2 ? PCI_CAP_EXP_ENDPOINT_SIZEOF_V2 :
		    PCI_CAP_EXP_ENDPOINT_SIZEOF_V1;
	case PCI_CAP_ID_VNDR:
		if (phys_read(pt, poff + 2, b, 1) < 0 || b[0] < 3)
			return 0;
		return b[0];
	default:
		return 0;
	}
}

static int
bar_type(uint32_t reg, enum pci_bar_type *t)
{
	if (reg & PCI_BASE_ADDRESS_SPACE_IO)
		*t = PCI_BAR_IO;
	else if ((reg & PCI_BASE_ADDRESS_MEM_TYPE_MASK) ==
	    PCI_BASE_ADDRESS_MEM_TYPE_64)
		*t = PCI_BAR_MEM64;
	else
		*t = PCI_BAR_MEM32;
	return 0;
}

static int
setup_bars(struct passthru *pt, const uint8_t *c, char *err, size_t errlen)
{
	for (int i = 0; i < VFIO_NBARS; i++) {
		uint64_t size = pt->dev.bar[i].size;
		if (size == 0)
			continue;
		uint32_t reg;
		memcpy(&reg, c + PCI_BASE_ADDRESS_0 + 4 * i, 4);
		enum pci_bar_type t;
		bar_type(reg, &t);
		if (size & (size - 1)) {
			snprintf(err, errlen, "%s: BAR%d size 0x%llx is not a power "
			    "of two", pt->dev.addr, i, (unsigned long long)size);
			return -EINVAL;
		}
		int r = pci_add_bar(pt->f, i, t, size);
		if (r < 0) {
			snprintf(err, errlen, "%s: BAR%d (%s, 0x%llx bytes): cannot "
			    "place it: %s", pt->dev.addr, i, t == PCI_BAR_IO ? "I/O" :
			    "memory", (unsigned long long)size, strerror(-r));
			return r;
		}
		if (t == PCI_BAR_MEM64)
			i++;
	}
	return 0;
}

static int
setup_msix(struct passthru *pt, const uint8_t *c, char *err, size_t errlen)
{
	unsigned p = pt->phys_msix;
	uint16_t ctrl;
	uint32_t tab, pba;
	memcpy(&ctrl, c + p + PCI_MSIX_FLAGS, 2);
	memcpy(&tab, c + p + PCI_MSIX_TABLE, 4);
	memcpy(&pba, c + p + PCI_MSIX_PBA, 4);
	unsigned n = (ctrl & PCI_MSIX_FLAGS_QSIZE) + 1;
	int bar = (int)(tab & PCI_MSIX_TABLE_BIR);
	int r = pci_add_msix(pt->f, n, bar, tab & PCI_MSIX_TABLE_OFFSET,
	    pba & PCI_MSIX_PBA_OFFSET);
	if (r == 0 && (int)(pba & PCI_MSIX_PBA_BIR) != bar)
		r = -ENOTSUP;   /* hyve's MSI-X keeps table and PBA in one BAR */
	if (r < 0)
		snprintf(err, errlen, "%s: MSI-X (%u vectors, table in BAR%d, PBA "
		    "in BAR%u): %s", pt->dev.addr, n, bar, pba & PCI_MSIX_PBA_BIR,
		    strerror(-r));
	return r;
}

int
pt_cfg_init(struct passthru *pt, char *err, size_t errlen)
{
	uint8_t c[256];
	int r = phys_read(pt, 0, c, sizeof(c));
	if (r < 0) {
		snprintf(err, errlen, "%s: cannot read its configuration space: "
		    "%s", pt->dev.addr, strerror(-r));
		return r;
	}
	struct pci_func *f = pt->f;
	if ((c[PCI_HEADER_TYPE] & 0x7f) != PCI_HEADER_TYPE_NORMAL) {
		snprintf(err, errlen, "%s: header type %u: only endpoints (type 0) "
		    "can be passed through", pt->dev.addr, c[PCI_HEADER_TYPE] & 0x7f);
		return -EINVAL;
	}
	uint16_t v16[4];
	memcpy(&v16[0], c + PCI_VENDOR_ID, 2);
	memcpy(&v16[1], c + PCI_DEVICE_ID, 2);
	memcpy(&v16[2], c + PCI_SUBSYSTEM_VENDOR_ID, 2);
	memcpy(&v16[3], c + PCI_SUBSYSTEM_ID, 2);
	pci_set_ids(f, v16[0], v16[1], c[PCI_CLASS_DEVICE + 1],
	    c[PCI_CLASS_DEVICE], c[PCI_CLASS_PROG], v16[2], v16[3]);
	pci_cfg_set8(f, PCI_REVISION_ID, c[PCI_REVISION_ID]);
	r = setup_bars(pt, c, err, errlen);
	if (r < 0)
		return r;

	/* Walk the device's capabilities (at most 48, against loops). */
	unsigned p = (c[PCI_STATUS] & PCI_STATUS_CAP_LIST) ?
	    c[PCI_CAPABILITY_LIST] & ~3u : 0;
	struct { uint8_t id, off; } found[48];
	unsigned nfound = 0;
	while (p >= 0x40 && p < 0xff && nfound < 48) {
		found[nfound].id = c[p];
		found[nfound].off = (uint8_t)p;
		nfound++;
		if (c[p] == PCI_CAP_ID_MSI)
			pt->phys_msi = (uint8_t)p;
		if (c[p] == PCI_CAP_ID_MSIX)
			pt->phys_msix = (uint8_t)p;
		p = c[p + 1] & ~3u;
	}
	if (pt->phys_msix && (r = setup_msix(pt, c, err, errlen)) < 0)
		return r;
	if (pt->phys_msi) {
		uint16_t ctrl;
		memcpy(&ctrl, c + pt->phys_msi + PCI_MSI_FLAGS, 2);
		r = pci_add_msi(f, 1u << ((ctrl & PCI_MSI_FLAGS_QMASK) >> 1));
	} else if (!pt->phys_msix) {
		/* INTx only: a virtual MSI capability, INTx behind it. */
		if (c[PCI_INTERRUPT_PIN] != 0 && pt->dev.irq_count[VFIO_IDX_INTX]) {
			pt->virtual_msi = true;
			r = pci_add_msi(f, 1);
		}
	}
	if (r < 0) {
		snprintf(err, errlen, "%s: MSI: %s", pt->dev.addr, strerror(-r));
		return r;
	}
	for (unsigned i = 0; i < nfound; i++) {
		unsigned len = cap_len(pt, found[i].id, found[i].off);
		if (len == 0 || found[i].off + len > 0x100 ||
		    pt->ncaps == PT_MAX_CAPS)
			continue;               /* not on the allowlist */
		int voff = pci_add_cap(f, found[i].id, len);
		if (voff < 0) {
			pr_warn("%s: capability 0x%02x hidden: no room", f->name,
			    found[i].id);
			continue;
		}
		pt->cap[pt->ncaps++] = (struct pt_cap){ found[i].id,
		    (uint8_t)voff, found[i].off, (uint8_t)len };
	}
	pci_cfg_set8(f, PCI_INTERRUPT_PIN, 0);
	return 0;
}

/* Which device byte a guest byte at off reads from, or -1 if emulated. */
static int
through_byte(struct passthru *pt, unsigned off, bool write)
{
	if (off == PCI_STATUS || off == PCI_STATUS + 1)
		return (int)off;
	for (unsigned i = 0; i < pt->ncaps; i++) {
		const struct pt_cap *k = &pt->cap[i];
		if (off < k->voff + 2u || off >= (unsigned)k->voff + k->len)
			continue;
		unsigned rel = off - k->voff;
		if (!write)
			return (int)(k->poff + rel);
		for (size_t w = 0; w < sizeof(writable) / sizeof(writable[0]); w++)
			if (writable[w].id == k->id && rel >= writable[w].off &&
			    rel < (unsigned)writable[w].off + writable[w].len)
				return (int)(k->poff + rel);
		return -1;
	}
	return -1;
}

void
pt_cfg_read(struct pci_func *f, unsigned off, unsigned len, uint32_t *v)
{
	struct passthru *pt = f->priv;
	for (unsigned i = 0; i < len; i++) {
		int p = through_byte(pt, off + i, false);
		if (p < 0)
			continue;
		uint8_t b = 0xff;
		(void)phys_read(pt, (unsigned)p, &b, 1);
		if ((unsigned)p == PCI_STATUS)
			b |= PCI_STATUS_CAP_LIST & 0xff;
		*v = (*v & ~(0xffu << (8 * i))) | ((uint32_t)b << (8 * i));
	}
}

void
pt_cfg_sync_command(struct passthru *pt)
{
	pthread_mutex_lock(&pt->f->lock);
	uint16_t cmd = pci_cfg_get16(pt->f, PCI_COMMAND) & CMD_THROUGH;
	pthread_mutex_unlock(&pt->f->lock);
	uint16_t cur = 0;
	if (phys_read(pt, PCI_COMMAND, &cur, 2) < 0)
		return;
	cmd |= cur & ~CMD_THROUGH;
	if (cmd != cur)
		(void)phys_write(pt, PCI_COMMAND, &cmd, 2);
}

void
pt_cfg_write(struct pci_func *f, unsigned off, unsigned len, uint32_t v)
{
	struct passthru *pt = f->priv;
	if (off < PCI_COMMAND + 2 && off + len > PCI_COMMAND)
		pt_cfg_sync_command(pt);
	/* Runs of bytes on the write allowlist go to the device as written. */
	unsigned i = 0;
	while (i < len) {
		int p = through_byte(pt, off + i, true);
		if (p < 0) {
			i++;
			continue;
		}
		unsigned j = i + 1;
		while (j < len && through_byte(pt, off + j, true) == p + (int)(j - i))
			j++;
		uint8_t b[4];
		for (unsigned k = i; k < j; k++)
			b[k - i] = (uint8_t)(v >> (8 * k));
		(void)phys_write(pt, (unsigned)p, b, j - i);
		i = j;
	}
	if ((f->msi.cap && off < f->msi.cap + 24u && off + len > f->msi.cap) ||
	    (f->msix.cap && off < f->msix.cap + 12u && off + len > f->msix.cap))
		pt_intr_update(pt);
}
