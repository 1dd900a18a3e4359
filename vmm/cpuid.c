#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/abi.h"
#include "vmm/cpuid.h"
#include "vmm/vm.h"

#define MAX_ENTRIES 256

static struct hv_cpuid *
find(struct hv_cpuid *t, int n, uint32_t fn, uint32_t idx)
{
	for (int i = 0; i < n; i++)
		if (t[i].function == fn &&
		    (!(t[i].flags & HV_CPUID_SIGNIFICANT_INDEX) || t[i].index == idx))
			return &t[i];
	return NULL;
}

/* Find or append entry (fn, idx). */
static struct hv_cpuid *
entry(struct hv_cpuid *t, int *n, uint32_t fn, uint32_t idx, bool indexed)
{
	for (int i = 0; i < *n; i++)
		if (t[i].function == fn && (!indexed || t[i].index == idx))
			return &t[i];
	if (*n >= MAX_ENTRIES)
		return NULL;
	struct hv_cpuid *e = &t[(*n)++];
	memset(e, 0, sizeof(*e));
	e->function = fn;
	e->index = idx;
	e->flags = indexed ? HV_CPUID_SIGNIFICANT_INDEX : 0;
	return e;
}

static void
remove_range(struct hv_cpuid *t, int *n, uint32_t lo, uint32_t hi)
{
	int j = 0;
	for (int i = 0; i < *n; i++)
		if (t[i].function < lo || t[i].function > hi)
			t[j++] = t[i];
	*n = j;
}

static uint32_t
sig32(const char *s)
{
	uint32_t v;
	memcpy(&v, s, 4);
	return v;
}

static unsigned
order(int n)            /* bits needed for IDs 0..n-1 */
{
	unsigned b = 0;
	while ((1 << b) < n)
		b++;
	return b;
}

static void
set_topology_leaf(struct hv_cpuid *t, int *n, uint32_t fn, int id,
    int threads, int per_pkg)
{
	/* Level 0: SMT (threads per core); level 1: the logical processors of
	 * the package.  The x2APIC ID is the vCPU number. */
	struct hv_cpuid *e = entry(t, n, fn, 0, true);
	if (e) {
		e->eax = order(threads);
		e->ebx = (uint32_t)threads;
		e->ecx = (1u << 8) | 0;
		e->edx = (uint32_t)id;
	}
	e = entry(t, n, fn, 1, true);
	if (e) {
		e->eax = order(per_pkg);
		e->ebx = (uint32_t)per_pkg;
		e->ecx = (2u << 8) | 1;
		e->edx = (uint32_t)id;
	}
	e = entry(t, n, fn, 2, true);
	if (e) {
		e->eax = e->ebx = 0;
		e->ecx = 2;
		e->edx = (uint32_t)id;
	}
}

int
cpuid_setup(struct vcpu *v, const struct vm_config *cfg)
{
	int ncpus = cfg->cores * cfg->threads;  /* logical per package */
	struct hv_cpuid *t = calloc(MAX_ENTRIES, sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	int n = hv_get_supported_cpuid(t, MAX_ENTRIES - 16);
	if (n < 0) {
		free(t);
		return n;
	}
	/* KVM's paravirtual leaves move up to 0x40000100 (Linux scans there);
	 * hyve's own take 0x40000000. */
	struct hv_cpuid kvm[2];
	int nkvm = 0;
	for (uint32_t f = 0x40000000; f <= 0x40000001; f++) {
		struct hv_cpuid *k = find(t, n, f, 0);
		if (k) {
			kvm[nkvm] = *k;
			kvm[nkvm].function += 0x100;
			nkvm++;
		}
	}
	remove_range(t, &n, 0x40000000, 0x4fffffff);
	const char *sig = HYVE_CPUID_SIGNATURE;
	struct hv_cpuid *e = entry(t, &n, 0x40000000, 0, false);
	if (e) {
		e->eax = 0x40000000;
		e->ebx = sig32(sig);
		e->ecx = sig32(sig + 4);
		e->edx = sig32(sig + 8);
	}
	for (int i = 0; i < nkvm; i++) {
		e = entry(t, &n, kvm[i].function, 0, false);
		if (e) {
			*e = kvm[i];
			if (e->function == 0x40000100)
				e->eax = 0x40000101;
		}
	}

	/* Basic leaves: room for 0x1f. */
	struct hv_cpuid *l0 = find(t, n, 0, 0);
	if (l0 && l0->eax < 0x1f)
		l0->eax = 0x1f;
	struct hv_cpuid *l1 = find(t, n, 1, 0);
	if (l1) {
		l1->ebx = (l1->ebx & 0x0000ffffu) | ((uint32_t)ncpus << 16) |
		    ((uint32_t)v->id << 24);
		if (ncpus > 1)
			l1->edx |= 1u << 28;    /* HTT: the count field is valid */
		l1->ecx |= 1u << 31;            /* running under a hypervisor */
	}
	/* Leaf 4 (deterministic cache parameters): cores per package - 1,
	 * and the threads of a core share its caches. */
	for (int i = 0; i < n; i++)
		if (t[i].function == 4) {
			t[i].eax = (t[i].eax & 0x03ffffffu) |
			    ((uint32_t)(cfg->cores - 1) << 26);
			t[i].eax = (t[i].eax & ~(0xfffu << 14)) |
			    ((uint32_t)(cfg->threads - 1) << 14);
		}
	set_topology_leaf(t, &n, 0xb, v->id, cfg->threads, ncpus);
	set_topology_leaf(t, &n, 0x1f, v->id, cfg->threads, ncpus);
	/* AMD: 0x80000008 ECX[7:0] = cores - 1, [15:12] = APIC ID size. */
	struct hv_cpuid *x8 = find(t, n, 0x80000008, 0);
	if (x8)
		x8->ecx = (x8->ecx & ~0xf0ffu) | (order(ncpus) << 12) |
		    (uint32_t)(ncpus - 1);
	/* AMD: 0x80000001 ECX CmpLegacy when more than one core. */
	struct hv_cpuid *x1 = find(t, n, 0x80000001, 0);
	if (x1 && ncpus > 1)
		x1->ecx |= 1u << 1;

	int r = hv_vcpu_set_cpuid(v->hv, t, n);
	free(t);
	return r;
}
