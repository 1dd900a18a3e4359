/*
 * hyve-pcitest (-s slot,pcitest): raises any of its 32 MSI or MSI-X vectors
 * on request, counts acknowledgements, and DMAs a pattern into guest
 * memory.  Registers in vmm/abi.h.  The DMA target is guest-controlled and
 * is checked against guest RAM before a byte is written.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <linux/pci_regs.h>

#include "devices/device.h"
#include "devices/pci/pci.h"
#include "vmm/abi.h"
#include "vmm/vm.h"

#define DMA_MAX (1u << 20)

struct pcitest {
	struct pci_func *f;
	pthread_mutex_t lock;
	uint32_t raised, acks;
	uint32_t dma_lo, dma_hi, dma_len, dma_seed, dma_status;
};

static void
do_dma(struct pcitest *t)
{
	uint64_t gpa = t->dma_lo | ((uint64_t)t->dma_hi << 32);
	uint16_t cmd = pci_cfg_get16(t->f, PCI_COMMAND);
	uint8_t *p = gpa_to_hva(&t->f->vm->mem, gpa, t->dma_len);
	/* Refused: bus mastering off, too long, or not wholly guest RAM. */
	if (!(cmd & PCI_COMMAND_MASTER) || t->dma_len > DMA_MAX || p == NULL) {
		t->dma_status = 1;
		return;
	}
	for (uint32_t i = 0; i < t->dma_len; i++)
		p[i] = (uint8_t)(t->dma_seed + i);
	t->dma_status = 0;
}

static int
pcitest_bar(struct vcpu *vcpu, struct pci_func *f, int bar, uint64_t off,
    uint8_t *data, unsigned len, bool write)
{
	(void)vcpu;
	struct pcitest *t = f->priv;
	if (bar != 0 || len != 4 || (off & 3)) {
		if (!write)
			memset(data, 0xff, len);
		return -EINVAL;
	}
	uint32_t v = 0;
	if (write)
		memcpy(&v, data, 4);
	uint32_t out = 0;
	unsigned raise = UINT32_MAX;
	pthread_mutex_lock(&t->lock);
	switch (off) {
	case PCITEST_ID:
		out = HYVE_PCITEST_ID;
		break;
	case PCITEST_RAISE:
		if (write && v < HYVE_PCITEST_VECTORS) {
			raise = v;
			t->raised++;
		}
		break;
	case PCITEST_RAISED:
		out = t->raised;
		break;
	case PCITEST_ACK:
		if (write)
			t->acks++;
		out = t->acks;
		break;
	case PCITEST_DMA_LO:
		if (write)
			t->dma_lo = v;
		out = t->dma_lo;
		break;
	case PCITEST_DMA_HI:
		if (write)
			t->dma_hi = v;
		out = t->dma_hi;
		break;
	case PCITEST_DMA_LEN:
		if (write)
			t->dma_len = v;
		out = t->dma_len;
		break;
	case PCITEST_DMA_SEED:
		if (write)
			t->dma_seed = v;
		out = t->dma_seed;
		break;
	case PCITEST_DMA_GO:
		if (write)
			do_dma(t);
		out = t->dma_status;
		break;
	case PCITEST_DELIVERED:
		out = (uint32_t)t->f->msgs_sent;
		break;
	default:
		out = 0;
	}
	pthread_mutex_unlock(&t->lock);
	if (raise != UINT32_MAX)
		(void)pci_raise(f, raise);
	if (!write)
		memcpy(data, &out, 4);
	return 0;
}

static const struct pci_ops pcitest_ops = { .bar_io = pcitest_bar };

static void
pcitest_destroy(void *arg)
{
	pthread_mutex_destroy(&((struct pcitest *)arg)->lock);
}

static void
pcitest_reset(void *arg)
{
	struct pcitest *t = arg;
	pthread_mutex_lock(&t->lock);
	t->raised = t->acks = 0;
	t->dma_lo = t->dma_hi = t->dma_len = t->dma_seed = t->dma_status = 0;
	pthread_mutex_unlock(&t->lock);
}

static int
pcitest_init(struct vm *vm, const struct dev_config *dc, char *err,
    size_t errlen)
{
	struct pcitest *t = vm_dev_alloc(vm, sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	int r = vm_add_hook(vm, false, pcitest_destroy, t);
	if (r == 0)
		r = vm_add_hook(vm, true, pcitest_reset, t);
	if (r < 0)
		return r;
	if (dc->conf[0] != '\0') {
		snprintf(err, errlen, "pcitest: takes no configuration ('%s')",
		    dc->conf);
		return -EINVAL;
	}
	r = pci_func_create(vm, dc->slot, "pcitest", &pcitest_ops, t, &t->f,
	    err, errlen);
	if (r < 0)
		return r;
	pci_set_ids(t->f, HYVE_PCITEST_VENDOR, HYVE_PCITEST_DEVICE, 0xff, 0, 0,
	    HYVE_PCITEST_VENDOR, HYVE_PCITEST_DEVICE);
	r = pci_add_bar(t->f, 0, PCI_BAR_MEM32, 4096);
	if (r == 0)
		r = pci_add_bar(t->f, 2, PCI_BAR_MEM64, 4096);
	if (r == 0)
		r = pci_add_msi(t->f, HYVE_PCITEST_VECTORS);
	if (r == 0)
		r = pci_add_msix(t->f, HYVE_PCITEST_VECTORS, 2, 0, 0x800);
	if (r < 0)
		snprintf(err, errlen, "pcitest: %s", strerror(-r));
	return r;
}

static const struct device_emul pcitest = {
	.name = "pcitest", .kind = DEV_PCI, .init = pcitest_init,
};
DEVICE_EMUL(pcitest);
