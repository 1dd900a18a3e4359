/*
 * Exit handlers, one per exit kind, in a dispatch table.  Port I/O and MMIO
 * go to the buses; the rest decide whether the vCPU goes on.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vmm/exit_log.h"
#include "vmm/exits.h"
#include "vmm/log.h"
#include "vmm/vm.h"

static uint64_t
rip_of(struct vcpu *v)
{
	struct hv_regs r;
	if (hv_vcpu_get_regs(v->hv, &r) == 0)
		v->last_rip = r.rip;
	return v->last_rip;
}

static int
on_io(struct vcpu *v, struct hv_exit *e)
{
	unsigned size = e->u.io.size;
	uint8_t *p = e->u.io.data;
	for (uint32_t i = 0; i < e->u.io.count; i++, p += size) {
		int r = bus_access(&v->vm->pio, v, e->u.io.port, p, size,
		    !e->u.io.in);
		if (r < 0) {
			if (r != -ENOENT)
				pr_debug("vCPU %d: %s port 0x%x: %s", v->id,
				    bus_owner(&v->vm->pio, e->u.io.port),
				    e->u.io.port, strerror(-r));
			if (e->u.io.in)
				memset(p, 0xff, size);
		}
		if (vm_stopping(v->vm))
			return 1;
	}
	return 0;
}

static int
on_mmio(struct vcpu *v, struct hv_exit *e)
{
	uint32_t len = e->u.mmio.len;
	if (len == 0 || len > 8) {
		vm_request_stop(v->vm, HYVE_EXIT_INTERNAL, "vCPU %d: MMIO access "
		    "of %u bytes at 0x%" PRIx64, v->id, len, e->u.mmio.gpa);
		return 1;
	}
	int r = bus_access(&v->vm->mmio, v, e->u.mmio.gpa, e->u.mmio.data, len,
	    e->u.mmio.write);
	if (r < 0) {
		if (r != -ENOENT)
			pr_debug("vCPU %d: MMIO 0x%" PRIx64 ": %s", v->id,
			    e->u.mmio.gpa, strerror(-r));
		if (!e->u.mmio.write)
			memset(e->u.mmio.data, 0xff, len);
	}
	return vm_stopping(v->vm);
}

/* Only without an in-kernel LAPIC: a HLT with interrupts off is final. */
static int
on_hlt(struct vcpu *v, struct hv_exit *e)
{
	(void)e;
	struct hv_regs r;
	if (hv_vcpu_get_regs(v->hv, &r) == 0 && !(r.rflags & 0x200)) {
		v->dead_halted = true;
		vm_request_stop(v->vm, HYVE_EXIT_HALTED, "vCPU %d halted with "
		    "interrupts disabled at rip 0x%" PRIx64, v->id, r.rip);
		return 1;
	}
	return 0;
}

static int
on_shutdown(struct vcpu *v, struct hv_exit *e)
{
	(void)e;
	exit_log_report(v, LOG_ERR, "triple fault", true);
	vm_request_stop(v->vm, HYVE_EXIT_TRIPLEFAULT,
	    "vCPU %d: triple fault, last rip 0x%" PRIx64, v->id, rip_of(v));
	return 1;
}

static int
on_internal(struct vcpu *v, struct hv_exit *e)
{
	char extra[96] = "";
	if (e->u.internal.ndata > 0)
		snprintf(extra, sizeof(extra), ", data 0x%" PRIx64 " 0x%" PRIx64,
		    e->u.internal.data[0],
		    e->u.internal.ndata > 1 ? e->u.internal.data[1] : 0);
	uint64_t rip = rip_of(v);
	const char *what = gpa_is_ram(&v->vm->mem, rip) ?
	    "instruction emulation failed" :
	    "guest executed outside guest memory";
	vm_request_stop(v->vm, HYVE_EXIT_GUESTERR, "vCPU %d: %s (suberror %u) "
	    "at rip 0x%" PRIx64 "%s", v->id, what, e->u.internal.suberror, rip,
	    extra);
	return 1;
}

static int
on_fail_entry(struct vcpu *v, struct hv_exit *e)
{
	vm_request_stop(v->vm, HYVE_EXIT_GUESTERR, "vCPU %d: entry failed, "
	    "hardware reason 0x%" PRIx64 ", rip 0x%" PRIx64, v->id,
	    e->u.fail.reason, rip_of(v));
	return 1;
}

/* A kick: calls are served by the loop; here answer the watchdog. */
static int
on_intr(struct vcpu *v, struct hv_exit *e)
{
	(void)e;
	hv_vcpu_clear_kick(v->hv);
	if (!atomic_exchange(&v->halt_check, false))
		return 0;
	uint32_t mp;
	if (hv_vcpu_get_mp_state(v->hv, &mp) < 0)
		return 0;
	bool dead = false;
	if (mp == HV_MP_UNINITIALIZED || mp == HV_MP_INIT_RECEIVED) {
		dead = v->id != 0;
	} else if (mp == HV_MP_HALTED) {
		struct hv_regs r;
		if (hv_vcpu_get_regs(v->hv, &r) == 0) {
			dead = !(r.rflags & 0x200);
			v->last_rip = r.rip;
		}
	}
	pr_debug("vCPU %d: watchdog: mp_state %u, dead %d", v->id, mp, dead);
	v->dead_halted = dead;
	return 0;
}

static int
on_system_event(struct vcpu *v, struct hv_exit *e)
{
	switch (e->u.event.type) {
	case HV_EVENT_RESET:
		vm_request_reset(v->vm);
		return 1;
	case HV_EVENT_CRASH:
		vm_request_stop(v->vm, HYVE_EXIT_GUESTERR, "vCPU %d: guest "
		    "reported a crash", v->id);
		return 1;
	default:
		vm_request_stop(v->vm, HYVE_EXIT_POWEROFF, "guest powered off");
		return 1;
	}
}

static int
on_ignore(struct vcpu *v, struct hv_exit *e)
{
	(void)v;
	(void)e;
	return 0;
}

static int
on_other(struct vcpu *v, struct hv_exit *e)
{
	vm_request_stop(v->vm, HYVE_EXIT_INTERNAL, "vCPU %d: unexpected exit "
	    "reason %u at rip 0x%" PRIx64, v->id, e->u.other.reason, rip_of(v));
	return 1;
}

const exit_handler_t exit_handlers[HV_EXIT__COUNT] = {
	[HV_EXIT_IO] = on_io,
	[HV_EXIT_MMIO] = on_mmio,
	[HV_EXIT_HLT] = on_hlt,
	[HV_EXIT_SHUTDOWN] = on_shutdown,
	[HV_EXIT_INTERNAL] = on_internal,
	[HV_EXIT_FAIL_ENTRY] = on_fail_entry,
	[HV_EXIT_INTR] = on_intr,
	[HV_EXIT_SYSTEM_EVENT] = on_system_event,
	[HV_EXIT_IRQ_WINDOW] = on_ignore,
	[HV_EXIT_DEBUG] = on_ignore,
	[HV_EXIT_OTHER] = on_other,
};
