/*
 * A host PCI function opened through Linux VFIO: its container (type-1
 * IOMMU), its group and its device descriptor; regions (BARs and config
 * space), DMA mappings, interrupts and reset.  The only user of
 * <linux/vfio.h>, with passthru.c's interrupt code.
 */
#ifndef HYVE_VFIO_H
#define HYVE_VFIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/passthru/hostpci.h"

#define VFIO_NBARS 6

struct vfio_area {              /* an mmap-able part of a region */
	uint64_t off, size;
};

struct vfio_region {
	uint64_t size, offset;          /* offset in the device descriptor */
	bool readable, writable, mmap;
	struct vfio_area areas[8];      /* mmap-able parts (whole if none) */
	unsigned nareas;
};

struct vfio_dev {
	char addr[HOSTPCI_ADDR_LEN];
	int container, group, device;
	int groupno;
	bool can_reset;
	struct vfio_region bar[VFIO_NBARS];
	struct vfio_region cfg;
	unsigned irq_count[5];          /* by VFIO_PCI_*_IRQ_INDEX */
};

/* Open addr: check the IOMMU, the vfio-pci binding and the group's
 * viability, set up a type-1 container and get the device.  On failure
 * everything opened is closed and err holds one line. */
int vfio_open(struct vfio_dev *d, const char *addr, char *err, size_t errlen);
void vfio_close(struct vfio_dev *d);

/* Map [iova, iova+size) of the device's DMA space to host memory hva. */
int vfio_map_dma(struct vfio_dev *d, uint64_t iova, uint64_t size, void *hva);
int vfio_reset(struct vfio_dev *d);

/* Read or write len bytes of a region (config space: d->cfg). */
int vfio_region_rw(struct vfio_dev *d, const struct vfio_region *r,
    uint64_t off, void *buf, size_t len, bool write);

/* Interrupts: index is VFIO_PCI_INTX/MSI/MSIX_IRQ_INDEX (0, 1, 2).
 * vfio_irq_eventfds connects vectors 0..n-1 to fds (n == 0 disables the
 * index); vfio_irq_unmask unmasks INTx after it fired. */
enum { VFIO_IDX_INTX = 0, VFIO_IDX_MSI = 1, VFIO_IDX_MSIX = 2 };
int vfio_irq_eventfds(struct vfio_dev *d, unsigned index, const int *fds,
    unsigned n);
int vfio_irq_unmask(struct vfio_dev *d, unsigned index);

#endif
