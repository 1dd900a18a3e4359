/*
 * The PCI host bridge at 0:0.0 and the two configuration mechanisms:
 * ports 0xcf8/0xcfc (address register, then data at 0xcfc-0xcff) and ECAM
 * for bus 0.  Accesses to absent functions read all-ones and are ignored.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/pci_regs.h>

#include "devices/device.h"
#include "devices/pci/pci.h"
#include "devices/pci/pcibus.h"
#include "vmm/abi.h"
#include "vmm/vm.h"

static void
cfg_access(struct vm *vm, unsigned bus, unsigned slot, unsigned fn,
    unsigned off, uint8_t *data, unsigned len, bool write)
{
	struct pci_func *f = bus == 0 ? pci_lookup(vm, slot, fn) : NULL;
	uint32_t v = 0xffffffffu;
	if (f == NULL) {
		if (!write)
			memcpy(data, &v, len);
		return;
	}
	if (write) {
		v = 0;
		memcpy(&v, data, len);
		(void)pci_cfg_write(f, off, len, v);
	} else {
		if (pci_cfg_read(f, off, len, &v) < 0)
			v = 0xffffffffu;
		memcpy(data, &v, len);
	}
}

static int
cf8_io(struct vcpu *vcpu, uint64_t addr, uint8_t *data, unsigned len,
    bool write, void *opaque)
{
	struct pci_bus *pb = opaque;
	struct vm *vm = vcpu->vm;
	if (addr < HYVE_PORT_PCI_DATA && len != 4) {
		/* Byte and word accesses to 0xcf8-0xcfb are not config
		 * cycles; the byte at 0xcf9 is the PC's reset control register
		 * (the FADT's reset register): bit 2 resets. */
		if (write && addr == HYVE_PORT_RESET && len == 1 && (data[0] & 4))
			vm_request_reset(vm);
		if (!write)
			memset(data, addr == HYVE_PORT_RESET ? 0 : 0xff, len);
		return 0;
	}
	if (addr == HYVE_PORT_PCI_ADDR) {
		pthread_mutex_lock(&pb->lock);
		if (write)
			memcpy(&pb->cf8, data, 4);
		else
			memcpy(data, &pb->cf8, 4);
		pthread_mutex_unlock(&pb->lock);
		return 0;
	}
	/* 0xcfc..0xcff: the selected dword, at the byte offset of the port. */
	unsigned byte = (unsigned)(addr - HYVE_PORT_PCI_DATA);
	pthread_mutex_lock(&pb->lock);
	uint32_t a = pb->cf8;
	pthread_mutex_unlock(&pb->lock);
	if (!(a & 0x80000000u) || byte + len > 4) {
		if (!write)
			memset(data, 0xff, len);
		return 0;
	}
	unsigned off = (a & 0xfc) | ((a >> 16) & 0xf00) | byte;  /* ext. reg */
	cfg_access(vm, (a >> 16) & 0xff, (a >> 11) & 0x1f, (a >> 8) & 7, off,
	    data, len, write);
	return 0;
}

static int
ecam_io(struct vcpu *vcpu, uint64_t addr, uint8_t *data, unsigned len,
    bool write, void *opaque)
{
	(void)opaque;
	uint64_t o = addr - HYVE_PCI_ECAM;
	unsigned off = (unsigned)(o & 0xfff);
	/* A config access must not cross a dword (an 8-byte MMIO access is
	 * split by the guest's architecture rules; refuse it). */
	if (len > 4 || (off & 3) + len > 4) {
		if (!write)
			memset(data, 0xff, len);
		return 0;
	}
	cfg_access(vcpu->vm, (unsigned)(o >> 20), (unsigned)(o >> 15) & 0x1f,
	    (unsigned)(o >> 12) & 7, off, data, len, write);
	return 0;
}

static void
bus_destroy(void *arg)
{
	struct pci_bus *pb = arg;
	pthread_mutex_destroy(&pb->lock);
	pthread_mutex_destroy(&pb->intx_lock);
	free(pb);
}

static int
hostbridge_init(struct vm *vm, const struct dev_config *dc, char *err,
    size_t errlen)
{
	(void)dc;
	struct pci_bus *pb = calloc(1, sizeof(*pb));
	if (pb == NULL)
		return -ENOMEM;
	pthread_mutex_init(&pb->lock, NULL);
	pthread_mutex_init(&pb->intx_lock, NULL);
	pb->io_next = HYVE_PCI_IO;
	pb->mmio32_next = HYVE_PCI_MMIO32;
	pb->mmio64_next = HYVE_PCI_MMIO64;
	int r = vm_add_hook(vm, false, bus_destroy, pb);
	if (r < 0) {
		bus_destroy(pb);
		return r;
	}
	vm->pci = pb;
	struct pci_func *f;
	r = pci_func_create(vm, "0", "hostbridge", NULL, NULL, &f, err, errlen);
	if (r < 0)
		return r;
	/* The IDs of the generic PCIe host bridge guests already know
	 * (1b36:0008), class 06.00.00. */
	pci_set_ids(f, 0x1b36, 0x0008, 0x06, 0x00, 0, 0x1b36, 0x0008);
	r = bus_register(&vm->pio, HYVE_PORT_PCI_ADDR, 8, cf8_io, pb,
	    "pci-config");
	if (r == 0)
		r = bus_register(&vm->mmio, HYVE_PCI_ECAM, HYVE_PCI_ECAM_LEN,
		    ecam_io, pb, "pci-ecam");
	if (r < 0)
		snprintf(err, errlen, "hostbridge: %s", strerror(-r));
	return r;
}

static const struct device_emul hostbridge = {
	.name = "hostbridge", .kind = DEV_BUILTIN, .init = hostbridge_init,
};
DEVICE_EMUL(hostbridge);
