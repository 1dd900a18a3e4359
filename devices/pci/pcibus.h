/* The per-VM PCI bus state (vm->pci), owned by the host bridge. */
#ifndef HYVE_PCIBUS_H
#define HYVE_PCIBUS_H

#include <stdint.h>

#include "devices/pci/pci.h"

struct bar_ref;

struct pci_bus {
	struct pci_func *func[32][8];
	struct bar_ref {
		struct pci_func *f;
		int idx;
	} barref[32][8][6];
	uint64_t io_next, mmio32_next, mmio64_next;
	uint32_t cf8;           /* configuration address register */
	pthread_mutex_t lock;
	/* INTx (intx.c): how many functions hold each shared GSI high. */
	pthread_mutex_t intx_lock;
	unsigned intx_count[PCI_INTX_GSIS];
};

#endif
