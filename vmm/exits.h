/* The exit dispatch table: one handler per exit kind.  A handler returns 0
 * to go on running the vCPU, or 1 when the vCPU must stop (after it has
 * asked the VM to stop with a reason). */
#ifndef HYVE_EXITS_H
#define HYVE_EXITS_H

#include "kmod/hv.h"

struct vcpu;

typedef int (*exit_handler_t)(struct vcpu *vcpu, struct hv_exit *e);
extern const exit_handler_t exit_handlers[HV_EXIT__COUNT];

#endif
