/*
 * ACPI tables in the BIOS area: RSDP (revision 2) -> XSDT -> MADT, MCFG,
 * FADT (hardware-reduced) -> DSDT (vmm/dsdt.asl).  The
 * MADT holds one Processor Local x2APIC structure per vCPU (ACPI UID = vCPU
 * number, x2APIC ID = vCPU number), the I/O APIC and the ISA IRQ0 -> GSI 2
 * override of a PC, and LINT1 as NMI for every processor.
 */
#include <errno.h>
#include <string.h>

#include "vmm/abi.h"
#include "vmm/acpi.h"
#include "vmm/vm.h"

struct __attribute__((packed)) acpi_header {
	char sig[4];
	uint32_t length;
	uint8_t revision, checksum;
	char oem_id[6], oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
};

struct __attribute__((packed)) rsdp {
	char sig[8];
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt;
	uint32_t length;
	uint64_t xsdt;
	uint8_t ext_checksum;
	uint8_t reserved[3];
};

static uint8_t
checksum(const void *p, size_t n)
{
	uint8_t s = 0;
	for (size_t i = 0; i < n; i++)
		s = (uint8_t)(s + ((const uint8_t *)p)[i]);
	return (uint8_t)(0 - s);
}

static void
header(struct acpi_header *h, const char *sig, uint32_t len, uint8_t rev)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->sig, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, "HYVE  ", 6);
	memcpy(h->oem_table_id, "HYVETBL ", 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, "HYVE", 4);
	h->creator_revision = 1;
}

/* Append bytes to the table being built at *pos. */
static void
put(uint8_t *base, uint32_t *pos, const void *p, size_t n)
{
	memcpy(base + *pos, p, n);
	*pos += (uint32_t)n;
}

static uint32_t
build_madt(struct vm *vm, uint8_t *t)
{
	uint32_t pos = sizeof(struct acpi_header);
	uint32_t lapic = HYVE_LAPIC_BASE, flags = 1;    /* PCAT_COMPAT */
	put(t, &pos, &lapic, 4);
	put(t, &pos, &flags, 4);
	for (int i = 0; i < vm->ncpus; i++) {
		uint8_t e[16] = { 9, 16 };                  /* Local x2APIC */
		uint32_t id = (uint32_t)i, enabled = 1, uid = (uint32_t)i;
		memcpy(e + 4, &id, 4);
		memcpy(e + 8, &enabled, 4);
		memcpy(e + 12, &uid, 4);
		put(t, &pos, e, sizeof(e));
	}
	uint8_t io[12] = { 1, 12, 0, 0 };                   /* I/O APIC, ID 0 */
	uint32_t ioaddr = HYVE_IOAPIC_BASE, gsi = 0;
	memcpy(io + 4, &ioaddr, 4);
	memcpy(io + 8, &gsi, 4);
	put(t, &pos, io, sizeof(io));
	uint8_t iso[10] = { 2, 10, 0, 0 };                  /* IRQ0 -> GSI2 */
	uint32_t gsi2 = 2;
	memcpy(iso + 4, &gsi2, 4);
	put(t, &pos, iso, sizeof(iso));
	uint8_t nmi[12] = { 0xa, 12, 0x5, 0 };              /* x2APIC NMI */
	uint32_t all = 0xffffffffu;
	memcpy(nmi + 4, &all, 4);
	nmi[8] = 1;                                         /* LINT1 */
	put(t, &pos, nmi, sizeof(nmi));
	header((struct acpi_header *)t, "APIC", pos, 5);
	((struct acpi_header *)t)->checksum = checksum(t, pos);
	return pos;
}

/* A Generic Address Structure for a byte-wide I/O port. */
static void
gas_io(uint8_t *g, uint16_t port)
{
	g[0] = 1;               /* system I/O space */
	g[1] = 8;               /* bit width */
	g[2] = 0;
	g[3] = 1;               /* byte access */
	uint64_t a = port;
	memcpy(g + 4, &a, 8);
}

/* FADT (revision 6), hardware-reduced: sleep control and status registers,
 * the reset register, and the DSDT. */
static uint32_t
build_fadt(uint8_t *t, uint64_t dsdt)
{
	const uint32_t len = 276;
	memset(t, 0, len);
	uint32_t dsdt32 = (uint32_t)dsdt;
	memcpy(t + 40, &dsdt32, 4);
	t[45] = 0;                                  /* PM profile: unspecified */
	uint16_t boot_arch = 1u << 0 | 1u << 2;     /* legacy devices, no VGA */
	memcpy(t + 109, &boot_arch, 2);
	uint32_t flags = 1u << 4 |                  /* power button is a device */
	    1u << 5 |                               /* sleep button too */
	    1u << 10 |                              /* RESET_REG_SUP */
	    1u << 20;                               /* HW_REDUCED_ACPI */
	memcpy(t + 112, &flags, 4);
	gas_io(t + 116, HYVE_PORT_RESET);
	t[128] = 0x06;                              /* reset value */
	t[131] = 0;                                 /* FADT minor version */
	memcpy(t + 140, &dsdt, 8);                  /* X_DSDT */
	gas_io(t + 244, HYVE_PORT_SLEEP_CTL);
	gas_io(t + 256, HYVE_PORT_SLEEP_STS);
	memcpy(t + 268, "HYVE    ", 8);             /* hypervisor vendor */
	header((struct acpi_header *)t, "FACP", len, 6);
	((struct acpi_header *)t)->checksum = checksum(t, len);
	return len;
}

/* MCFG: ECAM for segment 0, bus 0. */
static uint32_t
build_mcfg(uint8_t *t)
{
	uint32_t pos = sizeof(struct acpi_header);
	uint8_t reserved[8] = { 0 };
	put(t, &pos, reserved, sizeof(reserved));
	uint8_t e[16] = { 0 };
	uint64_t base = HYVE_PCI_ECAM;
	memcpy(e, &base, 8);
	e[10] = 0;                                          /* start bus */
	e[11] = (uint8_t)((HYVE_PCI_ECAM_LEN >> 20) - 1);   /* end bus */
	put(t, &pos, e, sizeof(e));
	header((struct acpi_header *)t, "MCFG", pos, 1);
	((struct acpi_header *)t)->checksum = checksum(t, pos);
	return pos;
}

/* The x86 reset vector, 0xffff0 (F000:FFF0 in real mode): a few bytes of
 * "firmware" that reset the machine through 0xcf9, as a BIOS would.  Linux
 * reboots a hardware-reduced ACPI machine through EFI and then through a
 * real-mode jump to this vector (arch/x86/kernel/reboot.c: BOOT_EFI, then
 * BOOT_BIOS), so without it "reboot" hangs there. */
static void
put_reset_vector(uint8_t *area)
{
	static const uint8_t stub[] = {
		0xb0, 0x06,             /* mov al, 6 (full reset) */
		0xba, 0xf9, 0x0c,       /* mov dx, 0xcf9 */
		0xee,                   /* out dx, al */
		0xfa, 0xf4,             /* cli; hlt */
		0xeb, 0xfc,             /* jmp back to cli */
	};
	memcpy(area + (0xffff0u - HYVE_ACPI_BASE), stub, sizeof(stub));
}

int
acpi_build(struct vm *vm)
{
	uint32_t size = HYVE_ACPI_END - HYVE_ACPI_BASE;
	uint8_t *area = gpa_to_hva(&vm->mem, HYVE_ACPI_BASE, size);
	if (area == NULL)
		return -ENOMEM;
	memset(area, 0, size);
	/* Layout: RSDP at the base, XSDT at +0x40, MCFG at +0x100, FADT at
	 * +0x200, MADT at +0x400 (64 vCPUs take about 1.1 KiB), DSDT at
	 * +0x1000. */
	uint32_t xsdt_off = 0x40, mcfg_off = 0x100, fadt_off = 0x200,
	    madt_off = 0x400, dsdt_off = 0x1000;
	if (dsdt_off + acpi_dsdt_aml_len > size)
		return -ENOSPC;
	memcpy(area + dsdt_off, acpi_dsdt_aml, acpi_dsdt_aml_len);
	build_fadt(area + fadt_off, HYVE_ACPI_BASE + dsdt_off);
	build_mcfg(area + mcfg_off);
	uint32_t madt_len = build_madt(vm, area + madt_off);
	if (madt_off + madt_len > dsdt_off)
		return -ENOSPC;

	struct acpi_header *x = (struct acpi_header *)(area + xsdt_off);
	uint64_t entries[] = { HYVE_ACPI_BASE + madt_off,
	    HYVE_ACPI_BASE + mcfg_off, HYVE_ACPI_BASE + fadt_off };
	uint32_t xlen = (uint32_t)(sizeof(*x) + sizeof(entries));
	header(x, "XSDT", xlen, 1);
	memcpy(area + xsdt_off + sizeof(*x), entries, sizeof(entries));
	x->checksum = checksum(x, xlen);

	struct rsdp *r = (struct rsdp *)area;
	memcpy(r->sig, "RSD PTR ", 8);
	memcpy(r->oem_id, "HYVE  ", 6);
	r->revision = 2;
	r->rsdt = 0;
	r->length = sizeof(*r);
	r->xsdt = HYVE_ACPI_BASE + xsdt_off;
	r->checksum = checksum(r, 20);
	r->ext_checksum = checksum(r, sizeof(*r));
	put_reset_vector(area);
	return 0;
}
