#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kmod/hv.h"
#include "vmm/abi.h"
#include "vmm/mem.h"

static int
mkdir_p(const char *dir)
{
	char tmp[256];
	if (snprintf(tmp, sizeof(tmp), "%s", dir) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

const char *
mem_node_dir(void)
{
	static char buf[200];
	const char *env = getenv("HYVE_VMM_DIR");
	if (env != NULL && *env != '\0')
		return env;
	if (geteuid() == 0)
		return "/dev/vmm";
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (xdg != NULL && *xdg != '\0')
		snprintf(buf, sizeof(buf), "%s/hyve/vmm", xdg);
	else
		snprintf(buf, sizeof(buf), "/tmp/hyve-%u/vmm", (unsigned)geteuid());
	return buf;
}

static void *
map_part(int fd, uint64_t off, uint64_t len, bool ondemand)
{
	int flags = MAP_SHARED | (ondemand ? MAP_NORESERVE : MAP_POPULATE);
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, (off_t)off);
	if (p == MAP_FAILED)
		return NULL;
	(void)madvise(p, len, MADV_DONTDUMP);
	return p;
}

int
mem_create(struct guest_mem *m, const char *dir, const char *name,
    uint64_t size, bool ondemand, char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	int r = mkdir_p(dir);
	if (r < 0) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(-r));
		return r;
	}
	if (snprintf(m->path, sizeof(m->path), "%s/%s", dir, name) >=
	    (int)sizeof(m->path)) {
		snprintf(err, errlen, "memory node path too long");
		return -ENAMETOOLONG;
	}
	m->fd = open(m->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (m->fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", m->path, strerror(errno));
		return r;
	}
	/* A running hyve holds an exclusive lock on its node. */
	if (flock(m->fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "a VM named %s is already running (%s)",
		    name, m->path);
		close(m->fd);
		m->fd = -1;
		m->path[0] = '\0';
		return -EEXIST;
	}
	m->size = size;
	m->lo_size = size < HYVE_MMIO_HOLE_START ? size : HYVE_MMIO_HOLE_START;
	m->hi_size = size - m->lo_size;
	uint64_t flen = m->hi_size ? HYVE_HIGHMEM_START + m->hi_size : m->lo_size;
	/* Start from zeroed memory even if a stale node was left behind. */
	if (ftruncate(m->fd, 0) < 0 || ftruncate(m->fd, (off_t)flen) < 0)
		goto fail_errno;
	if (!ondemand) {
		if (fallocate(m->fd, 0, 0, (off_t)m->lo_size) < 0 ||
		    (m->hi_size && fallocate(m->fd, 0, (off_t)HYVE_HIGHMEM_START,
		    (off_t)m->hi_size) < 0))
			goto fail_errno;
	}
	m->lo = map_part(m->fd, 0, m->lo_size, ondemand);
	if (m->lo == NULL)
		goto fail_errno;
	if (m->hi_size) {
		m->hi = map_part(m->fd, HYVE_HIGHMEM_START, m->hi_size, ondemand);
		if (m->hi == NULL)
			goto fail_errno;
	}
	if (!ondemand) {
		if (mlock(m->lo, m->lo_size) < 0 ||
		    (m->hi && mlock(m->hi, m->hi_size) < 0)) {
			r = -errno;
			snprintf(err, errlen, "cannot pin %llu MiB of guest memory: "
			    "%s (raise RLIMIT_MEMLOCK or use -L for on-demand "
			    "memory)", (unsigned long long)(size >> 20),
			    strerror(errno));
			mem_destroy(m);
			return r;
		}
		m->pinned = true;
	}
	return 0;
fail_errno:
	r = -errno;
	snprintf(err, errlen, "cannot allocate %llu MiB of guest memory in %s: %s",
	    (unsigned long long)(size >> 20), m->path, strerror(errno));
	mem_destroy(m);
	return r;
}

int
mem_map_into(struct guest_mem *m, struct hv_vm *vm)
{
	int r = hv_vm_map_memory(vm, 0, 0, m->lo_size, m->lo);
	if (r == 0 && m->hi_size)
		r = hv_vm_map_memory(vm, 1, HYVE_HIGHMEM_START, m->hi_size, m->hi);
	return r;
}

void
mem_destroy(struct guest_mem *m)
{
	if (m->lo)
		munmap(m->lo, m->lo_size);
	if (m->hi)
		munmap(m->hi, m->hi_size);
	m->lo = m->hi = NULL;
	if (m->fd >= 0) {
		if (m->path[0])
			unlink(m->path);
		close(m->fd);
	}
	m->fd = -1;
}

void *
gpa_to_hva(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	if (gpa + len < gpa)
		return NULL;
	if (gpa + len <= m->lo_size)
		return m->lo + gpa;
	if (m->hi_size && gpa >= HYVE_HIGHMEM_START &&
	    gpa + len <= HYVE_HIGHMEM_START + m->hi_size)
		return m->hi + (gpa - HYVE_HIGHMEM_START);
	return NULL;
}

bool
gpa_is_ram(const struct guest_mem *m, uint64_t gpa)
{
	return gpa_to_hva(m, gpa, 1) != NULL;
}
