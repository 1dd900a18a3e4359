#ifndef HYVE_SMP_H
#define HYVE_SMP_H

#include <stdint.h>

struct vm;
struct hyve_ap_start;
/* The direct AP start-up of vmm/abi.h: check req, set the AP's state and
 * create its thread.  Returns a HYVE_APS_* status. */
uint32_t smp_start_ap(struct vm *vm, const struct hyve_ap_start *req);

#endif
