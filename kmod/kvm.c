/*
 * The hv API on Linux KVM.  The only file that includes <linux/kvm.h>.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "kmod/hv.h"

static int sys_fd = -1;
static int run_size;

#define HV_MAX_SLOTS 64                 /* extra slots per VM */
#define HV_GSI_FIRST 24                 /* after the IOAPIC's pins */
#define HV_MAX_MSI_ROUTES 1024

struct hv_msi_route {
	bool used;
	uint64_t addr;
	uint32_t data;
};

struct hv_vm {
	int fd;
	pthread_mutex_t lock;           /* slots and routes */
	bool slot_used[HV_MAX_SLOTS];
	struct hv_msi_route *routes;    /* HV_MAX_MSI_ROUTES, by gsi - 24 */
};

struct hv_vcpu {
	int fd;
	int id;
	struct kvm_run *run;
	int stats_fd;
	struct kvm_stats_header stats_hdr;
	struct kvm_stats_desc *stats_desc;   /* packed, stats_desc_size each */
	size_t stats_desc_size;
};

#define CAP(n, req) { #n, KVM_CAP_##n, req }
const struct hv_capinfo hv_caps[] = {
	CAP(USER_MEMORY, true),
	CAP(IRQCHIP, true),
	CAP(IRQ_ROUTING, false),
	CAP(SIGNAL_MSI, false),
	CAP(IRQFD, false),
	CAP(IOEVENTFD, false),
	CAP(NR_VCPUS, false),
	CAP(MAX_VCPUS, false),
	CAP(NR_MEMSLOTS, false),
	CAP(EXT_CPUID, true),
	CAP(MP_STATE, false),
	CAP(SET_TSS_ADDR, false),
	CAP(IMMEDIATE_EXIT, true),
	CAP(X2APIC_API, false),
	CAP(SPLIT_IRQCHIP, false),
	CAP(TSC_DEADLINE_TIMER, false),
	CAP(GET_TSC_KHZ, false),
	CAP(X86_USER_SPACE_MSR, false),
	CAP(BINARY_STATS_FD, false),
	CAP(SYNC_MMU, false),
	CAP(COALESCED_MMIO, false),
	CAP(READONLY_MEM, false),
	CAP(VCPU_EVENTS, false),
	CAP(NOP_IO_DELAY, false),
};
#undef CAP
const size_t hv_ncaps = sizeof(hv_caps) / sizeof(hv_caps[0]);

int
hv_open(void)
{
	if (sys_fd >= 0)
		return 0;
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int v = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION) {
		close(fd);
		return -ENOTSUP;
	}
	int sz = ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz < (int)sizeof(struct kvm_run)) {
		close(fd);
		return -ENOTSUP;
	}
	run_size = sz;
	sys_fd = fd;
	return 0;
}

int
hv_api_version(void)
{
	return sys_fd < 0 ? -EBADF : ioctl(sys_fd, KVM_GET_API_VERSION, 0);
}

const char *
hv_module_name(void)
{
	static const char *const mods[] = { "kvm_intel", "kvm_amd", "kvm_pvm" };
	for (size_t i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
		char path[64];
		struct stat st;
		snprintf(path, sizeof(path), "/sys/module/%s", mods[i]);
		if (stat(path, &st) == 0)
			return mods[i];
	}
	return "unknown";
}

int
hv_check_cap(int cap)
{
	if (sys_fd < 0)
		return -EBADF;
	int r = ioctl(sys_fd, KVM_CHECK_EXTENSION, cap);
	return r < 0 ? 0 : r;
}

int
hv_get_supported_cpuid(struct hv_cpuid *out, int max)
{
	if (sys_fd < 0)
		return -EBADF;
	size_t sz = sizeof(struct kvm_cpuid2) +
	    (size_t)max * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = calloc(1, sz);
	if (c == NULL)
		return -ENOMEM;
	c->nent = (uint32_t)max;
	if (ioctl(sys_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		int e = -errno;
		free(c);
		return e;
	}
	int n = (int)c->nent;
	for (int i = 0; i < n; i++) {
		struct kvm_cpuid_entry2 *k = &c->entries[i];
		out[i] = (struct hv_cpuid){
			.function = k->function, .index = k->index,
			.flags = (k->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) ?
			    HV_CPUID_SIGNIFICANT_INDEX : 0,
			.eax = k->eax, .ebx = k->ebx, .ecx = k->ecx, .edx = k->edx,
		};
	}
	free(c);
	return n;
}

int
hv_vm_create(struct hv_vm **out)
{
	int r = hv_open();
	if (r < 0)
		return r;
	struct hv_vm *vm = calloc(1, sizeof(*vm));
	if (vm == NULL)
		return -ENOMEM;
	do {
		vm->fd = ioctl(sys_fd, KVM_CREATE_VM, 0);
	} while (vm->fd < 0 && errno == EINTR);
	if (vm->fd < 0) {
		r = -errno;
		free(vm);
		return r;
	}
	(void)fcntl(vm->fd, F_SETFD, FD_CLOEXEC);
	pthread_mutex_init(&vm->lock, NULL);
	/* Where the platform needs a TSS region below 4 GiB (VMX), put it just
	 * under the top of the 32-bit space, away from RAM and devices. */
	if (hv_check_cap(KVM_CAP_SET_TSS_ADDR) > 0)
		(void)ioctl(vm->fd, KVM_SET_TSS_ADDR, 0xfffbd000ul);
	*out = vm;
	return 0;
}

void
hv_vm_destroy(struct hv_vm *vm)
{
	if (vm == NULL)
		return;
	close(vm->fd);
	pthread_mutex_destroy(&vm->lock);
	free(vm->routes);
	free(vm);
}

int
hv_vm_map_memory(struct hv_vm *vm, uint32_t slot, uint64_t gpa,
    uint64_t size, void *hva)
{
	struct kvm_userspace_memory_region m = {
		.slot = slot, .flags = 0, .guest_phys_addr = gpa,
		.memory_size = size, .userspace_addr = (uint64_t)(uintptr_t)hva,
	};
	return ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &m) < 0 ? -errno : 0;
}

int
hv_vm_create_irqchip(struct hv_vm *vm)
{
	return ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0) < 0 ? -errno : 0;
}

int
hv_vm_irq_line(struct hv_vm *vm, uint32_t irq, bool level)
{
	struct kvm_irq_level l = { .irq = irq, .level = level ? 1 : 0 };
	return ioctl(vm->fd, KVM_IRQ_LINE, &l) < 0 ? -errno : 0;
}

int
hv_vm_signal_msi(struct hv_vm *vm, uint64_t addr, uint32_t data)
{
	struct kvm_msi m = {
		.address_lo = (uint32_t)addr, .address_hi = (uint32_t)(addr >> 32),
		.data = data,
	};
	int r = ioctl(vm->fd, KVM_SIGNAL_MSI, &m);
	return r < 0 ? -errno : r;   /* 0: blocked by the guest, >0: delivered */
}

int
hv_vm_enable_cap(struct hv_vm *vm, int cap, uint64_t arg0)
{
	struct kvm_enable_cap c = { .cap = (uint32_t)cap, .args = { arg0 } };
	return ioctl(vm->fd, KVM_ENABLE_CAP, &c) < 0 ? -errno : 0;
}

int
hv_vm_ioeventfd(struct hv_vm *vm, uint64_t addr, unsigned len, int fd,
    bool pio, bool assign)
{
	struct kvm_ioeventfd e = {
		.addr = addr, .len = len, .fd = fd,
		.flags = (pio ? KVM_IOEVENTFD_FLAG_PIO : 0) |
		    (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};
	return ioctl(vm->fd, KVM_IOEVENTFD, &e) < 0 ? -errno : 0;
}

int
hv_vm_add_slot(struct hv_vm *vm, uint64_t gpa, uint64_t size, void *hva)
{
	if ((gpa | size | (uintptr_t)hva) & 0xfff || size == 0)
		return -EINVAL;
	pthread_mutex_lock(&vm->lock);
	int i = 0;
	while (i < HV_MAX_SLOTS && vm->slot_used[i])
		i++;
	int r = -ENOSPC;
	if (i < HV_MAX_SLOTS) {
		r = hv_vm_map_memory(vm, HV_SLOT_FIRST_EXTRA + (uint32_t)i, gpa,
		    size, hva);
		if (r == 0) {
			vm->slot_used[i] = true;
			r = i;
		}
	}
	pthread_mutex_unlock(&vm->lock);
	return r;
}

int
hv_vm_remove_slot(struct hv_vm *vm, int slot)
{
	if (slot < 0 || slot >= HV_MAX_SLOTS)
		return -EINVAL;
	pthread_mutex_lock(&vm->lock);
	int r = -ENOENT;
	if (vm->slot_used[slot]) {
		/* Size 0 deletes the slot. */
		r = hv_vm_map_memory(vm, HV_SLOT_FIRST_EXTRA + (uint32_t)slot, 0,
		    0, NULL);
		if (r == 0)
			vm->slot_used[slot] = false;
	}
	pthread_mutex_unlock(&vm->lock);
	return r;
}

bool
hv_has_irqfd(void)
{
	return hv_check_cap(KVM_CAP_IRQFD) > 0 &&
	    hv_check_cap(KVM_CAP_IRQ_ROUTING) > 0;
}

/* KVM_SET_GSI_ROUTING replaces the whole table: the in-kernel irqchip's
 * default routes (GSI 0-15 to the PICs and the IOAPIC, 16-23 to the IOAPIC),
 * then every MSI route.  Called with vm->lock held. */
static int
routes_commit(struct hv_vm *vm)
{
	unsigned n = 16 + 24;
	for (unsigned i = 0; i < HV_MAX_MSI_ROUTES; i++)
		n += vm->routes[i].used;
	struct kvm_irq_routing *t = calloc(1, sizeof(*t) +
	    n * sizeof(struct kvm_irq_routing_entry));
	if (t == NULL)
		return -ENOMEM;
	unsigned k = 0;
	for (unsigned gsi = 0; gsi < 24; gsi++) {
		if (gsi < 16)
			t->entries[k++] = (struct kvm_irq_routing_entry){
				.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
				.u.irqchip = { .irqchip = gsi < 8 ?
				    KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
				    .pin = gsi % 8 },
			};
		t->entries[k++] = (struct kvm_irq_routing_entry){
			.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = gsi },
		};
	}
	for (unsigned i = 0; i < HV_MAX_MSI_ROUTES; i++) {
		const struct hv_msi_route *m = &vm->routes[i];
		if (!m->used)
			continue;
		t->entries[k++] = (struct kvm_irq_routing_entry){
			.gsi = HV_GSI_FIRST + i, .type = KVM_IRQ_ROUTING_MSI,
			.u.msi = { .address_lo = (uint32_t)m->addr,
			    .address_hi = (uint32_t)(m->addr >> 32),
			    .data = m->data },
		};
	}
	t->nr = k;
	int r = ioctl(vm->fd, KVM_SET_GSI_ROUTING, t) < 0 ? -errno : 0;
	free(t);
	return r;
}

int
hv_vm_msi_route(struct hv_vm *vm, uint64_t addr, uint32_t data)
{
	pthread_mutex_lock(&vm->lock);
	int r = -ENOMEM;
	if (vm->routes == NULL)
		vm->routes = calloc(HV_MAX_MSI_ROUTES, sizeof(*vm->routes));
	if (vm->routes != NULL) {
		unsigned i = 0;
		while (i < HV_MAX_MSI_ROUTES && vm->routes[i].used)
			i++;
		r = -ENOSPC;
		if (i < HV_MAX_MSI_ROUTES) {
			vm->routes[i] = (struct hv_msi_route){ true, addr, data };
			r = routes_commit(vm);
			if (r == 0)
				r = HV_GSI_FIRST + (int)i;
			else
				vm->routes[i].used = false;
		}
	}
	pthread_mutex_unlock(&vm->lock);
	return r;
}

int
hv_vm_msi_route_set(struct hv_vm *vm, int gsi, uint64_t addr, uint32_t data)
{
	unsigned i = (unsigned)(gsi - HV_GSI_FIRST);
	pthread_mutex_lock(&vm->lock);
	int r = -EINVAL;
	if (gsi >= HV_GSI_FIRST && i < HV_MAX_MSI_ROUTES && vm->routes &&
	    vm->routes[i].used) {
		r = 0;
		if (vm->routes[i].addr != addr || vm->routes[i].data != data) {
			vm->routes[i].addr = addr;
			vm->routes[i].data = data;
			r = routes_commit(vm);
		}
	}
	pthread_mutex_unlock(&vm->lock);
	return r;
}

void
hv_vm_msi_route_free(struct hv_vm *vm, int gsi)
{
	unsigned i = (unsigned)(gsi - HV_GSI_FIRST);
	pthread_mutex_lock(&vm->lock);
	if (gsi >= HV_GSI_FIRST && i < HV_MAX_MSI_ROUTES && vm->routes &&
	    vm->routes[i].used) {
		vm->routes[i].used = false;
		(void)routes_commit(vm);
	}
	pthread_mutex_unlock(&vm->lock);
}

int
hv_vm_irqfd(struct hv_vm *vm, int fd, int gsi, bool assign)
{
	struct kvm_irqfd f = {
		.fd = (uint32_t)fd, .gsi = (uint32_t)gsi,
		.flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};
	return ioctl(vm->fd, KVM_IRQFD, &f) < 0 ? -errno : 0;
}

static void
stats_open(struct hv_vcpu *v)
{
	v->stats_fd = -1;
	if (hv_check_cap(KVM_CAP_BINARY_STATS_FD) <= 0)
		return;
	int fd = ioctl(v->fd, KVM_GET_STATS_FD, NULL);
	if (fd < 0)
		return;
	struct kvm_stats_header *h = &v->stats_hdr;
	if (pread(fd, h, sizeof(*h), 0) != (ssize_t)sizeof(*h) ||
	    h->num_desc == 0 || h->num_desc > 4096 || h->name_size > 4096) {
		close(fd);
		return;
	}
	v->stats_desc_size = sizeof(struct kvm_stats_desc) + h->name_size;
	size_t total = v->stats_desc_size * h->num_desc;
	v->stats_desc = malloc(total);
	if (v->stats_desc == NULL ||
	    pread(fd, v->stats_desc, total, h->desc_offset) != (ssize_t)total) {
		free(v->stats_desc);
		v->stats_desc = NULL;
		close(fd);
		return;
	}
	v->stats_fd = fd;
}

int
hv_vcpu_create(struct hv_vm *vm, int id, struct hv_vcpu **out)
{
	struct hv_vcpu *v = calloc(1, sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	v->id = id;
	v->fd = ioctl(vm->fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0) {
		int r = -errno;
		free(v);
		return r;
	}
	(void)fcntl(v->fd, F_SETFD, FD_CLOEXEC);
	v->run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE,
	    MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		int r = -errno;
		close(v->fd);
		free(v);
		return r;
	}
	stats_open(v);
	*out = v;
	return 0;
}

void
hv_vcpu_destroy(struct hv_vcpu *v)
{
	if (v == NULL)
		return;
	if (v->stats_fd >= 0)
		close(v->stats_fd);
	free(v->stats_desc);
	munmap(v->run, (size_t)run_size);
	close(v->fd);
	free(v);
}

int
hv_vcpu_id(const struct hv_vcpu *v)
{
	return v->id;
}

static void
decode_exit(struct kvm_run *run, struct hv_exit *e)
{
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		e->kind = HV_EXIT_IO;
		e->u.io.port = run->io.port;
		e->u.io.size = run->io.size;
		e->u.io.in = run->io.direction == KVM_EXIT_IO_IN;
		e->u.io.count = run->io.count;
		e->u.io.data = (uint8_t *)run + run->io.data_offset;
		break;
	case KVM_EXIT_MMIO:
		e->kind = HV_EXIT_MMIO;
		e->u.mmio.gpa = run->mmio.phys_addr;
		e->u.mmio.data = run->mmio.data;
		e->u.mmio.len = run->mmio.len;
		e->u.mmio.write = run->mmio.is_write;
		break;
	case KVM_EXIT_HLT:
		e->kind = HV_EXIT_HLT;
		break;
	case KVM_EXIT_SHUTDOWN:
		e->kind = HV_EXIT_SHUTDOWN;
		break;
	case KVM_EXIT_INTERNAL_ERROR: {
		e->kind = HV_EXIT_INTERNAL;
		e->u.internal.suberror = run->internal.suberror;
		uint32_t n = run->internal.ndata;
		if (n > 4)
			n = 4;
		e->u.internal.ndata = n;
		for (uint32_t i = 0; i < n; i++)
			e->u.internal.data[i] = run->internal.data[i];
		break;
	}
	case KVM_EXIT_FAIL_ENTRY:
		e->kind = HV_EXIT_FAIL_ENTRY;
		e->u.fail.reason = run->fail_entry.hardware_entry_failure_reason;
		break;
	case KVM_EXIT_INTR:
		e->kind = HV_EXIT_INTR;
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		e->kind = HV_EXIT_SYSTEM_EVENT;
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_RESET:
			e->u.event.type = HV_EVENT_RESET;
			break;
		case KVM_SYSTEM_EVENT_CRASH:
			e->u.event.type = HV_EVENT_CRASH;
			break;
		default:
			e->u.event.type = HV_EVENT_SHUTDOWN;
		}
		break;
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		e->kind = HV_EXIT_IRQ_WINDOW;
		break;
	case KVM_EXIT_DEBUG:
		e->kind = HV_EXIT_DEBUG;
		break;
	default:
		e->kind = HV_EXIT_OTHER;
		e->u.other.reason = run->exit_reason;
	}
}

int
hv_vcpu_run(struct hv_vcpu *v, struct hv_exit *e)
{
	if (ioctl(v->fd, KVM_RUN, 0) < 0) {
		/* EAGAIN: an AP woke while waiting for INIT/SIPI and must be
		 * run again; to the loop it is a kick like EINTR. */
		if (errno == EINTR || errno == EAGAIN) {
			e->kind = HV_EXIT_INTR;
			return 0;
		}
		return -errno;
	}
	decode_exit(v->run, e);
	return 0;
}

void
hv_vcpu_kick(struct hv_vcpu *v, int signo, unsigned long thread)
{
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill((pthread_t)thread, signo);
}

void
hv_vcpu_clear_kick(struct hv_vcpu *v)
{
	__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
}

int
hv_vcpu_complete_io(struct hv_vcpu *v)
{
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (ioctl(v->fd, KVM_RUN, 0) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

int
hv_vcpu_get_regs(struct hv_vcpu *v, struct hv_regs *r)
{
	struct kvm_regs k;
	if (ioctl(v->fd, KVM_GET_REGS, &k) < 0)
		return -errno;
	*r = (struct hv_regs){
		k.rax, k.rbx, k.rcx, k.rdx, k.rsi, k.rdi, k.rsp, k.rbp,
		k.r8, k.r9, k.r10, k.r11, k.r12, k.r13, k.r14, k.r15,
		k.rip, k.rflags,
	};
	return 0;
}

int
hv_vcpu_set_regs(struct hv_vcpu *v, const struct hv_regs *r)
{
	struct kvm_regs k = {
		.rax = r->rax, .rbx = r->rbx, .rcx = r->rcx, .rdx = r->rdx,
		.rsi = r->rsi, .rdi = r->rdi, .rsp = r->rsp, .rbp = r->rbp,
		.r8 = r->r8, .r9 = r->r9, .r10 = r->r10, .r11 = r->r11,
		.r12 = r->r12, .r13 = r->r13, .r14 = r->r14, .r15 = r->r15,
		.rip = r->rip, .rflags = r->rflags,
	};
	return ioctl(v->fd, KVM_SET_REGS, &k) < 0 ? -errno : 0;
}

static void
seg_from_kvm(struct hv_seg *h, const struct kvm_segment *k)
{
	*h = (struct hv_seg){
		.base = k->base, .limit = k->limit, .selector = k->selector,
		.type = k->type, .present = k->present, .dpl = k->dpl,
		.db = k->db, .s = k->s, .l = k->l, .g = k->g, .avl = k->avl,
		.unusable = k->unusable,
	};
}

static void
seg_to_kvm(struct kvm_segment *k, const struct hv_seg *h)
{
	*k = (struct kvm_segment){
		.base = h->base, .limit = h->limit, .selector = h->selector,
		.type = h->type, .present = h->present, .dpl = h->dpl,
		.db = h->db, .s = h->s, .l = h->l, .g = h->g, .avl = h->avl,
		.unusable = h->unusable,
	};
}

int
hv_vcpu_get_sregs(struct hv_vcpu *v, struct hv_sregs *s)
{
	struct kvm_sregs k;
	if (ioctl(v->fd, KVM_GET_SREGS, &k) < 0)
		return -errno;
	seg_from_kvm(&s->cs, &k.cs);
	seg_from_kvm(&s->ds, &k.ds);
	seg_from_kvm(&s->es, &k.es);
	seg_from_kvm(&s->fs, &k.fs);
	seg_from_kvm(&s->gs, &k.gs);
	seg_from_kvm(&s->ss, &k.ss);
	seg_from_kvm(&s->tr, &k.tr);
	seg_from_kvm(&s->ldt, &k.ldt);
	s->gdt = (struct hv_dtable){ k.gdt.base, k.gdt.limit };
	s->idt = (struct hv_dtable){ k.idt.base, k.idt.limit };
	s->cr0 = k.cr0;
	s->cr2 = k.cr2;
	s->cr3 = k.cr3;
	s->cr4 = k.cr4;
	s->cr8 = k.cr8;
	s->efer = k.efer;
	s->apic_base = k.apic_base;
	return 0;
}

int
hv_vcpu_set_sregs(struct hv_vcpu *v, const struct hv_sregs *s)
{
	struct kvm_sregs k;
	/* Start from the current state so the interrupt bitmap is kept. */
	if (ioctl(v->fd, KVM_GET_SREGS, &k) < 0)
		return -errno;
	seg_to_kvm(&k.cs, &s->cs);
	seg_to_kvm(&k.ds, &s->ds);
	seg_to_kvm(&k.es, &s->es);
	seg_to_kvm(&k.fs, &s->fs);
	seg_to_kvm(&k.gs, &s->gs);
	seg_to_kvm(&k.ss, &s->ss);
	seg_to_kvm(&k.tr, &s->tr);
	seg_to_kvm(&k.ldt, &s->ldt);
	k.gdt.base = s->gdt.base;
	k.gdt.limit = s->gdt.limit;
	k.idt.base = s->idt.base;
	k.idt.limit = s->idt.limit;
	k.cr0 = s->cr0;
	k.cr2 = s->cr2;
	k.cr3 = s->cr3;
	k.cr4 = s->cr4;
	k.cr8 = s->cr8;
	k.efer = s->efer;
	k.apic_base = s->apic_base;
	return ioctl(v->fd, KVM_SET_SREGS, &k) < 0 ? -errno : 0;
}

struct one_msr {
	struct kvm_msrs hdr;
	struct kvm_msr_entry e;
};

int
hv_vcpu_get_msr(struct hv_vcpu *v, uint32_t index, uint64_t *value)
{
	struct one_msr m = { .hdr.nmsrs = 1, .e.index = index };
	int r = ioctl(v->fd, KVM_GET_MSRS, &m);
	if (r < 0)
		return -errno;
	if (r != 1)
		return -EINVAL;
	*value = m.e.data;
	return 0;
}

int
hv_vcpu_set_msr(struct hv_vcpu *v, uint32_t index, uint64_t value)
{
	struct one_msr m = { .hdr.nmsrs = 1, .e.index = index, .e.data = value };
	int r = ioctl(v->fd, KVM_SET_MSRS, &m);
	if (r < 0)
		return -errno;
	return r == 1 ? 0 : -EINVAL;
}

int
hv_vcpu_set_cpuid(struct hv_vcpu *v, const struct hv_cpuid *e, int n)
{
	size_t sz = sizeof(struct kvm_cpuid2) +
	    (size_t)n * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = calloc(1, sz);
	if (c == NULL)
		return -ENOMEM;
	c->nent = (uint32_t)n;
	for (int i = 0; i < n; i++) {
		c->entries[i] = (struct kvm_cpuid_entry2){
			.function = e[i].function, .index = e[i].index,
			.flags = (e[i].flags & HV_CPUID_SIGNIFICANT_INDEX) ?
			    KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0,
			.eax = e[i].eax, .ebx = e[i].ebx, .ecx = e[i].ecx,
			.edx = e[i].edx,
		};
	}
	int r = ioctl(v->fd, KVM_SET_CPUID2, c) < 0 ? -errno : 0;
	free(c);
	return r;
}

int
hv_vcpu_inject_irq(struct hv_vcpu *v, uint8_t vector)
{
	struct kvm_interrupt i = { .irq = vector };
	return ioctl(v->fd, KVM_INTERRUPT, &i) < 0 ? -errno : 0;
}

int
hv_vcpu_inject_nmi(struct hv_vcpu *v)
{
	return ioctl(v->fd, KVM_NMI, 0) < 0 ? -errno : 0;
}

int
hv_vcpu_get_mp_state(struct hv_vcpu *v, uint32_t *state)
{
	struct kvm_mp_state s;
	if (ioctl(v->fd, KVM_GET_MP_STATE, &s) < 0)
		return -errno;
	*state = s.mp_state;
	return 0;
}

/* In the register page KVM_GET_LAPIC returns, IRR and ISR are eight 32-bit
 * words each, 16 bytes apart (at 0x200 and 0x100); the TPR is at 0x80. */
static void
apic_bits(const struct kvm_lapic_state *l, unsigned base, uint8_t *top,
    unsigned *count)
{
	*top = 0;
	*count = 0;
	for (unsigned w = 0; w < 8; w++) {
		uint32_t bits;
		memcpy(&bits, &l->regs[base + 16 * w], 4);
		*count += (unsigned)__builtin_popcount(bits);
		if (bits)
			*top = (uint8_t)(32 * w + 31 - __builtin_clz(bits));
	}
}

int
hv_vcpu_apic_summary(struct hv_vcpu *v, struct hv_apic_summary *s)
{
	struct kvm_lapic_state l;
	if (ioctl(v->fd, KVM_GET_LAPIC, &l) < 0)
		return -errno;
	apic_bits(&l, 0x200, &s->irr_top, &s->irr_count);
	apic_bits(&l, 0x100, &s->isr_top, &s->isr_count);
	s->tpr = (uint8_t)l.regs[0x80];
	return 0;
}

int
hv_vcpu_set_mp_state(struct hv_vcpu *v, uint32_t state)
{
	struct kvm_mp_state s = { .mp_state = state };
	return ioctl(v->fd, KVM_SET_MP_STATE, &s) < 0 ? -errno : 0;
}

int
hv_vcpu_stats(struct hv_vcpu *v, struct hv_stat *out, int max)
{
	if (v->stats_fd < 0 || v->stats_desc == NULL)
		return 0;
	int n = 0;
	for (uint32_t i = 0; i < v->stats_hdr.num_desc && n < max; i++) {
		const struct kvm_stats_desc *d = (const void *)
		    ((const char *)v->stats_desc + i * v->stats_desc_size);
		if (d->size != 1)
			continue;       /* histograms are left out */
		uint64_t val;
		if (pread(v->stats_fd, &val, sizeof(val),
		    (off_t)(v->stats_hdr.data_offset + d->offset)) != sizeof(val))
			continue;
		snprintf(out[n].name, sizeof(out[n].name), "%.*s",
		    (int)v->stats_hdr.name_size, d->name);
		out[n].value = val;
		n++;
	}
	return n;
}
