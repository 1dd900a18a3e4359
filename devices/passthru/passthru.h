/*
 * The passthru device's state, shared by its files: passthru.c (set-up,
 * BARs, teardown), cfg.c (configuration space mediation) and intr.c (MSI
 * and MSI-X backed by VFIO interrupts).
 */
#ifndef HYVE_PASSTHRU_H
#define HYVE_PASSTHRU_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/passthru/vfio.h"
#include "devices/pci/pci.h"

struct vm;

#define PT_MAX_CHUNKS 8
#define PT_MAX_CAPS 8
#define PT_MAX_VECS 2048

struct pt_chunk {               /* part of a BAR mapped into the guest */
	uint64_t off, size;
	uint8_t *hva;
	int slot;                       /* KVM slot while mapped, else -1 */
};

struct pt_bar {
	void *map[8];                   /* mmaps of the region's areas */
	uint64_t mapsize[8];
	struct pt_chunk chunk[PT_MAX_CHUNKS];
	unsigned nchunks;
	bool warned;
};

struct pt_cap {                 /* a capability passed through */
	uint8_t id;
	uint8_t voff, poff, len;        /* guest's offset, device's, length */
};

struct pt_vec {
	int efd;                        /* VFIO signals this eventfd */
	int gsi;                        /* MSI route, or -1 */
	bool irqfd;                     /* delivered by KVM, not the thread */
};

enum pt_mode { PT_IRQ_NONE, PT_IRQ_MSI, PT_IRQ_MSIX };

struct passthru {
	struct vm *vm;
	struct pci_func *f;
	struct vfio_dev dev;
	bool opened;
	struct pt_bar bar[VFIO_NBARS];
	struct pt_cap cap[PT_MAX_CAPS];
	unsigned ncaps;
	uint8_t phys_msi, phys_msix;    /* the device's capability offsets */
	bool virtual_msi;               /* MSI the guest sees, INTx behind it */

	/* interrupts (intr.c) */
	pthread_mutex_t ilock;
	enum pt_mode mode;
	unsigned nvec;                  /* vectors connected in VFIO */
	struct pt_vec *vec;             /* max(MSI, MSI-X vectors) */
	unsigned nvec_max;
	bool use_irqfd;
	bool irq_thread;                /* irq=thread: never irqfd */
	int wake;                       /* eventfd: the thread re-reads modes */
	pthread_t thread;
	bool thread_started, stop;
};

/* cfg.c */
int pt_cfg_init(struct passthru *pt, char *err, size_t errlen);
void pt_cfg_read(struct pci_func *f, unsigned off, unsigned len, uint32_t *v);
void pt_cfg_write(struct pci_func *f, unsigned off, unsigned len, uint32_t v);
void pt_cfg_sync_command(struct passthru *pt);

/* intr.c */
int pt_intr_init(struct passthru *pt, char *err, size_t errlen);
void pt_intr_update(struct passthru *pt);
void pt_intr_disable(struct passthru *pt);
void pt_intr_fini(struct passthru *pt);

#endif
