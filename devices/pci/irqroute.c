/*
 * MSI and MSI-X vectors of emulated functions delivered through the
 * kernel module's irqfds.  Each vector that the guest makes live (enabled,
 * unmasked, aimed at the local APICs) gets an eventfd and a GSI routed as
 * its message; the eventfd is attached to the GSI with an irqfd, so raising
 * the vector is one eventfd write from whichever thread raises it, and a
 * producer outside hyve (vhost) can raise it with no hyve thread involved.
 * A masked or disabled vector is detached: writes to its eventfd are then
 * held by the eventfd's counter and collected as the vector's pending bit.
 * Routes follow every table or capability write that changes a live
 * vector's address or data.  Without irqfds (the module lacks them, a route
 * cannot be had, or HYVE_IRQFD=off) msi.c sends with KVM_SIGNAL_MSI.
 * All functions but pci_vector_eventfd run with f->lock held.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/pci/pci.h"
#include "vmm/log.h"
#include "vmm/vm.h"

/* -1 unknown, else whether the module has irqfds and GSI routing. */
static int have_irqfd = -1;

static bool
irqfd_wanted(void)
{
	const char *e = getenv("HYVE_IRQFD");
	return e == NULL || (strcmp(e, "off") != 0 && strcmp(e, "0") != 0);
}

bool
pci_irqfd_enabled(struct pci_func *f)
{
	if (f->vm->hv == NULL || f->irqfd_failed)
		return false;
	int h = __atomic_load_n(&have_irqfd, __ATOMIC_RELAXED);
	if (h < 0) {
		h = hv_has_irqfd() && irqfd_wanted();
		__atomic_store_n(&have_irqfd, h, __ATOMIC_RELAXED);
	}
	return h;
}

static struct pci_vec *
vec_get(struct pci_func *f, unsigned v)
{
	if (f->vec == NULL) {
		unsigned n = f->msix.nvec > f->msi.nvec ? f->msix.nvec : f->msi.nvec;
		if (n == 0 || (f->vec = calloc(n, sizeof(*f->vec))) == NULL)
			return NULL;
		for (unsigned i = 0; i < n; i++)
			f->vec[i] = (struct pci_vec){ .efd = -1, .gsi = -1 };
		f->nvec_route = n;
	}
	return v < f->nvec_route ? &f->vec[v] : NULL;
}

static void
detach(struct pci_func *f, struct pci_vec *pv)
{
	if (pv->attached)
		(void)hv_vm_irqfd(f->vm->hv, pv->efd, pv->gsi, false);
	pv->attached = false;
}

/* Whether the eventfd was written since it was last read. */
static bool
drain(struct pci_vec *pv)
{
	uint64_t n = 0;
	if (pv->efd < 0 || read(pv->efd, &n, sizeof(n)) != sizeof(n))
		return false;
	return n > 0;
}

/* Something failed: every vector goes back to KVM_SIGNAL_MSI. */
static void
give_up(struct pci_func *f, unsigned v, const char *what, int err)
{
	pr_warn("%s (slot %u): vector %u: %s: %s; interrupts go through "
	    "KVM_SIGNAL_MSI", f->name, f->slot, v, what, strerror(-err));
	for (unsigned i = 0; i < f->nvec_route; i++)
		detach(f, &f->vec[i]);
	f->irqfd_failed = true;
}

bool
irqroute_update(struct pci_func *f, unsigned v, bool live, uint64_t addr,
    uint32_t data)
{
	if (!live || !pci_irqfd_enabled(f)) {
		struct pci_vec *pv = f->vec && v < f->nvec_route ? &f->vec[v] : NULL;
		if (pv == NULL)
			return false;
		detach(f, pv);
		return drain(pv);
	}
	struct pci_vec *pv = vec_get(f, v);
	if (pv == NULL)
		return false;
	int r = 0;
	if (pv->efd < 0 && (pv->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		give_up(f, v, "eventfd", -errno);
		return false;
	}
	if (pv->gsi < 0) {
		r = hv_vm_msi_route(f->vm->hv, addr, data);
		if (r < 0) {
			give_up(f, v, "no MSI route", r);
			return drain(pv);
		}
		pv->gsi = r;
	} else if (pv->addr != addr || pv->data != data) {
		r = hv_vm_msi_route_set(f->vm->hv, pv->gsi, addr, data);
		if (r < 0) {
			give_up(f, v, "MSI route", r);
			return drain(pv);
		}
	}
	pv->addr = addr;
	pv->data = data;
	/* Writes that came while detached are the caller's to deliver (as a
	 * pending message); drain them first, or attaching would send them
	 * on its own. */
	bool held = drain(pv);
	if (!pv->attached) {
		r = hv_vm_irqfd(f->vm->hv, pv->efd, pv->gsi, true);
		if (r < 0)
			give_up(f, v, "irqfd", r);
		else
			pv->attached = true;
	}
	return held;
}

bool
irqroute_drain(struct pci_func *f, unsigned v)
{
	if (f->vec == NULL || v >= f->nvec_route || f->vec[v].attached)
		return false;
	return drain(&f->vec[v]);
}

bool
irqroute_send(struct pci_func *f, unsigned v, uint64_t addr, uint32_t data)
{
	if (f->vec == NULL || v >= f->nvec_route)
		return false;
	struct pci_vec *pv = &f->vec[v];
	if (!pv->attached || pv->addr != addr || pv->data != data)
		return false;
	uint64_t one = 1;
	return write(pv->efd, &one, sizeof(one)) == sizeof(one);
}

int
pci_vector_eventfd(struct pci_func *f, unsigned v)
{
	pthread_mutex_lock(&f->lock);
	int r = -EOPNOTSUPP;
	if (pci_irqfd_enabled(f)) {
		struct pci_vec *pv = vec_get(f, v);
		r = -EINVAL;
		if (pv != NULL) {
			if (pv->efd < 0)
				pv->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			r = pv->efd >= 0 ? pv->efd : -errno;
		}
	}
	pthread_mutex_unlock(&f->lock);
	return r;
}

void
irqroute_free(struct pci_func *f)
{
	for (unsigned i = 0; i < f->nvec_route; i++) {
		struct pci_vec *pv = &f->vec[i];
		detach(f, pv);
		if (pv->gsi >= 0)
			hv_vm_msi_route_free(f->vm->hv, pv->gsi);
		if (pv->efd >= 0)
			close(pv->efd);
	}
	free(f->vec);
	f->vec = NULL;
	f->nvec_route = 0;
}
