/*
 * VFIO: container, group and device of one host PCI function (see vfio.h).
 * The checks come in the order a user can fix them in: the function exists,
 * the host has an IOMMU, the function is bound to vfio-pci, its group node
 * opens (nobody else uses it), the group is viable (every function in it is
 * bound to vfio-pci or to no driver), the type-1 IOMMU is available.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "devices/passthru/vfio.h"

static void
region_caps(struct vfio_region *r, const struct vfio_region_info *ri)
{
	if (!(ri->flags & VFIO_REGION_INFO_FLAG_CAPS) || ri->cap_offset == 0)
		return;
	const uint8_t *base = (const uint8_t *)ri;
	uint32_t off = ri->cap_offset;
	for (int guard = 0; off && off + sizeof(struct vfio_info_cap_header) <=
	    ri->argsz && guard < 16; guard++) {
		const struct vfio_info_cap_header *h = (const void *)(base + off);
		if (h->id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
			const struct vfio_region_info_cap_sparse_mmap *s =
			    (const void *)h;
			r->nareas = 0;
			for (uint32_t i = 0; i < s->nr_areas && r->nareas < 8; i++) {
				if (off + sizeof(*s) + (i + 1) * sizeof(s->areas[0]) >
				    ri->argsz)
					break;
				if (s->areas[i].size == 0)
					continue;
				r->areas[r->nareas++] = (struct vfio_area){
					s->areas[i].offset, s->areas[i].size };
			}
		}
		off = h->next;
	}
}

static int
region_info(struct vfio_dev *d, unsigned index, struct vfio_region *r)
{
	size_t sz = sizeof(struct vfio_region_info);
	struct vfio_region_info *ri = calloc(1, sz);
	if (ri == NULL)
		return -ENOMEM;
	ri->argsz = (uint32_t)sz;
	ri->index = index;
	if (ioctl(d->device, VFIO_DEVICE_GET_REGION_INFO, ri) < 0)
		goto fail;
	if (ri->argsz > sz) {           /* capabilities follow: ask again */
		sz = ri->argsz;
		struct vfio_region_info *n = realloc(ri, sz);
		if (n == NULL) {
			free(ri);
			return -ENOMEM;
		}
		ri = n;
		memset(ri, 0, sz);
		ri->argsz = (uint32_t)sz;
		ri->index = index;
		if (ioctl(d->device, VFIO_DEVICE_GET_REGION_INFO, ri) < 0)
			goto fail;
	}
	*r = (struct vfio_region){
		.size = ri->size, .offset = ri->offset,
		.readable = ri->flags & VFIO_REGION_INFO_FLAG_READ,
		.writable = ri->flags & VFIO_REGION_INFO_FLAG_WRITE,
		.mmap = ri->flags & VFIO_REGION_INFO_FLAG_MMAP,
	};
	if (r->mmap) {
		r->areas[0] = (struct vfio_area){ 0, r->size };
		r->nareas = 1;
		region_caps(r, ri);
	}
	free(ri);
	return 0;
fail:;
	int e = -errno;
	free(ri);
	return e;
}

static void
close_fds(struct vfio_dev *d)
{
	if (d->device >= 0)
		close(d->device);
	if (d->group >= 0)
		close(d->group);
	if (d->container >= 0)
		close(d->container);
	d->device = d->group = d->container = -1;
}

int
vfio_open(struct vfio_dev *d, const char *addr, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	d->container = d->group = d->device = -1;
	snprintf(d->addr, sizeof(d->addr), "%s", addr);
	int r = hostpci_check(addr, err, errlen);
	if (r < 0)
		return r;
	char drv[64];
	r = hostpci_driver(addr, drv, sizeof(drv));
	if (r < 0 || strcmp(drv, "vfio-pci") != 0) {
		snprintf(err, errlen, "%s is not bound to vfio-pci (driver: %s); "
		    "claim it first: hyvectl passthru claim %s", addr,
		    r < 0 ? strerror(-r) : drv[0] ? drv : "none", addr);
		return -EBUSY;
	}
	d->groupno = hostpci_iommu_group(addr);
	char node[64];
	snprintf(node, sizeof(node), "/dev/vfio/%d", d->groupno);
	d->group = open(node, O_RDWR | O_CLOEXEC);
	if (d->group < 0) {
		r = -errno;
		if (errno == EBUSY)
			snprintf(err, errlen, "%s: IOMMU group %d is in use (%s is "
			    "open in another process)", addr, d->groupno, node);
		else
			snprintf(err, errlen, "%s: cannot open %s: %s", addr, node,
			    strerror(errno));
		return r == -EBUSY || r == -EACCES || r == -ENOENT ? r : -EIO;
	}
	struct vfio_group_status gs = { .argsz = sizeof(gs) };
	if (ioctl(d->group, VFIO_GROUP_GET_STATUS, &gs) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: VFIO_GROUP_GET_STATUS: %s", addr,
		    strerror(errno));
		goto fail;
	}
	if (!(gs.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		char who[300];
		hostpci_group_blockers(addr, who, sizeof(who));
		snprintf(err, errlen, "%s: IOMMU group %d is not viable: other "
		    "devices in it are in use%s%s (claim them too)", addr,
		    d->groupno, who[0] ? ": " : "", who);
		r = -EBUSY;
		goto fail;
	}
	d->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (d->container < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: cannot open /dev/vfio/vfio: %s", addr,
		    strerror(errno));
		goto fail;
	}
	if (ioctl(d->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION ||
	    ioctl(d->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) <= 0) {
		snprintf(err, errlen, "%s: the VFIO type-1 IOMMU is not available "
		    "(modprobe vfio_iommu_type1)", addr);
		r = -ENOENT;
		goto fail;
	}
	if (ioctl(d->group, VFIO_GROUP_SET_CONTAINER, &d->container) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: cannot add IOMMU group %d to a VFIO "
		    "container: %s", addr, d->groupno, strerror(errno));
		goto fail;
	}
	if (ioctl(d->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0) {
		r = -errno;
		/* vfio_iommu_type1 refuses IOMMUs without interrupt remapping
		 * unless allow_unsafe_interrupts is set. */
		snprintf(err, errlen, "%s: cannot set up the type-1 IOMMU: %s%s",
		    addr, strerror(errno), errno == EPERM ? " (no interrupt "
		    "remapping: see vfio_iommu_type1.allow_unsafe_interrupts)" :
		    "");
		goto fail;
	}
	d->device = ioctl(d->group, VFIO_GROUP_GET_DEVICE_FD, addr);
	if (d->device < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: cannot get the VFIO device: %s", addr,
		    strerror(errno));
		goto fail;
	}
	struct vfio_device_info di = { .argsz = sizeof(di) };
	if (ioctl(d->device, VFIO_DEVICE_GET_INFO, &di) < 0 ||
	    !(di.flags & VFIO_DEVICE_FLAGS_PCI) ||
	    di.num_regions <= VFIO_PCI_CONFIG_REGION_INDEX) {
		r = -EINVAL;
		snprintf(err, errlen, "%s: not a VFIO PCI device", addr);
		goto fail;
	}
	d->can_reset = di.flags & VFIO_DEVICE_FLAGS_RESET;
	for (unsigned i = 0; i < VFIO_NBARS; i++) {
		r = region_info(d, VFIO_PCI_BAR0_REGION_INDEX + i, &d->bar[i]);
		if (r < 0) {
			snprintf(err, errlen, "%s: BAR%u: region info: %s", addr, i,
			    strerror(-r));
			goto fail;
		}
	}
	r = region_info(d, VFIO_PCI_CONFIG_REGION_INDEX, &d->cfg);
	if (r < 0) {
		snprintf(err, errlen, "%s: config space: region info: %s", addr,
		    strerror(-r));
		goto fail;
	}
	for (unsigned i = 0; i <= VFIO_PCI_MSIX_IRQ_INDEX && i < di.num_irqs; i++) {
		struct vfio_irq_info ii = { .argsz = sizeof(ii), .index = i };
		if (ioctl(d->device, VFIO_DEVICE_GET_IRQ_INFO, &ii) == 0 &&
		    (ii.flags & VFIO_IRQ_INFO_EVENTFD))
			d->irq_count[i] = ii.count;
	}
	return 0;
fail:
	close_fds(d);
	return r;
}

void
vfio_close(struct vfio_dev *d)
{
	close_fds(d);
}

int
vfio_map_dma(struct vfio_dev *d, uint64_t iova, uint64_t size, void *hva)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uint64_t)(uintptr_t)hva, .iova = iova, .size = size,
	};
	return ioctl(d->container, VFIO_IOMMU_MAP_DMA, &m) < 0 ? -errno : 0;
}

int
vfio_reset(struct vfio_dev *d)
{
	if (!d->can_reset)
		return -ENOTSUP;
	return ioctl(d->device, VFIO_DEVICE_RESET) < 0 ? -errno : 0;
}

int
vfio_region_rw(struct vfio_dev *d, const struct vfio_region *r, uint64_t off,
    void *buf, size_t len, bool write)
{
	if (off > r->size || len > r->size - off)
		return -EINVAL;
	ssize_t n = write ? pwrite(d->device, buf, len, (off_t)(r->offset + off)) :
	    pread(d->device, buf, len, (off_t)(r->offset + off));
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int
vfio_irq_eventfds(struct vfio_dev *d, unsigned index, const int *fds,
    unsigned n)
{
	size_t sz = sizeof(struct vfio_irq_set) + n * sizeof(int32_t);
	struct vfio_irq_set *s = calloc(1, sz);
	if (s == NULL)
		return -ENOMEM;
	s->argsz = (uint32_t)sz;
	s->index = index;
	s->start = 0;
	s->count = n;
	s->flags = VFIO_IRQ_SET_ACTION_TRIGGER |
	    (n ? VFIO_IRQ_SET_DATA_EVENTFD : VFIO_IRQ_SET_DATA_NONE);
	for (unsigned i = 0; i < n; i++)
		((int32_t *)s->data)[i] = fds[i];
	int r = ioctl(d->device, VFIO_DEVICE_SET_IRQS, s) < 0 ? -errno : 0;
	free(s);
	return r;
}

int
vfio_irq_unmask(struct vfio_dev *d, unsigned index)
{
	struct vfio_irq_set s = {
		.argsz = sizeof(s), .index = index, .start = 0, .count = 1,
		.flags = VFIO_IRQ_SET_ACTION_UNMASK | VFIO_IRQ_SET_DATA_NONE,
	};
	return ioctl(d->device, VFIO_DEVICE_SET_IRQS, &s) < 0 ? -errno : 0;
}
