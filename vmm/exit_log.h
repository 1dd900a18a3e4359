#ifndef HYVE_EXIT_LOG_H
#define HYVE_EXIT_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/log.h"

/* The last exits of a vCPU, kept for the report on a triple fault: a
 * KVM_EXIT_SHUTDOWN leaves little else behind. */
#define EXIT_LOG_LEN 8

struct exit_note {
	uint64_t seq;           /* the vCPU's run number (stats.runs) */
	uint64_t addr;          /* port or guest-physical address */
	uint8_t kind;
	bool write;
};

struct vcpu;
struct hv_exit;
/* Note exit E of the vCPU's latest run (stats.runs, counted from 1). */
void exit_log_note(struct vcpu *v, const struct hv_exit *e);
/* Print at LVL what EVENT ended the vCPU's run, the noted exits, the
 * registers, the descriptor tables, the run state and the local APIC's
 * pending and in-service interrupts.  From the vCPU's own thread, or from
 * any thread once the vCPU has left the module for good.  AT_SHUTDOWN: the
 * report of a triple fault (which some modules answer with a vCPU reset). */
void exit_log_report(struct vcpu *v, enum log_level lvl, const char *event,
    bool at_shutdown);

#endif
