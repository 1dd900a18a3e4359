/*
 * PCI bus 0: functions with a 4 KiB configuration space, BARs placed by
 * hyve, capability lists, MSI and MSI-X.  A PCI device model creates its
 * function with pci_func_create, describes it (IDs, BARs, capabilities) and
 * handles accesses to its BARs through ops->bar_io.
 */
#ifndef HYVE_PCI_H
#define HYVE_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct vm;
struct vcpu;
struct pci_func;

enum pci_bar_type { PCI_BAR_NONE, PCI_BAR_IO, PCI_BAR_MEM32, PCI_BAR_MEM64 };

struct pci_ops {
	/* Access to bar at offset off.  Required when the device has BARs. */
	int (*bar_io)(struct vcpu *vcpu, struct pci_func *f, int bar,
	    uint64_t off, uint8_t *data, unsigned len, bool write);
	/* Optional: after the guest wrote config space (device registers
	 * beyond the header; the standard fields are handled already). */
	void (*cfg_written)(struct pci_func *f, unsigned off, unsigned len);
	/* Optional: BAR idx was mapped at f->bar[idx].addr, or unmapped
	 * (called with f->lock held). */
	void (*bar_mapped)(struct pci_func *f, int idx, bool mapped);
	/* Optional, for devices whose config space lives partly elsewhere
	 * (passthrough): cfg_read may replace bytes of a guest read after the
	 * emulated value was taken; cfg_write sees every guest write with its
	 * raw value after the emulation applied it.  Called without f->lock. */
	void (*cfg_read)(struct pci_func *f, unsigned off, unsigned len,
	    uint32_t *v);
	void (*cfg_write)(struct pci_func *f, unsigned off, unsigned len,
	    uint32_t v);
	/* Optional: the guest wrote MSI-X table entry vec (without f->lock). */
	void (*msix_written)(struct pci_func *f, unsigned vec);
};

struct pci_bar {
	enum pci_bar_type type;
	uint64_t size;
	uint64_t addr;          /* as programmed */
	bool mapped;            /* registered on a bus at addr */
};

struct msi_state {
	uint8_t cap;            /* offset of the capability, 0 if none */
	unsigned nvec;          /* vectors capable (power of two) */
	uint32_t pending;
};

/* An MSI or MSI-X vector's path through the kernel module's irqfd
 * (devices/pci/irqroute.c): an eventfd bound to a GSI whose MSI route is
 * the vector's address and data, attached while the vector is live. */
struct pci_vec {
	int efd;                /* -1 until the vector first needs one */
	int gsi;                /* -1 until routed */
	bool attached;          /* a write to efd raises gsi */
	uint64_t addr;          /* what gsi is routed as */
	uint32_t data;
};

struct msix_state {
	uint8_t cap;
	int bar;                /* BAR holding table and PBA */
	uint32_t table_off, pba_off;
	unsigned nvec;
	uint8_t *table;         /* nvec * 16 bytes */
	uint64_t *pba;
};

struct pci_func {
	struct vm *vm;
	uint8_t slot, fn;
	char name[32];
	pthread_mutex_t lock;
	uint8_t cfg[4096];
	uint8_t wmask[4096];
	uint8_t cap_end;                /* next free capability offset */
	struct pci_bar bar[6];
	struct msi_state msi;
	struct msix_state msix;
	const struct pci_ops *ops;
	void *priv;
	uint64_t msgs_sent;             /* interrupts delivered */
	/* ... by path: an irqfd, KVM_SIGNAL_MSI, a memory write (an address
	 * outside the local APICs' window). */
	uint64_t msgs_irqfd, msgs_ioctl, msgs_mem;
	struct pci_vec *vec;            /* nvec_route entries, or NULL */
	unsigned nvec_route;
	bool irqfd_failed;              /* fell back to KVM_SIGNAL_MSI */
	/* INTx (intx.c): pin INTA on I/O APIC input intx_gsi, if intx. */
	bool intx;
	uint8_t intx_gsi;
	bool intx_level;                /* what the device asks for */
	bool intx_out;                  /* what it drives (not disabled) */
	uint64_t intx_asserts;
};

/* Create a function at "slot[:func]" (from -s). */
int pci_func_create(struct vm *vm, const char *slotspec, const char *name,
    const struct pci_ops *ops, void *priv, struct pci_func **out,
    char *err, size_t errlen);
void pci_set_ids(struct pci_func *f, uint16_t vendor, uint16_t device,
    uint8_t class, uint8_t subclass, uint8_t progif, uint16_t subvendor,
    uint16_t subdevice);
/* Declare BAR idx (a 64-bit BAR also takes idx+1) and place it. */
int pci_add_bar(struct pci_func *f, int idx, enum pci_bar_type type,
    uint64_t size);
/* Add a capability of len bytes; returns its offset or a negative errno. */
int pci_add_cap(struct pci_func *f, uint8_t id, unsigned len);
int pci_add_msi(struct pci_func *f, unsigned nvec);
int pci_add_msix(struct pci_func *f, unsigned nvec, int bar,
    uint32_t table_off, uint32_t pba_off);

/* Raise vector v: through MSI-X when enabled, else MSI.  Masked vectors
 * are held pending and delivered once on unmask.  Returns 0 when the
 * message was sent or held, -EAGAIN when interrupts are disabled. */
int pci_raise(struct pci_func *f, unsigned v);

/* The eventfd of vector v, for a producer outside hyve (vhost): a write
 * to it raises the vector as pci_raise would, through the module's irqfd;
 * while the vector is masked the write is held as its pending bit and
 * delivered once on unmask.  Returns the fd (owned by f) or -EOPNOTSUPP
 * when the module offers no irqfds (or HYVE_IRQFD=off), -EINVAL for a
 * vector the function does not have. */
int pci_vector_eventfd(struct pci_func *f, unsigned v);
/* Whether f's interrupts go through irqfds. */
bool pci_irqfd_enabled(struct pci_func *f);

/* INTx: legacy interrupts through pin INTA, level-triggered, wired to the
 * I/O APIC input PCI_INTX_GSI0 + slot % PCI_INTX_GSIS (shared by slots
 * that agree modulo 8: the line is high while any of them asserts).  The
 * guest's INTx-disable command bit masks the output; the status register's
 * interrupt bit shows the function's level.  pci_add_intx sets the
 * interrupt pin and line registers; pci_intx_set (without f->lock) changes
 * the level. */
#define PCI_INTX_GSI0 16
#define PCI_INTX_GSIS 8
int pci_add_intx(struct pci_func *f);
void pci_intx_set(struct pci_func *f, bool level);
/* Whether MSI-X is enabled in f's capability (without f->lock). */
bool pci_msix_enabled(struct pci_func *f);

/* Little-endian config helpers for device models. */
void pci_cfg_set8(struct pci_func *f, unsigned off, uint8_t v);
void pci_cfg_set16(struct pci_func *f, unsigned off, uint16_t v);
void pci_cfg_set32(struct pci_func *f, unsigned off, uint32_t v);
uint16_t pci_cfg_get16(const struct pci_func *f, unsigned off);
uint32_t pci_cfg_get32(const struct pci_func *f, unsigned off);

/* The bus, for the config mechanisms and ACPI. */
struct pci_func *pci_lookup(struct vm *vm, unsigned slot, unsigned fn);
int pci_cfg_read(struct pci_func *f, unsigned off, unsigned len, uint32_t *v);
int pci_cfg_write(struct pci_func *f, unsigned off, unsigned len, uint32_t v);

/* msi.c, used by pci.c */
void msi_cfg_written(struct pci_func *f);
void msix_cfg_written(struct pci_func *f);
int msix_table_io(struct pci_func *f, uint64_t off, uint8_t *data,
    unsigned len, bool write);

/* intx.c, used by pci.c after a command-register write (f->lock held). */
void intx_update(struct pci_func *f);

/* irqroute.c, used by msi.c (f->lock held).  irqroute_update makes vector
 * v's irqfd follow the guest's programming: attached when live (enabled,
 * unmasked, aimed at the local APICs) with addr and data, else detached;
 * it returns true when the eventfd was written while detached (a message
 * to hold pending).  irqroute_drain returns the same for a detached vector
 * without changing anything else.  irqroute_send writes the eventfd of an
 * attached vector routed as addr/data and returns true, else false. */
bool irqroute_update(struct pci_func *f, unsigned v, bool live,
    uint64_t addr, uint32_t data);
bool irqroute_drain(struct pci_func *f, unsigned v);
bool irqroute_send(struct pci_func *f, unsigned v, uint64_t addr,
    uint32_t data);
void irqroute_free(struct pci_func *f);

#endif
