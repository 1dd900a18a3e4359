/*
 * PCI functions on bus 0: configuration space with write masks, BAR
 * placement and decoding, capability lists.  Every value the guest writes
 * passes through the write mask, so read-only fields stay as the device
 * model set them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/pci_regs.h>

#include "devices/pci/pci.h"
#include "devices/pci/pcibus.h"
#include "vmm/abi.h"
#include "vmm/log.h"
#include "vmm/vm.h"

void
pci_cfg_set8(struct pci_func *f, unsigned off, uint8_t v)
{
	f->cfg[off] = v;
}

void
pci_cfg_set16(struct pci_func *f, unsigned off, uint16_t v)
{
	memcpy(f->cfg + off, &v, 2);
}

void
pci_cfg_set32(struct pci_func *f, unsigned off, uint32_t v)
{
	memcpy(f->cfg + off, &v, 4);
}

uint16_t
pci_cfg_get16(const struct pci_func *f, unsigned off)
{
	uint16_t v;
	memcpy(&v, f->cfg + off, 2);
	return v;
}

uint32_t
pci_cfg_get32(const struct pci_func *f, unsigned off)
{
	uint32_t v;
	memcpy(&v, f->cfg + off, 4);
	return v;
}

static void
wmask_set(struct pci_func *f, unsigned off, unsigned len, uint32_t mask)
{
	for (unsigned i = 0; i < len; i++)
		f->wmask[off + i] = (uint8_t)(mask >> (8 * i));
}

static int
parse_slot(const char *s, unsigned *slot, unsigned *fn)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (end == s || v > 31)
		return -EINVAL;
	*slot = (unsigned)v;
	*fn = 0;
	if (*end == ':') {
		const char *p = end + 1;
		v = strtoul(p, &end, 10);
		if (end == p || v > 7)
			return -EINVAL;
		*fn = (unsigned)v;
	}
	return *end == '\0' ? 0 : -EINVAL;
}

static void
func_destroy(void *arg)
{
	struct pci_func *f = arg;
	if (f->msi.cap || f->msix.cap)
		pr_info("%s (slot %u:%u): %" PRIu64 " interrupts: %" PRIu64
		    " through irqfd, %" PRIu64 " with KVM_SIGNAL_MSI, %" PRIu64
		    " memory writes", f->name, f->slot, f->fn, f->msgs_sent,
		    f->msgs_irqfd, f->msgs_ioctl, f->msgs_mem);
	if (f->intx_asserts)
		pr_info("%s (slot %u:%u): INTx asserted %" PRIu64 " times",
		    f->name, f->slot, f->fn, f->intx_asserts);
	irqroute_free(f);
	free(f->msix.table);
	free(f->msix.pba);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

int
pci_func_create(struct vm *vm, const char *slotspec, const char *name,
    const struct pci_ops *ops, void *priv, struct pci_func **out,
    char *err, size_t errlen)
{
	struct pci_bus *bus = vm->pci;
	unsigned slot, fn;
	if (bus == NULL) {
		snprintf(err, errlen, "%s: no PCI bus", name);
		return -ENODEV;
	}
	if (parse_slot(slotspec, &slot, &fn) < 0) {
		snprintf(err, errlen, "%s: bad slot '%s' (0-31, function 0-7)",
		    name, slotspec);
		return -EINVAL;
	}
	if (bus->func[slot][fn] != NULL) {
		snprintf(err, errlen, "%s: slot %u:%u is taken by %s", name, slot,
		    fn, bus->func[slot][fn]->name);
		return -EBUSY;
	}
	struct pci_func *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -ENOMEM;
	f->vm = vm;
	f->slot = (uint8_t)slot;
	f->fn = (uint8_t)fn;
	snprintf(f->name, sizeof(f->name), "%s", name);
	pthread_mutex_init(&f->lock, NULL);
	f->ops = ops;
	f->priv = priv;
	f->cap_end = 0x40;
	/* Command: I/O, memory, bus master, INTx disable are writable. */
	wmask_set(f, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY |
	    PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE |
	    PCI_COMMAND_SERR | PCI_COMMAND_PARITY);
	wmask_set(f, PCI_CACHE_LINE_SIZE, 1, 0xff);
	wmask_set(f, PCI_LATENCY_TIMER, 1, 0xff);
	wmask_set(f, PCI_INTERRUPT_LINE, 1, 0xff);
	int r = vm_add_hook(vm, false, func_destroy, f);
	if (r < 0) {
		func_destroy(f);
		return r;
	}
	bus->func[slot][fn] = f;
	/* A function other than 0 makes function 0 multi-function. */
	if (fn != 0 && bus->func[slot][0] != NULL)
		bus->func[slot][0]->cfg[PCI_HEADER_TYPE] |= 0x80;
	if (fn == 0)
		for (int i = 1; i < 8; i++)
			if (bus->func[slot][i] != NULL)
				f->cfg[PCI_HEADER_TYPE] |= 0x80;
	*out = f;
	return 0;
}

void
pci_set_ids(struct pci_func *f, uint16_t vendor, uint16_t device,
    uint8_t class, uint8_t subclass, uint8_t progif, uint16_t subvendor,
    uint16_t subdevice)
{
	pci_cfg_set16(f, PCI_VENDOR_ID, vendor);
	pci_cfg_set16(f, PCI_DEVICE_ID, device);
	pci_cfg_set8(f, PCI_CLASS_PROG, progif);
	pci_cfg_set8(f, PCI_CLASS_DEVICE, subclass);
	pci_cfg_set8(f, PCI_CLASS_DEVICE + 1, class);
	pci_cfg_set16(f, PCI_SUBSYSTEM_VENDOR_ID, subvendor);
	pci_cfg_set16(f, PCI_SUBSYSTEM_ID, subdevice);
}

static uint64_t
align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

int
pci_add_bar(struct pci_func *f, int idx, enum pci_bar_type type,
    uint64_t size)
{
	struct pci_bus *bus = f->vm->pci;
	if (idx < 0 || idx > 5 || (type == PCI_BAR_MEM64 && idx == 5) ||
	    size == 0 || (size & (size - 1)))
		return -EINVAL;
	uint64_t *next, end;
	uint32_t lowbits;
	switch (type) {
	case PCI_BAR_IO:
		if (size < 4 || size > 256)
			return -EINVAL;
		next = &bus->io_next;
		end = HYVE_PCI_IO_END;
		lowbits = PCI_BASE_ADDRESS_SPACE_IO;
		break;
	case PCI_BAR_MEM32:
		if (size < 16)
			return -EINVAL;
		next = &bus->mmio32_next;
		end = HYVE_PCI_MMIO32_END;
		lowbits = 0;
		break;
	case PCI_BAR_MEM64:
		if (size < 16)
			return -EINVAL;
		next = &bus->mmio64_next;
		end = HYVE_PCI_MMIO64_END;
		lowbits = PCI_BASE_ADDRESS_MEM_TYPE_64;
		break;
	default:
		return -EINVAL;
	}
	/* Memory BARs take at least a page so each maps on its own. */
	uint64_t align = type == PCI_BAR_IO ? size : (size < 4096 ? 4096 : size);
	uint64_t addr = align_up(*next, align);
	if (addr + size > end || addr + size < addr)
		return -ENOSPC;
	*next = addr + (type == PCI_BAR_IO ? size : align);
	struct pci_bar *b = &f->bar[idx];
	b->type = type;
	b->size = size;
	b->addr = addr;
	unsigned off = PCI_BASE_ADDRESS_0 + 4 * (unsigned)idx;
	pci_cfg_set32(f, off, (uint32_t)addr | lowbits);
	uint64_t mask = ~(size - 1);
	wmask_set(f, off, 4, (uint32_t)mask & (type == PCI_BAR_IO ? ~3u : ~15u));
	if (type == PCI_BAR_MEM64) {
		pci_cfg_set32(f, off + 4, (uint32_t)(addr >> 32));
		wmask_set(f, off + 4, 4, (uint32_t)(mask >> 32));
		f->bar[idx + 1].type = PCI_BAR_NONE;
	}
	return 0;
}

int
pci_add_cap(struct pci_func *f, uint8_t id, unsigned len)
{
	unsigned off = f->cap_end;
	if (len < 2 || off + len > 0x100)
		return -ENOSPC;
	f->cfg[off] = id;
	f->cfg[off + 1] = f->cfg[PCI_CAPABILITY_LIST];  /* push front */
	f->cfg[PCI_CAPABILITY_LIST] = (uint8_t)off;
	pci_cfg_set16(f, PCI_STATUS, pci_cfg_get16(f, PCI_STATUS) |
	    PCI_STATUS_CAP_LIST);
	f->cap_end = (uint8_t)((off + len + 3) & ~3u);
	return (int)off;
}

/* BAR decoding: map or unmap a BAR on its bus. */
static int bar_access(struct vcpu *vcpu, uint64_t addr, uint8_t *data,
    unsigned len, bool write, void *opaque);

static void
bar_unmap(struct pci_func *f, int i)
{
	struct pci_bar *b = &f->bar[i];
	if (!b->mapped)
		return;
	struct bus *bus = b->type == PCI_BAR_IO ? &f->vm->pio : &f->vm->mmio;
	(void)bus_unregister(bus, b->addr);
	b->mapped = false;
	if (f->ops && f->ops->bar_mapped)
		f->ops->bar_mapped(f, i, false);
}

static void
bar_map(struct pci_func *f, int i)
{
	struct pci_bus *pb = f->vm->pci;
	struct pci_bar *b = &f->bar[i];
	struct bus *bus = b->type == PCI_BAR_IO ? &f->vm->pio : &f->vm->mmio;
	/* A BAR the guest moved onto RAM, another device or address 0 is
	 * left unmapped: the architected answer to a bad programming is that
	 * the access goes nowhere. */
	if (b->addr == 0 || (b->type != PCI_BAR_IO &&
	    gpa_to_hva(&f->vm->mem, b->addr, 1) != NULL)) {
		pr_warn("%s: BAR%d at 0x%llx overlaps RAM; not decoded", f->name,
		    i, (unsigned long long)b->addr);
		return;
	}
	struct bar_ref *ref = &pb->barref[f->slot][f->fn][i];
	ref->f = f;
	ref->idx = i;
	int r = bus_register(bus, b->addr, b->size, bar_access, ref, f->name);
	if (r == 0) {
		b->mapped = true;
		if (f->ops && f->ops->bar_mapped)
			f->ops->bar_mapped(f, i, true);
	} else
		pr_warn("%s: BAR%d at 0x%llx: %s; not decoded", f->name, i,
		    (unsigned long long)b->addr, strerror(-r));
}

/* Re-read the BAR registers and the command register, and make the bus
 * mappings follow them. */
static void
update_bars(struct pci_func *f)
{
	uint16_t cmd = pci_cfg_get16(f, PCI_COMMAND);
	for (int i = 0; i < 6; i++) {
		struct pci_bar *b = &f->bar[i];
		if (b->type == PCI_BAR_NONE)
			continue;
		unsigned off = PCI_BASE_ADDRESS_0 + 4 * (unsigned)i;
		uint64_t addr;
		if (b->type == PCI_BAR_IO)
			addr = pci_cfg_get32(f, off) & ~3u;
		else
			addr = pci_cfg_get32(f, off) & ~15u;
		if (b->type == PCI_BAR_MEM64)
			addr |= (uint64_t)pci_cfg_get32(f, off + 4) << 32;
		bool enable = b->type == PCI_BAR_IO ? (cmd & PCI_COMMAND_IO) :
		    (cmd & PCI_COMMAND_MEMORY);
		/* While the guest sizes a BAR it reads all-ones back; such an
		 * address is not decoded. */
		bool sizing = (addr | (b->size - 1)) == (b->type == PCI_BAR_IO ?
		    0xffffffffull : b->type == PCI_BAR_MEM32 ? 0xffffffffull :
		    UINT64_MAX);
		if (b->mapped && (!enable || addr != b->addr || sizing))
			bar_unmap(f, i);
		b->addr = addr;
		if (enable && !sizing && !b->mapped)
			bar_map(f, i);
	}
}

static int
bar_access(struct vcpu *vcpu, uint64_t addr, uint8_t *data, unsigned len,
    bool write, void *opaque)
{
	struct bar_ref *ref = opaque;
	struct pci_func *f = ref->f;
	struct pci_bar *b = &f->bar[ref->idx];
	uint64_t off = addr - b->addr;
	if (f->msix.cap && ref->idx == f->msix.bar) {
		uint64_t t0 = f->msix.table_off, t1 = t0 + 16ull * f->msix.nvec;
		uint64_t p0 = f->msix.pba_off, p1 = p0 + 8ull * ((f->msix.nvec + 63) / 64);
		if ((off >= t0 && off < t1) || (off >= p0 && off < p1)) {
			pthread_mutex_lock(&f->lock);
			int r = msix_table_io(f, off, data, len, write);
			pthread_mutex_unlock(&f->lock);
			if (write && r == 0 && off >= t0 && off < t1 && f->ops &&
			    f->ops->msix_written)
				f->ops->msix_written(f, (unsigned)((off - t0) / 16));
			return r;
		}
	}
	if (f->ops == NULL || f->ops->bar_io == NULL)
		return -ENODEV;
	return f->ops->bar_io(vcpu, f, ref->idx, off, data, len, write);
}

int
pci_cfg_read(struct pci_func *f, unsigned off, unsigned len, uint32_t *v)
{
	if (off + len > sizeof(f->cfg) || (len != 1 && len != 2 && len != 4))
		return -EINVAL;
	uint32_t x = 0;
	pthread_mutex_lock(&f->lock);
	memcpy(&x, f->cfg + off, len);
	pthread_mutex_unlock(&f->lock);
	if (f->ops && f->ops->cfg_read)
		f->ops->cfg_read(f, off, len, &x);
	*v = x;
	return 0;
}

static bool
overlaps(unsigned off, unsigned len, unsigned lo, unsigned n)
{
	return off < lo + n && lo < off + len;
}

int
pci_cfg_write(struct pci_func *f, unsigned off, unsigned len, uint32_t v)
{
	if (off + len > sizeof(f->cfg) || (len != 1 && len != 2 && len != 4))
		return -EINVAL;
	pthread_mutex_lock(&f->lock);
	for (unsigned i = 0; i < len; i++) {
		uint8_t m = f->wmask[off + i];
		uint8_t b = (uint8_t)(v >> (8 * i));
		f->cfg[off + i] = (uint8_t)((f->cfg[off + i] & ~m) | (b & m));
	}
	if (overlaps(off, len, PCI_COMMAND, 2) ||
	    overlaps(off, len, PCI_BASE_ADDRESS_0, 24))
		update_bars(f);
	if (f->intx && overlaps(off, len, PCI_COMMAND, 2))
		intx_update(f);
	if (f->msi.cap && overlaps(off, len, f->msi.cap, 24))
		msi_cfg_written(f);
	if (f->msix.cap && overlaps(off, len, f->msix.cap, 12))
		msix_cfg_written(f);
	pthread_mutex_unlock(&f->lock);
	if (f->ops && f->ops->cfg_write)
		f->ops->cfg_write(f, off, len, v);
	if (f->ops && f->ops->cfg_written)
		f->ops->cfg_written(f, off, len);
	return 0;
}

struct pci_func *
pci_lookup(struct vm *vm, unsigned slot, unsigned fn)
{
	struct pci_bus *bus = vm->pci;
	if (bus == NULL || slot > 31 || fn > 7)
		return NULL;
	return bus->func[slot][fn];
}
