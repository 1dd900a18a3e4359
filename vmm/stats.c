/* Names of the per-vCPU exit statistics (vmm/stats.h), as hyvectl shows them. */
#include "vmm/stats.h"

const char *const stat_names[STAT__COUNT] = {
	[STAT_IO] = "io",
	[STAT_MMIO] = "mmio",
	[STAT_HLT] = "hlt",
	[STAT_SHUTDOWN] = "shutdown",
	[STAT_INTERNAL] = "internal",
	[STAT_FAIL_ENTRY] = "fail_entry",
	[STAT_INTR] = "intr",
	[STAT_SYSTEM_EVENT] = "system_event",
	[STAT_IRQ_WINDOW] = "irq_window",
	[STAT_DEBUG] = "debug",
	[STAT_OTHER] = "other",
};
