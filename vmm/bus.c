#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/bus.h"

void
bus_init(struct bus *b, const char *name)
{
	memset(b, 0, sizeof(*b));
	b->name = name;
	pthread_rwlock_init(&b->lock, NULL);
}

void
bus_fini(struct bus *b)
{
	free(b->r);
	b->r = NULL;
	b->n = b->cap = 0;
	pthread_rwlock_destroy(&b->lock);
}

/* Index of the first range whose end is above addr. */
static int
lower_bound(const struct bus *b, uint64_t addr)
{
	int lo = 0, hi = b->n;
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if (b->r[mid].base + b->r[mid].len <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int
bus_register(struct bus *b, uint64_t base, uint64_t len, bus_handler_t fn,
    void *opaque, const char *name)
{
	if (len == 0 || base + len < base || fn == NULL)
		return -EINVAL;
	pthread_rwlock_wrlock(&b->lock);
	int i = lower_bound(b, base);
	if (i < b->n && b->r[i].base < base + len) {
		pthread_rwlock_unlock(&b->lock);
		return -EBUSY;
	}
	if (b->n == b->cap) {
		int cap = b->cap ? b->cap * 2 : 16;
		struct bus_range *r = realloc(b->r, (size_t)cap * sizeof(*r));
		if (r == NULL) {
			pthread_rwlock_unlock(&b->lock);
			return -ENOMEM;
		}
		b->r = r;
		b->cap = cap;
	}
	memmove(&b->r[i + 1], &b->r[i], (size_t)(b->n - i) * sizeof(b->r[0]));
	b->r[i] = (struct bus_range){ base, len, fn, opaque, name };
	b->n++;
	pthread_rwlock_unlock(&b->lock);
	return 0;
}

int
bus_unregister(struct bus *b, uint64_t base)
{
	pthread_rwlock_wrlock(&b->lock);
	int i = lower_bound(b, base);
	int r = -ENOENT;
	if (i < b->n && b->r[i].base == base) {
		memmove(&b->r[i], &b->r[i + 1],
		    (size_t)(b->n - i - 1) * sizeof(b->r[0]));
		b->n--;
		r = 0;
	}
	pthread_rwlock_unlock(&b->lock);
	return r;
}

int
bus_access(struct bus *b, struct vcpu *vcpu, uint64_t addr, uint8_t *data,
    unsigned len, bool write)
{
	pthread_rwlock_rdlock(&b->lock);
	int i = lower_bound(b, addr);
	if (i >= b->n || b->r[i].base > addr ||
	    addr + len > b->r[i].base + b->r[i].len) {
		pthread_rwlock_unlock(&b->lock);
		return -ENOENT;
	}
	struct bus_range r = b->r[i];
	pthread_rwlock_unlock(&b->lock);
	return r.fn(vcpu, addr, data, len, write, r.opaque);
}

const char *
bus_owner(struct bus *b, uint64_t addr)
{
	const char *name = NULL;
	pthread_rwlock_rdlock(&b->lock);
	int i = lower_bound(b, addr);
	if (i < b->n && b->r[i].base <= addr)
		name = b->r[i].name;
	pthread_rwlock_unlock(&b->lock);
	return name;
}
