/*
 * MSI (1 to 32 vectors, 64-bit address, per-vector masking) and MSI-X
 * (table and pending-bit array in a BAR, function and vector masks).  A
 * masked vector is held pending and sent once when unmasked.  Messages go
 * to the kernel module: through the vector's irqfd where the module has
 * them (irqroute.c; every change to a vector's enable, mask, address or data
 * updates its route), else with KVM_SIGNAL_MSI.  A message whose address is
 * not the local APICs' window is a memory write, as on real hardware, and
 * lands only in guest RAM.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/pci_regs.h>

#include "devices/pci/pci.h"
#include "vmm/abi.h"
#include "vmm/vm.h"

#define MSI_CTRL(f)   ((f)->msi.cap + PCI_MSI_FLAGS)
#define MSI_ADDR(f)   ((f)->msi.cap + PCI_MSI_ADDRESS_LO)
#define MSI_DATA(f)   ((f)->msi.cap + PCI_MSI_DATA_64)
#define MSI_MASK(f)   ((f)->msi.cap + PCI_MSI_MASK_64)
#define MSI_PEND(f)   ((f)->msi.cap + PCI_MSI_PENDING_64)
#define MSIX_CTRL(f)  ((f)->msix.cap + PCI_MSIX_FLAGS)

static bool
is_lapic(uint64_t addr)
{
	return (addr & 0xfff00000ull) == HYVE_LAPIC_BASE;
}

/* Send vector v's message. */
static void
msi_deliver(struct pci_func *f, unsigned v, uint64_t addr, uint32_t data)
{
	f->msgs_sent++;
	if (is_lapic(addr)) {
		if (irqroute_send(f, v, addr, data)) {
			f->msgs_irqfd++;
			return;
		}
		f->msgs_ioctl++;
		(void)hv_vm_signal_msi(f->vm->hv, addr, data);
		return;
	}
	/* Not an interrupt address: a DMA write of data, only into RAM. */
	f->msgs_mem++;
	void *p = gpa_to_hva(&f->vm->mem, addr, 4);
	if (p != NULL && !(addr & 3))
		__atomic_store_n((uint32_t *)p, data, __ATOMIC_RELAXED);
}

int
pci_add_msi(struct pci_func *f, unsigned nvec)
{
	if (nvec == 0 || nvec > 32 || (nvec & (nvec - 1)))
		return -EINVAL;
	int off = pci_add_cap(f, PCI_CAP_ID_MSI, 24);
	if (off < 0)
		return off;
	f->msi.cap = (uint8_t)off;
	f->msi.nvec = nvec;
	unsigned mmc = (unsigned)__builtin_ctz(nvec);
	pci_cfg_set16(f, MSI_CTRL(f), (uint16_t)(PCI_MSI_FLAGS_64BIT |
	    PCI_MSI_FLAGS_MASKBIT | (mmc << 1)));
	/* enable + multiple message enable; address (dword aligned), data,
	 * and the mask bits of the vectors that exist. */
	uint32_t vecmask = nvec == 32 ? 0xffffffffu : (1u << nvec) - 1;
	uint8_t *w = f->wmask;
	w[MSI_CTRL(f)] = PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE;
	memset(w + MSI_ADDR(f), 0xff, 8);
	w[MSI_ADDR(f)] = 0xfc;
	memset(w + MSI_DATA(f), 0xff, 2);
	memcpy(w + MSI_MASK(f), &vecmask, 4);
	return 0;
}

static bool
msi_enabled(struct pci_func *f, unsigned *nvec_enabled)
{
	uint16_t ctrl = pci_cfg_get16(f, MSI_CTRL(f));
	unsigned mme = (ctrl & PCI_MSI_FLAGS_QSIZE) >> 4;
	if (mme > 5)
		mme = 5;
	unsigned n = 1u << mme;
	if (n > f->msi.nvec)
		n = f->msi.nvec;        /* more than capable: as many as capable */
	*nvec_enabled = n;
	return ctrl & PCI_MSI_FLAGS_ENABLE;
}

/* Vector v's message of n enabled. */
static void
msi_message(struct pci_func *f, unsigned v, unsigned n, uint64_t *addr,
    uint32_t *data)
{
	*addr = pci_cfg_get32(f, MSI_ADDR(f)) |
	    ((uint64_t)pci_cfg_get32(f, MSI_ADDR(f) + 4) << 32);
	uint16_t d = pci_cfg_get16(f, MSI_DATA(f));
	/* Multiple messages: the low log2(n) bits of data carry the vector. */
	*data = (uint16_t)((d & ~(n - 1)) | v);
}

static void
msi_send(struct pci_func *f, unsigned v, unsigned n)
{
	uint64_t addr;
	uint32_t data;
	msi_message(f, v, n, &addr, &data);
	msi_deliver(f, v, addr, data);
}

/* Pending bits are read-only for the guest; keep the register in sync. */
static void
msi_sync_pending(struct pci_func *f)
{
	pci_cfg_set32(f, MSI_PEND(f), f->msi.pending);
}

static int
msi_raise(struct pci_func *f, unsigned v)
{
	unsigned n;
	if (!msi_enabled(f, &n))
		return -EAGAIN;
	if (v >= n)
		return -EINVAL;
	if (pci_cfg_get32(f, MSI_MASK(f)) & (1u << v)) {
		f->msi.pending |= 1u << v;
		msi_sync_pending(f);
		return 0;
	}
	msi_send(f, v, n);
	return 0;
}

static bool msix_enabled(struct pci_func *f);

/* The vectors' routes follow MSI's state, unless MSI-X is in charge. */
static void
msi_routes_update(struct pci_func *f)
{
	if (msix_enabled(f))
		return;
	unsigned n = 0;
	bool on = f->msi.cap && msi_enabled(f, &n);
	uint32_t mask = on ? pci_cfg_get32(f, MSI_MASK(f)) : 0;
	/* Every vector either mode has: MSI-X's are off now. */
	unsigned all = f->msix.nvec > f->msi.nvec ? f->msix.nvec : f->msi.nvec;
	for (unsigned v = 0; v < all; v++) {
		uint64_t addr = 0;
		uint32_t data = 0;
		bool live = on && v < n && !(mask & (1u << v));
		if (live)
			msi_message(f, v, n, &addr, &data);
		bool held = irqroute_update(f, v, live && is_lapic(addr), addr,
		    data);
		if (held && on && v < n)
			f->msi.pending |= 1u << v;
	}
}

void
msi_cfg_written(struct pci_func *f)
{
	msi_routes_update(f);
	unsigned n;
	if (!msi_enabled(f, &n) || f->msi.pending == 0) {
		msi_sync_pending(f);
		return;
	}
	uint32_t mask = pci_cfg_get32(f, MSI_MASK(f));
	for (unsigned v = 0; v < n; v++)
		if ((f->msi.pending & (1u << v)) && !(mask & (1u << v))) {
			f->msi.pending &= ~(1u << v);
			msi_send(f, v, n);
		}
	msi_sync_pending(f);
}

int
pci_add_msix(struct pci_func *f, unsigned nvec, int bar, uint32_t table_off,
    uint32_t pba_off)
{
	if (nvec == 0 || nvec > 2048 || bar < 0 || bar > 5 ||
	    (table_off & 7) || (pba_off & 7) ||
	    f->bar[bar].type == PCI_BAR_NONE || f->bar[bar].type == PCI_BAR_IO ||
	    table_off + 16ull * nvec > f->bar[bar].size ||
	    pba_off + 8ull * ((nvec + 63) / 64) > f->bar[bar].size)
		return -EINVAL;
	int off = pci_add_cap(f, PCI_CAP_ID_MSIX, 12);
	if (off < 0)
		return off;
	f->msix.table = calloc(nvec, 16);
	f->msix.pba = calloc((nvec + 63) / 64, 8);
	if (f->msix.table == NULL || f->msix.pba == NULL)
		return -ENOMEM;
	f->msix.cap = (uint8_t)off;
	f->msix.bar = bar;
	f->msix.nvec = nvec;
	f->msix.table_off = table_off;
	f->msix.pba_off = pba_off;
	for (unsigned i = 0; i < nvec; i++)
		f->msix.table[16 * i + 12] = 1;         /* masked at reset */
	pci_cfg_set16(f, MSIX_CTRL(f), (uint16_t)(nvec - 1));
	pci_cfg_set32(f, off + PCI_MSIX_TABLE, table_off | (uint32_t)bar);
	pci_cfg_set32(f, off + PCI_MSIX_PBA, pba_off | (uint32_t)bar);
	f->wmask[MSIX_CTRL(f) + 1] = (PCI_MSIX_FLAGS_ENABLE |
	    PCI_MSIX_FLAGS_MASKALL) >> 8;
	return 0;
}

static bool
msix_enabled(struct pci_func *f)
{
	return f->msix.cap && (pci_cfg_get16(f, MSIX_CTRL(f)) &
	    PCI_MSIX_FLAGS_ENABLE);
}

static bool
msix_vec_masked(struct pci_func *f, unsigned v)
{
	return (pci_cfg_get16(f, MSIX_CTRL(f)) & PCI_MSIX_FLAGS_MASKALL) ||
	    (f->msix.table[16 * v + 12] & 1);
}

static void
msix_message(struct pci_func *f, unsigned v, uint64_t *addr, uint32_t *data)
{
	memcpy(addr, f->msix.table + 16 * v, 8);
	memcpy(data, f->msix.table + 16 * v + 8, 4);
}

static void
msix_send(struct pci_func *f, unsigned v)
{
	uint64_t addr;
	uint32_t data;
	msix_message(f, v, &addr, &data);
	msi_deliver(f, v, addr, data);
}

static void
pba_set(struct pci_func *f, unsigned v)
{
	f->msix.pba[v / 64] |= 1ull << (v % 64);
}

/* Vector v's route follows its table entry and the masks. */
static void
msix_route_update(struct pci_func *f, unsigned v)
{
	uint64_t addr;
	uint32_t data;
	msix_message(f, v, &addr, &data);
	bool on = msix_enabled(f);
	bool live = on && !msix_vec_masked(f, v) && is_lapic(addr);
	if (irqroute_update(f, v, live, addr, data) && on)
		pba_set(f, v);
}

static void
msix_routes_update(struct pci_func *f)
{
	for (unsigned v = 0; v < f->msix.nvec; v++)
		msix_route_update(f, v);
}

static int
msix_raise(struct pci_func *f, unsigned v)
{
	if (v >= f->msix.nvec)
		return -EINVAL;
	if (msix_vec_masked(f, v)) {
		pba_set(f, v);
		return 0;
	}
	msix_send(f, v);
	return 0;
}

static void
msix_flush_pending(struct pci_func *f)
{
	if (!msix_enabled(f))
		return;
	for (unsigned v = 0; v < f->msix.nvec; v++)
		if ((f->msix.pba[v / 64] & (1ull << (v % 64))) &&
		    !msix_vec_masked(f, v)) {
			f->msix.pba[v / 64] &= ~(1ull << (v % 64));
			msix_send(f, v);
		}
}

void
msix_cfg_written(struct pci_func *f)
{
	if (msix_enabled(f))
		msix_routes_update(f);
	else
		msi_routes_update(f);   /* MSI's vectors, or none */
	msix_flush_pending(f);
}

int
msix_table_io(struct pci_func *f, uint64_t off, uint8_t *data, unsigned len,
    bool write)
{
	/* Aligned 4- and 8-byte accesses only, as the specification allows. */
	if ((len != 4 && len != 8) || (off & (len - 1))) {
		if (!write)
			memset(data, 0xff, len);
		return -EINVAL;
	}
	uint64_t t0 = f->msix.table_off, t1 = t0 + 16ull * f->msix.nvec;
	if (off >= t0 && off + len <= t1) {
		uint8_t *e = f->msix.table + (off - t0);
		if (!write) {
			memcpy(data, e, len);
			return 0;
		}
		unsigned v = (unsigned)((off - t0) / 16);
		bool was_masked = msix_vec_masked(f, v);
		memcpy(e, data, len);
		/* Vector control: only the mask bit is writable. */
		uint8_t *ctl = f->msix.table + 16 * v + 12;
		ctl[0] &= 1;
		ctl[1] = ctl[2] = ctl[3] = 0;
		if (msix_enabled(f))
			msix_route_update(f, v);
		if (was_masked && !msix_vec_masked(f, v))
			msix_flush_pending(f);
		return 0;
	}
	uint64_t p0 = f->msix.pba_off;
	if (off >= p0 && off + len <= p0 + 8ull * ((f->msix.nvec + 63) / 64)) {
		if (!write) {
			/* Messages an outside producer held in the eventfds
			 * of masked vectors are pending too. */
			unsigned v0 = (unsigned)(off - p0) * 8;
			for (unsigned v = v0; v < v0 + 8 * len &&
			    v < f->msix.nvec; v++)
				if (msix_enabled(f) && irqroute_drain(f, v))
					pba_set(f, v);
			memcpy(data, (uint8_t *)f->msix.pba + (off - p0), len);
		}
		return 0;       /* the PBA is read-only */
	}
	if (!write)
		memset(data, 0xff, len);
	return -EINVAL;
}

bool
pci_msix_enabled(struct pci_func *f)
{
	pthread_mutex_lock(&f->lock);
	bool on = msix_enabled(f);
	pthread_mutex_unlock(&f->lock);
	return on;
}

int
pci_raise(struct pci_func *f, unsigned v)
{
	pthread_mutex_lock(&f->lock);
	int r;
	if (msix_enabled(f))
		r = msix_raise(f, v);
	else if (f->msi.cap)
		r = msi_raise(f, v);
	else
		r = -EAGAIN;
	pthread_mutex_unlock(&f->lock);
	return r;
}
