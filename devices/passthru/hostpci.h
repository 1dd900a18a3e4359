/*
 * Host PCI functions as sysfs shows them: address parsing, the driver a
 * function is bound to, its IOMMU group, and claiming a function for
 * vfio-pci (driver_override) and giving it back to its driver afterwards.
 * Used by the passthru device (hyve) and by `hyvectl passthru`.
 * Functions return 0 or a negative errno and write a one-line reason to err.
 */
#ifndef HYVE_HOSTPCI_H
#define HYVE_HOSTPCI_H

#include <stdbool.h>
#include <stddef.h>

#define HOSTPCI_ADDR_LEN 16     /* "dddd:bb:ss.f" and its NUL */

/* Parse bhyve's "BUS/SLOT/FUNCTION" (decimal, domain 0) or a PCI address
 * "[DOMAIN:]BUS:SLOT.FUNCTION" (hexadecimal) into the canonical
 * "0000:00:03.0".  -EINVAL on anything else. */
int hostpci_parse(const char *s, char out[HOSTPCI_ADDR_LEN]);

/* The function exists on the host. */
bool hostpci_exists(const char *addr);
/* The driver bound to addr ("" when none). */
int hostpci_driver(const char *addr, char *buf, size_t len);
/* The IOMMU group number, -ENOENT when the function has none (no IOMMU). */
int hostpci_iommu_group(const char *addr);
/* Whether the host has an IOMMU at all (any IOMMU group exists). */
bool hostpci_have_iommu(void);
/* One line describing every other function in addr's IOMMU group that is
 * bound to a driver other than vfio-pci, or "" when none is. */
void hostpci_group_blockers(const char *addr, char *buf, size_t len);

/* Checks shared by hyve and hyvectl: the function exists and has an IOMMU
 * group (else -ENOENT with "no IOMMU" or "no such device"). */
int hostpci_check(const char *addr, char *err, size_t errlen);

/* Bind addr to vfio-pci through driver_override, remembering its driver
 * in the run folder; on any failure the function is left bound as it was.
 * Returns 1 when it was bound to vfio-pci already. */
int hostpci_claim(const char *addr, char *err, size_t errlen);
/* Unbind addr from vfio-pci and give it back to the driver recorded at
 * claim time (or let the kernel probe one).  -EBUSY while a VMM uses it. */
int hostpci_release(const char *addr, char *drv, size_t drvlen, char *err,
    size_t errlen);

#endif
