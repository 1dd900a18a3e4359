/*
 * IPIs sent by a vCPU, counted by the hypervisor module's own tracepoint
 * (kvm:kvm_apic_ipi fires once per ICR write that sends an IPI, on the
 * sending vCPU's thread).  The in-kernel local APIC handles IPIs without
 * user space, and x2APIC MSRs cannot be filtered to user space, so the
 * module's tracepoint is the exact count there is.  A perf counter on the
 * tracepoint, bound to the vCPU thread, counts without recording anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kmod/hv.h"

static const char *const id_paths[] = {
	"/sys/kernel/tracing/events/kvm/kvm_apic_ipi/id",
	"/sys/kernel/debug/tracing/events/kvm/kvm_apic_ipi/id",
};

static long
tracepoint_id(void)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < sizeof(id_paths) / sizeof(id_paths[0]); i++) {
			FILE *f = fopen(id_paths[i], "r");
			if (f == NULL)
				continue;
			long id = -1;
			if (fscanf(f, "%ld", &id) != 1)
				id = -1;
			fclose(f);
			if (id >= 0)
				return id;
		}
		/* tracefs not mounted yet: mount it where it belongs (root). */
		if (pass == 0 && mount("nodev", "/sys/kernel/tracing", "tracefs", 0,
		    NULL) < 0)
			break;
	}
	return -ENOENT;
}

int
hv_ipi_counter_open(int tid)
{
	static long id = -2;
	if (id == -2)
		id = tracepoint_id();
	if (id < 0)
		return -ENOENT;
	struct perf_event_attr a;
	memset(&a, 0, sizeof(a));
	a.type = PERF_TYPE_TRACEPOINT;
	a.size = sizeof(a);
	a.config = (uint64_t)id;
	a.exclude_hv = 0;
	int fd = (int)syscall(SYS_perf_event_open, &a, tid, -1, -1,
	    PERF_FLAG_FD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int
hv_ipi_counter_read(int fd, uint64_t *count)
{
	if (fd < 0)
		return -EBADF;
	return read(fd, count, sizeof(*count)) == (ssize_t)sizeof(*count) ?
	    0 : -errno;
}
