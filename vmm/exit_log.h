#ifndef HYVE_EXIT_LOG_H
#define HYVE_EXIT_LOG_H

#include <stdbool.h>
#include <stdint.h>

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
/* Print the noted exits, the registers and the descriptor tables. */
void exit_log_report(struct vcpu *v);

#endif
