/* AP bring-up without INIT/SIPI: the original design's shortcut, in which
 * the VMM puts an AP straight into 64-bit mode and only then creates its
 * thread, so a vCPU that is never started costs no host thread. */
#include <pthread.h>
#include <string.h>

#include "vmm/abi.h"
#include "vmm/loader.h"
#include "vmm/log.h"
#include "vmm/smp.h"
#include "vmm/vm.h"

static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;

uint32_t
smp_start_ap(struct vm *vm, const struct hyve_ap_start *req)
{
	if (req->magic != HYVE_APSTART_MAGIC)
		return HYVE_APS_EMAGIC;
	if (!vm->cfg.ap_direct)
		return HYVE_APS_EMODE;
	if (req->apic_id == 0 || req->apic_id >= (uint32_t)vm->ncpus)
		return HYVE_APS_EID;
	/* The AP runs from the boot identity map (or the CR3 it is given):
	 * its code, stack and page tables must be RAM below 4 GiB. */
	uint64_t cr3 = req->cr3 ? req->cr3 : HYVE_BOOT_PML4;
	if (req->entry >= HYVE_BOOT_IDMAP_LIMIT ||
	    !gpa_is_ram(&vm->mem, req->entry) ||
	    req->stack < 16 || req->stack > HYVE_BOOT_IDMAP_LIMIT ||
	    !gpa_is_ram(&vm->mem, req->stack - 8) ||
	    (cr3 & 0xfff) || gpa_to_hva(&vm->mem, cr3, 4096) == NULL)
		return HYVE_APS_EADDR;
	struct vcpu *v = &vm->vcpus[req->apic_id];
	uint32_t st = HYVE_APS_OK;
	pthread_mutex_lock(&start_lock);
	if (atomic_load(&v->thread_started)) {
		st = HYVE_APS_ESTARTED;
	} else if (boot_set_cpu_state(v, true, cr3, req->entry, req->stack,
	    req->arg, req->apic_id) < 0 ||
	    hv_vcpu_set_mp_state(v->hv, HV_MP_RUNNABLE) < 0 ||
	    vcpu_start(v) < 0) {
		pr_err("cannot start vCPU %u", req->apic_id);
		st = HYVE_APS_EFAIL;
	}
	pthread_mutex_unlock(&start_lock);
	return st;
}
