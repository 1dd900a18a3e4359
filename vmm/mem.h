/*
 * Guest RAM.  Backed by one shared file, the VM's memory node, in which the
 * byte at offset X is the byte at guest-physical address X: RAM below the
 * 32-bit MMIO hole at offset 0, RAM above 4 GiB at offset 4 GiB (the hole is
 * a sparse gap).  By default every page is allocated and locked (pinned)
 * before the guest starts; on-demand mode allocates on first touch.
 */
#ifndef HYVE_MEM_H
#define HYVE_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hv_vm;

struct guest_mem {
	uint64_t size;          /* total RAM bytes */
	uint64_t lo_size;       /* RAM from gpa 0 */
	uint64_t hi_size;       /* RAM from 4 GiB */
	uint8_t *lo, *hi;       /* host mappings */
	int fd;                 /* the memory node */
	char path[256];
	bool pinned;
};

/* dir: where the node goes (created if needed).  On error returns -errno
 * and writes a one-line reason into err. */
int mem_create(struct guest_mem *m, const char *dir, const char *name,
    uint64_t size, bool ondemand, char *err, size_t errlen);
int mem_map_into(struct guest_mem *m, struct hv_vm *vm);
void mem_destroy(struct guest_mem *m);

/* Host pointer for [gpa, gpa+len) if it lies wholly in RAM, else NULL. */
void *gpa_to_hva(const struct guest_mem *m, uint64_t gpa, uint64_t len);
/* True if gpa lies in RAM. */
bool gpa_is_ram(const struct guest_mem *m, uint64_t gpa);

/* The directory for memory nodes: $HYVE_VMM_DIR, else /dev/vmm when we may
 * write there, else $XDG_RUNTIME_DIR/hyve/vmm or /tmp/hyve-UID/vmm. */
const char *mem_node_dir(void);

#endif
