/*
 * Device emulations register themselves with DEVICE_EMUL(); vm_create finds
 * them by name through a linker set, so adding a device touches one file.
 *   BUILTIN  created for every VM (test devices unless -N)
 *   LPC      created by -l NAME[,conf]  (com1, com2, ...)
 *   PCI      created by -s slot,NAME[,conf]
 * init registers the device's ports, MMIO ranges or PCI functions and
 * returns 0 or a negative errno after writing a one-line reason to err.
 * Instances that keep state register reset and destroy hooks (vm_add_hook).
 */
#ifndef HYVE_DEVICE_H
#define HYVE_DEVICE_H

#include <stddef.h>

struct vm;
struct dev_config;

enum device_kind { DEV_BUILTIN, DEV_TEST, DEV_LPC, DEV_PCI };

struct device_emul {
	const char *name;
	enum device_kind kind;
	int (*init)(struct vm *vm, const struct dev_config *dc,
	    char *err, size_t errlen);
};

#define DEVICE_EMUL(d) \
	static const struct device_emul *const __hyve_dev_##d \
	__attribute__((used, section("hyve_devices"), aligned(sizeof(void *)))) = &(d)

const struct device_emul *device_find(const char *name);
/* Iterate: for (const struct device_emul *const *p = device_first(); p < device_end(); p++) */
const struct device_emul *const *device_first(void);
const struct device_emul *const *device_end(void);

#endif
