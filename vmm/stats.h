/* Per-vCPU statistics kept by the run loop: count and time by exit reason. */
#ifndef HYVE_STATS_H
#define HYVE_STATS_H

#include <stdint.h>

#include "kmod/hv.h"

enum stat_kind {
	STAT_IO = 0, STAT_MMIO, STAT_HLT, STAT_SHUTDOWN, STAT_INTERNAL,
	STAT_FAIL_ENTRY, STAT_INTR, STAT_SYSTEM_EVENT, STAT_IRQ_WINDOW,
	STAT_DEBUG, STAT_OTHER,
	STAT__COUNT
};
_Static_assert((int)STAT__COUNT == (int)HV_EXIT__COUNT, "stat kinds");

struct stat_counter {
	uint64_t count;
	uint64_t ns;            /* time spent in user space handling it */
};

struct vcpu_stats {
	struct stat_counter exit[STAT__COUNT];
	uint64_t guest_ns;      /* time inside KVM_RUN */
	uint64_t runs;
	uint64_t irqs_injected;  /* by hyve (hyvectl interrupt) */
};

extern const char *const stat_names[STAT__COUNT];

/* Relaxed atomic add/read so another thread may read while the vCPU runs. */
static inline void
stat_add(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + v,
	    __ATOMIC_RELAXED);
}

static inline uint64_t
stat_read(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

#endif
