#ifndef HYVE_ACPI_H
#define HYVE_ACPI_H

#include <stddef.h>

struct vm;
/* Write RSDP, XSDT and MADT for the VM's vCPUs into [HYVE_ACPI_BASE,
 * HYVE_ACPI_END).  Returns 0 or -ENOMEM when RAM does not reach there. */
int acpi_build(struct vm *vm);

/* vmm/dsdt_aml.c */
extern const unsigned char *const acpi_dsdt_aml;
extern const size_t acpi_dsdt_aml_len;

#endif
