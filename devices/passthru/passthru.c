/*
 * passthru (-s slot,passthru,BUS/SLOT/FUNCTION[,irq=thread]): a host PCI
 * function bound to vfio-pci, given to the guest.  At start the function
 * is opened through VFIO (vfio.c) and reset, all guest RAM is mapped for
 * its DMA through the type-1 IOMMU, its configuration space is mediated
 * (cfg.c) and its interrupts backed by VFIO eventfds (intr.c).  Its memory
 * BARs are mmapped from VFIO and, wherever the guest places them, put into
 * the guest as KVM memory slots, except the pages holding the MSI-X table
 * and PBA, which stay trapped and emulated; I/O BARs and anything VFIO
 * cannot mmap are forwarded access by access.  At the VM's end (and at a
 * guest reset) interrupts are disconnected and the function is reset;
 * closing the VFIO descriptors releases it and its DMA mappings.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/device.h"
#include "devices/passthru/passthru.h"
#include "vmm/abi.h"
#include "vmm/log.h"
#include "vmm/vm.h"

#define PAGE 4096ull

static int
pt_bar_io(struct vcpu *vcpu, struct pci_func *f, int bar, uint64_t off,
    uint8_t *data, unsigned len, bool write)
{
	(void)vcpu;
	struct passthru *pt = f->priv;
	int r = vfio_region_rw(&pt->dev, &pt->dev.bar[bar], off, data, len,
	    write);
	if (r < 0 && !write)
		memset(data, 0xff, len);
	return r;
}

static void
pt_bar_mapped(struct pci_func *f, int idx, bool mapped)
{
	struct passthru *pt = f->priv;
	struct pt_bar *b = &pt->bar[idx];
	for (unsigned i = 0; i < b->nchunks; i++) {
		struct pt_chunk *c = &b->chunk[i];
		if (!mapped) {
			if (c->slot >= 0)
				(void)hv_vm_remove_slot(f->vm->hv, c->slot);
			c->slot = -1;
			continue;
		}
		int r = hv_vm_add_slot(f->vm->hv, f->bar[idx].addr + c->off,
		    c->size, c->hva);
		if (r >= 0) {
			c->slot = r;
			pr_info("%s: BAR%d+0x%llx: 0x%llx bytes mapped at 0x%llx",
			    f->name, idx, (unsigned long long)c->off,
			    (unsigned long long)c->size,
			    (unsigned long long)(f->bar[idx].addr + c->off));
		} else if (!b->warned) {
			/* Still correct, only slower: accesses are trapped. */
			pr_warn("%s: BAR%d: cannot map 0x%llx bytes at 0x%llx into "
			    "the guest: %s; its accesses are forwarded instead",
			    f->name, idx, (unsigned long long)c->size,
			    (unsigned long long)(f->bar[idx].addr + c->off),
			    strerror(-r));
			b->warned = true;
		}
	}
}

static void
pt_msix_written(struct pci_func *f, unsigned vec)
{
	(void)vec;
	pt_intr_update(f->priv);
}

static const struct pci_ops passthru_ops = {
	.bar_io = pt_bar_io,
	.bar_mapped = pt_bar_mapped,
	.cfg_read = pt_cfg_read,
	.cfg_write = pt_cfg_write,
	.msix_written = pt_msix_written,
};

/* Add chunk [lo, hi) of an mmapped area, minus the MSI-X pages. */
static void
add_chunk(struct pt_bar *b, uint8_t *base, uint64_t lo, uint64_t hi)
{
	if (hi > lo && b->nchunks < PT_MAX_CHUNKS)
		b->chunk[b->nchunks++] = (struct pt_chunk){ lo, hi - lo,
		    base + lo, -1 };
}

static int
map_bar(struct passthru *pt, int i, char *err, size_t errlen)
{
	struct vfio_region *reg = &pt->dev.bar[i];
	struct pt_bar *b = &pt->bar[i];
	struct pci_func *f = pt->f;
	if (f->bar[i].type == PCI_BAR_IO || f->bar[i].type == PCI_BAR_NONE ||
	    !reg->mmap || reg->size < PAGE)
		return 0;               /* forwarded access by access */
	/* The MSI-X table and PBA pages stay trapped. */
	uint64_t t0 = 0, t1 = 0, p0 = 0, p1 = 0;
	if (f->msix.cap && f->msix.bar == i) {
		t0 = f->msix.table_off & ~(PAGE - 1);
		t1 = (f->msix.table_off + 16ull * f->msix.nvec + PAGE - 1) & ~(PAGE - 1);
		p0 = f->msix.pba_off & ~(PAGE - 1);
		p1 = (f->msix.pba_off + 8ull * ((f->msix.nvec + 63) / 64) + PAGE - 1) &
		    ~(PAGE - 1);
	}
	for (unsigned a = 0; a < reg->nareas && a < 8; a++) {
		uint64_t off = reg->areas[a].off, size = reg->areas[a].size;
		if ((off | size) & (PAGE - 1) || size == 0 || off + size > reg->size)
			continue;
		void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
		    pt->dev.device, (off_t)(reg->offset + off));
		if (m == MAP_FAILED) {
			snprintf(err, errlen, "%s: BAR%d: cannot map 0x%llx bytes "
			    "of it: %s", pt->dev.addr, i, (unsigned long long)size,
			    strerror(errno));
			return -errno;
		}
		b->map[a] = m;
		b->mapsize[a] = size;
		uint8_t *base = (uint8_t *)m - off;     /* BAR offset 0 */
		/* [off, off+size) minus [t0, t1) and [p0, p1), in order. */
		uint64_t cuts[2][2] = { { t0, t1 }, { p0, p1 } };
		if (p0 < t0) {
			cuts[0][0] = p0; cuts[0][1] = p1;
			cuts[1][0] = t0; cuts[1][1] = t1;
		}
		uint64_t lo = off, hi = off + size;
		for (int k = 0; k < 2; k++) {
			uint64_t c0 = cuts[k][0], c1 = cuts[k][1];
			if (c1 <= c0 || c1 <= lo || c0 >= hi)
				continue;
			add_chunk(b, base, lo, c0 > lo ? c0 : lo);
			lo = c1;
		}
		add_chunk(b, base, lo, hi);
	}
	return 0;
}

static void
pt_reset(void *arg)
{
	struct passthru *pt = arg;
	pt_intr_disable(pt);
	if (vfio_reset(&pt->dev) == 0)
		pt_cfg_sync_command(pt);
}

/* Two hooks for the VM's end, run in reverse order of registration:
 * pt_stop (registered after the PCI function, so it runs while the
 * function exists) stops interrupts and removes the memory slots;
 * pt_release (registered before VFIO is opened) unmaps the BARs, resets the
 * function and closes VFIO, which releases it and its DMA mappings. */
static void
pt_stop(void *arg)
{
	struct passthru *pt = arg;
	pt_intr_fini(pt);
	for (int i = 0; i < VFIO_NBARS; i++) {
		struct pt_bar *b = &pt->bar[i];
		for (unsigned c = 0; c < b->nchunks; c++)
			if (b->chunk[c].slot >= 0)
				(void)hv_vm_remove_slot(pt->vm->hv, b->chunk[c].slot);
		b->nchunks = 0;
	}
}

static void
pt_release(void *arg)
{
	struct passthru *pt = arg;
	for (int i = 0; i < VFIO_NBARS; i++)
		for (int a = 0; a < 8; a++)
			if (pt->bar[i].map[a])
				munmap(pt->bar[i].map[a], pt->bar[i].mapsize[a]);
	if (pt->opened) {
		int r = vfio_reset(&pt->dev);
		vfio_close(&pt->dev);
		if (r < 0 && r != -ENOTSUP)
			pr_warn("passthru: %s: reset at the end failed: %s",
			    pt->dev.addr, strerror(-r));
		pr_info("passthru: %s %sreleased", pt->dev.addr,
		    r == 0 ? "reset and " : "");
	}
	if (pt->wake >= 0)
		close(pt->wake);
	pthread_mutex_destroy(&pt->ilock);
}

static int
parse_conf(struct passthru *pt, const char *conf, char *addr, char *err,
    size_t errlen)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", conf);
	char *opt = strchr(buf, ',');
	if (opt != NULL)
		*opt++ = '\0';
	if (buf[0] == '\0') {
		snprintf(err, errlen, "passthru: which host device? "
		    "-s slot,passthru,BUS/SLOT/FUNCTION (or 0000:BB:SS.F)");
		return -EINVAL;
	}
	if (hostpci_parse(buf, addr) < 0) {
		snprintf(err, errlen, "passthru: bad host device '%s' (want "
		    "BUS/SLOT/FUNCTION such as 0/3/0, or 0000:00:03.0)", buf);
		return -EINVAL;
	}
	for (char *o = opt, *next; o != NULL; o = next) {
		next = strchr(o, ',');
		if (next)
			*next++ = '\0';
		if (strcmp(o, "irq=thread") == 0) {
			pt->irq_thread = true;
		} else if (strcmp(o, "irq=irqfd") == 0) {
			pt->irq_thread = false;
		} else {
			snprintf(err, errlen, "passthru: unknown option '%s' (known: "
			    "irq=irqfd|thread)", o);
			return -EINVAL;
		}
	}
	return 0;
}

static int
passthru_init(struct vm *vm, const struct dev_config *dc, char *err,
    size_t errlen)
{
	struct passthru *pt = vm_dev_alloc(vm, sizeof(*pt));
	if (pt == NULL)
		return -ENOMEM;
	pt->vm = vm;
	pt->wake = -1;
	pthread_mutex_init(&pt->ilock, NULL);
	char addr[HOSTPCI_ADDR_LEN];
	int r = parse_conf(pt, dc->conf, addr, err, errlen);
	if (r < 0)
		return r;
	r = vm_add_hook(vm, false, pt_release, pt);
	if (r < 0)
		return r;
	char why[280];
	r = vfio_open(&pt->dev, addr, why, sizeof(why));
	if (r < 0) {
		snprintf(err, errlen, "passthru: %s", why);
		return r;
	}
	pt->opened = true;
	r = vfio_reset(&pt->dev);
	if (r < 0 && r != -ENOTSUP) {
		snprintf(err, errlen, "passthru: %s: reset failed: %s", addr,
		    strerror(-r));
		return -EIO;
	}
	if (r == -ENOTSUP)
		pr_warn("passthru: %s has no reset method; used as it is", addr);
	char name[32];
	snprintf(name, sizeof(name), "passthru %.12s", addr + 5);
	r = pci_func_create(vm, dc->slot, name, &passthru_ops, pt, &pt->f, err,
	    errlen);
	if (r == 0)
		r = vm_add_hook(vm, false, pt_stop, pt);
	if (r < 0)
		return r;
	r = pt_cfg_init(pt, why, sizeof(why));
	for (int i = 0; r == 0 && i < VFIO_NBARS; i++)
		if (map_bar(pt, i, why, sizeof(why)) < 0)
			r = -EIO;       /* a BAR that cannot be mapped: exit 70 */
	if (r < 0) {
		snprintf(err, errlen, "passthru: %s", why);
		return r;
	}
	/* All guest RAM for DMA: guest-physical address = I/O virtual
	 * address.  RAM is pinned already (the IOMMU pins it too). */
	struct guest_mem *m = &vm->mem;
	r = vfio_map_dma(&pt->dev, 0, m->lo_size, m->lo);
	if (r == 0 && m->hi_size)
		r = vfio_map_dma(&pt->dev, HYVE_HIGHMEM_START, m->hi_size, m->hi);
	if (r < 0) {
		snprintf(err, errlen, "passthru: %s: cannot map guest RAM (%llu MiB) for "
		    "DMA: %s", addr, (unsigned long long)(m->size >> 20),
		    strerror(-r));
		return -EIO;
	}
	r = pt_intr_init(pt, why, sizeof(why));
	if (r < 0) {
		snprintf(err, errlen, "passthru: %s", why);
		return -EIO;
	}
	r = vm_add_hook(vm, true, pt_reset, pt);
	if (r < 0)
		return r;
	pr_info("passthru: %s in slot %s: %s MSI%s%s, IOMMU group %d",
	    addr, dc->slot, pt->virtual_msi ? "virtual" : "",
	    pt->phys_msix ? ", MSI-X" : "",
	    pt->use_irqfd ? " through irqfd" : " through a thread",
	    pt->dev.groupno);
	return 0;
}

static const struct device_emul passthru = {
	.name = "passthru", .kind = DEV_PCI, .init = passthru_init,
};
DEVICE_EMUL(passthru);
