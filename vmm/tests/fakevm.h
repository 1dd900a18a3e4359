/*
 * A VM with no kernel module behind it, for unit tests: guest RAM (from
 * guest-physical 0), the buses, the lock, and devices attached exactly as
 * vm_create attaches them.  Messages a device sends to the local APICs need
 * the module; tests aim them at guest RAM instead, where they land as
 * memory writes.
 */
#ifndef HYVE_FAKEVM_H
#define HYVE_FAKEVM_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/vm.h"

struct vm *fakevm_new(uint64_t ram, int ncpus);
/* Attach a device ("hostbridge", "com1", "virtio-blk", ...); slot and conf
 * may be NULL.  0, or a negative errno with the reason in err. */
int fakevm_add(struct vm *vm, const char *emul, const char *slot,
    const char *conf, char *err, size_t errlen);
/* Run the destroy hooks and free everything. */
void fakevm_free(struct vm *vm);

#endif
