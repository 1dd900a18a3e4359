/* The last exits of a vCPU and the report that shows them (exit_log.h). */
#include <inttypes.h>

#include "vmm/exit_log.h"
#include "vmm/log.h"
#include "vmm/vm.h"

void
exit_log_note(struct vcpu *v, const struct hv_exit *e)
{
	uint64_t seq = stat_read(&v->stats.runs);
	struct exit_note *n = &v->exit_log[seq % EXIT_LOG_LEN];
	*n = (struct exit_note){ .kind = (uint8_t)e->kind, .seq = seq };
	if (e->kind == HV_EXIT_IO) {
		n->addr = e->u.io.port;
		n->write = !e->u.io.in;
	} else if (e->kind == HV_EXIT_MMIO) {
		n->addr = e->u.mmio.gpa;
		n->write = e->u.mmio.write;
	}
}

/* The run-state names of KVM_GET_MP_STATE, for reports. */
static const char *
mp_state_name(uint32_t s)
{
	static const char *const names[] = { "runnable", "uninitialized",
	    "init-received", "halted", "sipi-received", "stopped",
	    "check-stop", "operating", "load" };
	return s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

void
exit_log_report(struct vcpu *v, enum log_level lvl, const char *event,
    bool at_shutdown)
{
	uint64_t seq = stat_read(&v->stats.runs);
	pr_log(lvl, "vCPU %d: %s at run %" PRIu64 ", last rip seen 0x%" PRIx64,
	    v->id, event, seq, v->last_rip);
	for (uint64_t i = seq > EXIT_LOG_LEN ? seq - EXIT_LOG_LEN : 1; i < seq;
	    i++) {
		const struct exit_note *n = &v->exit_log[i % EXIT_LOG_LEN];
		if (n->seq != i)
			continue;
		if (n->kind == HV_EXIT_IO || n->kind == HV_EXIT_MMIO)
			pr_log(lvl, "vCPU %d:   exit %" PRIu64 ": %s %s 0x%" PRIx64,
			    v->id, i, stat_names[n->kind],
			    n->write ? "write" : "read", n->addr);
		else
			pr_log(lvl, "vCPU %d:   exit %" PRIu64 ": %s", v->id, i,
			    stat_names[n->kind]);
	}
	struct hv_regs r;
	struct hv_sregs sr;
	uint32_t mp;
	struct hv_apic_summary as;
	if (hv_vcpu_get_regs(v->hv, &r) == 0)
		pr_log(lvl, "vCPU %d: rip 0x%" PRIx64 " rsp 0x%" PRIx64 " rflags 0x%"
		    PRIx64 " (interrupts %s) rax 0x%" PRIx64 " rcx 0x%" PRIx64
		    " rdx 0x%" PRIx64, v->id, r.rip, r.rsp, r.rflags,
		    r.rflags & 0x200 ? "on" : "off", r.rax, r.rcx, r.rdx);
	if (hv_vcpu_get_sregs(v->hv, &sr) == 0) {
		pr_log(lvl, "vCPU %d: cr0 0x%" PRIx64 " cr2 0x%" PRIx64 " cr3 0x%"
		    PRIx64 " cr4 0x%" PRIx64 " efer 0x%" PRIx64, v->id, sr.cr0,
		    sr.cr2, sr.cr3, sr.cr4, sr.efer);
		pr_log(lvl, "vCPU %d: cs 0x%x base 0x%" PRIx64 " l %u db %u, ss "
		    "0x%x, tr 0x%x, gdt 0x%" PRIx64 "/0x%x, idt 0x%" PRIx64
		    "/0x%x", v->id, sr.cs.selector, sr.cs.base, sr.cs.l,
		    sr.cs.db, sr.ss.selector, sr.tr.selector, sr.gdt.base,
		    sr.gdt.limit, sr.idt.base, sr.idt.limit);
		/* kvm_amd reinitialises the VMCB at a shutdown intercept (its
		 * state is undefined then): say so rather than mislead. */
		if (at_shutdown && sr.cs.selector == 0xf000 &&
		    sr.cs.base == 0xffff0000 && !(sr.cr0 & 1))
			pr_log(lvl, "vCPU %d: the registers above are the reset "
			    "state: the module reinitialised the vCPU at the "
			    "shutdown; the exits before it are what is left",
			    v->id);
	}
	if (hv_vcpu_get_mp_state(v->hv, &mp) == 0 &&
	    hv_vcpu_apic_summary(v->hv, &as) == 0)
		pr_log(lvl, "vCPU %d: %s; local APIC: %u requested (highest 0x%02x), "
		    "%u in service (highest 0x%02x), TPR 0x%02x", v->id,
		    mp_state_name(mp), as.irr_count, as.irr_top, as.isr_count,
		    as.isr_top, as.tpr);
}
