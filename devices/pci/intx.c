/*
 * INTx of emulated functions: pin INTA, level-triggered, wired to an input
 * of the in-kernel I/O APIC (GSI PCI_INTX_GSI0 + slot % PCI_INTX_GSIS, the
 * value hyve writes into the interrupt line register; inputs 16 to 23 are
 * the I/O APIC's PCI inputs, active high as the MADT leaves them).  Slots
 * that share an input OR their levels: the bus counts the functions that
 * hold each input high and moves the line only on the first assert and the
 * last deassert.  The command register's INTx-disable bit masks a
 * function's output; the status register's interrupt bit shows its level
 * whether masked or not, as on real hardware.
 */
#include <errno.h>

#include <linux/pci_regs.h>

#include "devices/pci/pci.h"
#include "devices/pci/pcibus.h"
#include "vmm/vm.h"

int
pci_add_intx(struct pci_func *f)
{
	if (f->vm->pci == NULL)
		return -ENODEV;
	f->intx = true;
	f->intx_gsi = (uint8_t)(PCI_INTX_GSI0 + f->slot % PCI_INTX_GSIS);
	pci_cfg_set8(f, PCI_INTERRUPT_PIN, 1);
	pci_cfg_set8(f, PCI_INTERRUPT_LINE, f->intx_gsi);
	return 0;
}

/* Drive f's share of its input (f->lock held). */
static void
intx_drive(struct pci_func *f, bool out)
{
	struct pci_bus *pb = f->vm->pci;
	if (out == f->intx_out)
		return;
	f->intx_out = out;
	unsigned i = f->intx_gsi - PCI_INTX_GSI0;
	pthread_mutex_lock(&pb->intx_lock);
	bool edge = out ? pb->intx_count[i]++ == 0 : --pb->intx_count[i] == 0;
	if (edge && f->vm->hv != NULL)
		(void)hv_vm_irq_line(f->vm->hv, f->intx_gsi, out);
	pthread_mutex_unlock(&pb->intx_lock);
	if (out)
		f->intx_asserts++;
}

void
intx_update(struct pci_func *f)
{
	uint16_t st = pci_cfg_get16(f, PCI_STATUS);
	st = (uint16_t)(f->intx_level ? st | PCI_STATUS_INTERRUPT :
	    st & ~PCI_STATUS_INTERRUPT);
	pci_cfg_set16(f, PCI_STATUS, st);
	intx_drive(f, f->intx_level &&
	    !(pci_cfg_get16(f, PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE));
}

void
pci_intx_set(struct pci_func *f, bool level)
{
	if (!f->intx)
		return;
	pthread_mutex_lock(&f->lock);
	if (level != f->intx_level) {
		f->intx_level = level;
		intx_update(f);
	}
	pthread_mutex_unlock(&f->lock);
}
