/* The DSDT, compiled from vmm/dsdt.asl by iasl into dsdt.hex at build time. */
#include <stddef.h>

#include "vmm/acpi.h"

#include "dsdt.hex"

const unsigned char *const acpi_dsdt_aml = dsdt_aml_code;
const size_t acpi_dsdt_aml_len = sizeof(dsdt_aml_code);
