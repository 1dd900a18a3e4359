/*
 * An address bus (port I/O or MMIO) on which devices register ranges.  One
 * handler shape for both: the vCPU making the access, the address, the data
 * (little-endian, len bytes), the direction and the device's opaque pointer.
 * A handler returns 0 or a negative errno (the access is then reported as a
 * device error; reads see all-ones).
 */
#ifndef HYVE_BUS_H
#define HYVE_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct vcpu;

typedef int (*bus_handler_t)(struct vcpu *vcpu, uint64_t addr, uint8_t *data,
    unsigned len, bool write, void *opaque);

struct bus_range {
	uint64_t base, len;
	bus_handler_t fn;
	void *opaque;
	const char *name;
};

struct bus {
	const char *name;               /* "pio" or "mmio" */
	struct bus_range *r;            /* sorted by base, no overlaps */
	int n, cap;
	pthread_rwlock_t lock;
};

void bus_init(struct bus *b, const char *name);
void bus_fini(struct bus *b);
__attribute__((warn_unused_result))
int bus_register(struct bus *b, uint64_t base, uint64_t len, bus_handler_t fn,
    void *opaque, const char *name);
int bus_unregister(struct bus *b, uint64_t base);
/* Dispatch one access; -ENOENT when no device claims addr. */
int bus_access(struct bus *b, struct vcpu *vcpu, uint64_t addr, uint8_t *data,
    unsigned len, bool write);
/* The device name at addr, or NULL. */
const char *bus_owner(struct bus *b, uint64_t addr);

#endif
