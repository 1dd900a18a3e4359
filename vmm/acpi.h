#ifndef HYVE_ACPI_H
#define HYVE_ACPI_H

struct vm;
/* Write RSDP, XSDT and MADT for the VM's vCPUs into [HYVE_ACPI_BASE,
 * HYVE_ACPI_END).  Returns 0 or -ENOMEM when RAM does not reach there. */
int acpi_build(struct vm *vm);

#endif
