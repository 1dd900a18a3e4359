/*
 * Interrupts of a passed-through function.  The guest programs hyve's
 * emulated MSI or MSI-X capability; each time it changes (enable, vector
 * count, an address, data or mask), the vectors are connected to VFIO
 * (VFIO_DEVICE_SET_IRQS with one eventfd per vector) and each eventfd is
 * delivered one of two ways:
 *   - by KVM itself (irqfd on a GSI routed as that vector's MSI) while the
 *     vector is unmasked and aims at the local APICs, when the module has
 *     irqfds;
 *   - otherwise by this file's thread, which reads the eventfd and calls
 *     pci_raise: masked vectors then become pending and are sent on
 *     unmask, as the emulation does for any device.
 * A function with only INTx gets a virtual MSI capability: its INTx
 * eventfd raises the MSI vector, and the line is unmasked after each one.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>

#include "devices/passthru/passthru.h"
#include "vmm/abi.h"
#include "vmm/log.h"
#include "vmm/vm.h"

struct vec_want {
	uint64_t addr;
	uint32_t data;
	bool masked;
};

static void
drain(int fd)
{
	uint64_t n;
	(void)!read(fd, &n, sizeof(n));
}

static void
wake_thread(struct passthru *pt)
{
	uint64_t one = 1;
	(void)!write(pt->wake, &one, sizeof(one));
}

static void *
intr_thread(void *arg)
{
	struct passthru *pt = arg;
	struct pollfd *pfd = calloc(pt->nvec_max + 1, sizeof(*pfd));
	unsigned *which = calloc(pt->nvec_max + 1, sizeof(*which));
	if (pfd == NULL || which == NULL) {
		pr_err("%s: interrupt thread: out of memory", pt->f->name);
		free(pfd);
		free(which);
		return NULL;
	}
	for (;;) {
		unsigned n = 0;
		pfd[n++] = (struct pollfd){ .fd = pt->wake, .events = POLLIN };
		pthread_mutex_lock(&pt->ilock);
		bool stop = pt->stop;
		for (unsigned v = 0; v < pt->nvec; v++)
			if (!pt->vec[v].irqfd) {
				which[n] = v;
				pfd[n++] = (struct pollfd){ .fd = pt->vec[v].efd,
				    .events = POLLIN };
			}
		pthread_mutex_unlock(&pt->ilock);
		if (stop)
			break;
		if (poll(pfd, n, -1) < 0)
			continue;
		if (pfd[0].revents & POLLIN) {
			drain(pt->wake);
			continue;               /* modes changed: look again */
		}
		for (unsigned i = 1; i < n; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			drain(pfd[i].fd);
			if (pt->virtual_msi) {
				(void)pci_raise(pt->f, 0);
				/* Level-triggered INTx as an edge MSI: give the
				 * guest's handler a moment, then unmask; a line
				 * still asserted fires again. */
				struct timespec ts = { 0, 200000 };
				nanosleep(&ts, NULL);
				(void)vfio_irq_unmask(&pt->dev, VFIO_IDX_INTX);
			} else {
				(void)pci_raise(pt->f, which[i]);
			}
		}
	}
	free(pfd);
	free(which);
	return NULL;
}

int
pt_intr_init(struct passthru *pt, char *err, size_t errlen)
{
	struct pci_func *f = pt->f;
	pt->nvec_max = f->msix.cap ? f->msix.nvec : 0;
	if (f->msi.cap && f->msi.nvec > pt->nvec_max)
		pt->nvec_max = f->msi.nvec;
	pt->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (pt->wake < 0 || (pt->nvec_max && (pt->vec = calloc(pt->nvec_max,
	    sizeof(*pt->vec))) == NULL)) {
		snprintf(err, errlen, "%s: interrupts: %s", pt->dev.addr,
		    strerror(errno));
		return -errno;
	}
	for (unsigned v = 0; v < pt->nvec_max; v++)
		pt->vec[v] = (struct pt_vec){ .efd = -1, .gsi = -1 };
	for (unsigned v = 0; v < pt->nvec_max; v++) {
		pt->vec[v].efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (pt->vec[v].efd < 0) {
			snprintf(err, errlen, "%s: interrupts: eventfd: %s",
			    pt->dev.addr, strerror(errno));
			return -errno;
		}
	}
	pt->use_irqfd = hv_has_irqfd() && !pt->virtual_msi && !pt->irq_thread;
	int r = pthread_create(&pt->thread, NULL, intr_thread, pt);
	if (r != 0) {
		snprintf(err, errlen, "%s: interrupt thread: %s", pt->dev.addr,
		    strerror(r));
		return -r;
	}
	pt->thread_started = true;
	return 0;
}

/* The guest's view of every vector, read from the emulation. */
static enum pt_mode
want_state(struct passthru *pt, struct vec_want *w, unsigned *n)
{
	struct pci_func *f = pt->f;
	enum pt_mode mode = PT_IRQ_NONE;
	*n = 0;
	pthread_mutex_lock(&f->lock);
	if (f->msix.cap) {
		uint16_t ctrl = pci_cfg_get16(f, f->msix.cap + PCI_MSIX_FLAGS);
		if (ctrl & PCI_MSIX_FLAGS_ENABLE) {
			mode = PT_IRQ_MSIX;
			*n = f->msix.nvec;
			for (unsigned v = 0; v < *n; v++) {
				const uint8_t *e = f->msix.table + 16 * v;
				memcpy(&w[v].addr, e, 8);
				memcpy(&w[v].data, e + 8, 4);
				w[v].masked = (ctrl & PCI_MSIX_FLAGS_MASKALL) ||
				    (e[12] & 1);
			}
		}
	}
	if (mode == PT_IRQ_NONE && f->msi.cap) {
		unsigned c = f->msi.cap;
		uint16_t ctrl = pci_cfg_get16(f, c + PCI_MSI_FLAGS);
		if (ctrl & PCI_MSI_FLAGS_ENABLE) {
			unsigned mme = (ctrl & PCI_MSI_FLAGS_QSIZE) >> 4;
			unsigned cnt = 1u << (mme > 5 ? 5 : mme);
			if (cnt > f->msi.nvec)
				cnt = f->msi.nvec;
			uint64_t addr = pci_cfg_get32(f, c + PCI_MSI_ADDRESS_LO) |
			    (uint64_t)pci_cfg_get32(f, c + PCI_MSI_ADDRESS_HI) << 32;
			uint16_t data = pci_cfg_get16(f, c + PCI_MSI_DATA_64);
			uint32_t mask = pci_cfg_get32(f, c + PCI_MSI_MASK_64);
			mode = PT_IRQ_MSI;
			*n = cnt;
			for (unsigned v = 0; v < cnt; v++) {
				w[v].addr = addr;
				w[v].data = (data & ~(cnt - 1)) | v;
				w[v].masked = mask & (1u << v);
			}
		}
	}
	pthread_mutex_unlock(&f->lock);
	return mode;
}

static void
vec_detach(struct passthru *pt, struct pt_vec *v)
{
	if (v->irqfd)
		(void)hv_vm_irqfd(pt->vm->hv, v->efd, v->gsi, false);
	v->irqfd = false;
}

static unsigned
vfio_index(struct passthru *pt, enum pt_mode m)
{
	return m == PT_IRQ_MSIX ? VFIO_IDX_MSIX : pt->virtual_msi ?
	    VFIO_IDX_INTX : VFIO_IDX_MSI;
}

/* Connect n vectors of mode in VFIO (n == 0: disconnect).  ilock held. */
static void
connect(struct passthru *pt, enum pt_mode mode, unsigned n)
{
	for (unsigned v = 0; v < pt->nvec; v++)
		vec_detach(pt, &pt->vec[v]);
	if (pt->mode != PT_IRQ_NONE)
		(void)vfio_irq_eventfds(&pt->dev, vfio_index(pt, pt->mode), NULL, 0);
	pt->mode = PT_IRQ_NONE;
	pt->nvec = 0;
	if (mode == PT_IRQ_NONE || n == 0)
		return;
	int fds[PT_MAX_VECS];
	unsigned k = pt->virtual_msi ? 1 : n;
	for (unsigned v = 0; v < k; v++)
		fds[v] = pt->vec[v].efd;
	int r = vfio_irq_eventfds(&pt->dev, vfio_index(pt, mode), fds, k);
	if (r < 0) {
		pr_warn("%s: cannot connect %u %s interrupt(s) of %s: %s",
		    pt->f->name, k, mode == PT_IRQ_MSIX ? "MSI-X" : pt->virtual_msi ?
		    "INTx" : "MSI", pt->dev.addr, strerror(-r));
		return;
	}
	pt->mode = mode;
	pt->nvec = k;
}

void
pt_intr_update(struct passthru *pt)
{
	if (pt->nvec_max == 0)
		return;
	struct vec_want *w = calloc(pt->nvec_max, sizeof(*w));
	if (w == NULL)
		return;
	unsigned n;
	enum pt_mode mode = want_state(pt, w, &n);
	pthread_mutex_lock(&pt->ilock);
	if (mode != pt->mode || (mode != PT_IRQ_NONE && n != pt->nvec &&
	    !pt->virtual_msi))
		connect(pt, mode, n);
	for (unsigned v = 0; v < pt->nvec && pt->use_irqfd; v++) {
		struct pt_vec *pv = &pt->vec[v];
		bool direct = !w[v].masked &&
		    (w[v].addr & 0xfff00000ull) == HYVE_LAPIC_BASE;
		if (!direct) {
			vec_detach(pt, pv);
			continue;
		}
		int r = 0;
		if (pv->gsi < 0) {
			r = hv_vm_msi_route(pt->vm->hv, w[v].addr, w[v].data);
			if (r >= 0)
				pv->gsi = r;
		} else {
			r = hv_vm_msi_route_set(pt->vm->hv, pv->gsi, w[v].addr,
			    w[v].data);
		}
		if (r >= 0 && !pv->irqfd) {
			r = hv_vm_irqfd(pt->vm->hv, pv->efd, pv->gsi, true);
			pv->irqfd = r == 0;
		}
		if (r < 0) {
			pr_warn("%s: vector %u: no irqfd (%s); delivered by a thread",
			    pt->f->name, v, strerror(-r));
			vec_detach(pt, pv);
			pt->use_irqfd = false;
		}
	}
	pthread_mutex_unlock(&pt->ilock);
	free(w);
	wake_thread(pt);
}

void
pt_intr_disable(struct passthru *pt)
{
	if (pt->vec == NULL)
		return;
	pthread_mutex_lock(&pt->ilock);
	connect(pt, PT_IRQ_NONE, 0);
	pthread_mutex_unlock(&pt->ilock);
	wake_thread(pt);
}

void
pt_intr_fini(struct passthru *pt)
{
	if (pt->thread_started) {
		pthread_mutex_lock(&pt->ilock);
		pt->stop = true;
		pthread_mutex_unlock(&pt->ilock);
		wake_thread(pt);
		pthread_join(pt->thread, NULL);
		pt->thread_started = false;
	}
	pt_intr_disable(pt);
	for (unsigned v = 0; v < pt->nvec_max && pt->vec; v++) {
		if (pt->vec[v].gsi >= 0)
			hv_vm_msi_route_free(pt->vm->hv, pt->vec[v].gsi);
		if (pt->vec[v].efd >= 0)
			close(pt->vec[v].efd);
	}
	free(pt->vec);
	pt->vec = NULL;
	if (pt->wake >= 0)
		close(pt->wake);
	pt->wake = -1;
}
