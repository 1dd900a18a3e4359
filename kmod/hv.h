/*
 * hv: hyve's boundary to the kernel's hypervisor module.  In the shape of
 * bhyve's libvmmapi: create a VM, map memory, create vCPUs, get and set
 * registers, run, inject interrupts, read statistics and capabilities.
 * Only kmod/ includes <linux/kvm.h>; everything else uses these types.
 * Functions return 0 (or a count) on success and a negative errno on failure.
 */
#ifndef HYVE_HV_H
#define HYVE_HV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hv_vm;
struct hv_vcpu;

struct hv_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags;
};

struct hv_seg {
	uint64_t base;
	uint32_t limit;
	uint16_t selector;
	uint8_t type, present, dpl, db, s, l, g, avl, unusable;
};

struct hv_dtable {
	uint64_t base;
	uint16_t limit;
};

struct hv_sregs {
	struct hv_seg cs, ds, es, fs, gs, ss, tr, ldt;
	struct hv_dtable gdt, idt;
	uint64_t cr0, cr2, cr3, cr4, cr8, efer, apic_base;
};

/* Why KVM_RUN returned, decoded.  The run loop dispatches on kind. */
enum hv_exit_kind {
	HV_EXIT_IO,             /* port I/O for user space */
	HV_EXIT_MMIO,           /* MMIO for user space */
	HV_EXIT_HLT,            /* HLT (only without an in-kernel LAPIC) */
	HV_EXIT_SHUTDOWN,       /* triple fault */
	HV_EXIT_INTERNAL,       /* emulation failure and the like */
	HV_EXIT_FAIL_ENTRY,     /* the hardware refused to enter */
	HV_EXIT_INTR,           /* a signal or a kick interrupted the run */
	HV_EXIT_SYSTEM_EVENT,   /* guest-requested shutdown/reset */
	HV_EXIT_IRQ_WINDOW,
	HV_EXIT_DEBUG,
	HV_EXIT_OTHER,          /* anything else: raw reason in u.other */
	HV_EXIT__COUNT
};

struct hv_exit {
	enum hv_exit_kind kind;
	union {
		struct {
			uint16_t port;
			uint8_t size;           /* 1, 2 or 4 */
			bool in;
			uint32_t count;         /* > 1 for string I/O */
			uint8_t *data;          /* count * size bytes */
		} io;
		struct {
			uint64_t gpa;
			uint8_t *data;          /* 8 bytes */
			uint32_t len;
			bool write;
		} mmio;
		struct {
			uint32_t suberror;
			uint32_t ndata;
			uint64_t data[4];
		} internal;
		struct {
			uint64_t reason;
		} fail;
		struct {
			uint32_t type;          /* HV_EVENT_* */
		} event;
		struct {
			uint32_t reason;
		} other;
	} u;
};

enum { HV_EVENT_SHUTDOWN = 1, HV_EVENT_RESET = 2, HV_EVENT_CRASH = 3 };

/* One CPUID entry, for the vCPU's CPUID table. */
struct hv_cpuid {
	uint32_t function, index, flags;  /* flags: HV_CPUID_SIGNIFICANT_INDEX */
	uint32_t eax, ebx, ecx, edx;
};
#define HV_CPUID_SIGNIFICANT_INDEX 1u

/* A named per-vCPU statistic kept by the hypervisor module. */
struct hv_stat {
	char name[48];
	uint64_t value;
};

/* System: /dev/kvm. */
int hv_open(void);                       /* 0, or -errno with /dev/kvm unusable */
int hv_api_version(void);
const char *hv_module_name(void);        /* "kvm_intel", "kvm_amd", "kvm_pvm", or "unknown" */
int hv_check_cap(int cap);               /* value, 0 if absent */
int hv_get_supported_cpuid(struct hv_cpuid *out, int max);

/* The capabilities hyve relies on, for `hyvectl caps`. */
struct hv_capinfo {
	const char *name;
	int id;
	bool required;
};
extern const struct hv_capinfo hv_caps[];
extern const size_t hv_ncaps;

/* VM. */
int hv_vm_create(struct hv_vm **out);
void hv_vm_destroy(struct hv_vm *vm);
int hv_vm_map_memory(struct hv_vm *vm, uint32_t slot, uint64_t gpa,
    uint64_t size, void *hva);
int hv_vm_create_irqchip(struct hv_vm *vm);
int hv_vm_irq_line(struct hv_vm *vm, uint32_t irq, bool level);
int hv_vm_signal_msi(struct hv_vm *vm, uint64_t addr, uint32_t data);
int hv_vm_enable_cap(struct hv_vm *vm, int cap, uint64_t arg0);
/* Signal eventfd fd on a guest write of len bytes at addr (MMIO, or a port
 * when pio), instead of exiting to user space; assign false removes it. */
int hv_vm_ioeventfd(struct hv_vm *vm, uint64_t addr, unsigned len, int fd,
    bool pio, bool assign);

/* Extra memory slots, for device memory mapped straight into the guest (a
 * passed-through BAR): gpa and size page-aligned.  Returns the slot's
 * handle (>= 0) or -errno; guest RAM keeps the slots hv_vm_map_memory was
 * given (below HV_SLOT_FIRST_EXTRA). */
#define HV_SLOT_FIRST_EXTRA 16
int hv_vm_add_slot(struct hv_vm *vm, uint64_t gpa, uint64_t size, void *hva);
int hv_vm_remove_slot(struct hv_vm *vm, int slot);

/* MSI routes and irqfds.  hv_vm_msi_route allocates a GSI (>= 24; the
 * in-kernel PIC and IOAPIC keep 0-23) whose signal is the MSI addr/data;
 * hv_vm_msi_route_set changes it; hv_vm_msi_route_free removes it.
 * hv_vm_irqfd makes every write to eventfd fd raise gsi (assign) or stops
 * it.  hv_has_irqfd: the module offers irqfds and GSI routing. */
bool hv_has_irqfd(void);
int hv_vm_msi_route(struct hv_vm *vm, uint64_t addr, uint32_t data);
int hv_vm_msi_route_set(struct hv_vm *vm, int gsi, uint64_t addr,
    uint32_t data);
void hv_vm_msi_route_free(struct hv_vm *vm, int gsi);
int hv_vm_irqfd(struct hv_vm *vm, int fd, int gsi, bool assign);

/* vCPU. */
int hv_vcpu_create(struct hv_vm *vm, int id, struct hv_vcpu **out);
void hv_vcpu_destroy(struct hv_vcpu *vcpu);
int hv_vcpu_id(const struct hv_vcpu *vcpu);
int hv_vcpu_run(struct hv_vcpu *vcpu, struct hv_exit *exit);
/* Make a running or about-to-run vCPU return HV_EXIT_INTR soon.  Safe from
 * any thread; pairs with hv_vcpu_clear_kick on the vCPU's own thread. */
void hv_vcpu_kick(struct hv_vcpu *vcpu, int signo, unsigned long thread);
void hv_vcpu_clear_kick(struct hv_vcpu *vcpu);
/* Finish an I/O or MMIO instruction whose exit was just handled, without
 * running guest code, so registers can be read and written.  Leaves a
 * kick pending: the next hv_vcpu_run returns HV_EXIT_INTR at once. */
int hv_vcpu_complete_io(struct hv_vcpu *vcpu);
int hv_vcpu_get_regs(struct hv_vcpu *vcpu, struct hv_regs *r);
int hv_vcpu_set_regs(struct hv_vcpu *vcpu, const struct hv_regs *r);
int hv_vcpu_get_sregs(struct hv_vcpu *vcpu, struct hv_sregs *s);
int hv_vcpu_set_sregs(struct hv_vcpu *vcpu, const struct hv_sregs *s);
int hv_vcpu_get_msr(struct hv_vcpu *vcpu, uint32_t index, uint64_t *value);
int hv_vcpu_set_msr(struct hv_vcpu *vcpu, uint32_t index, uint64_t value);
int hv_vcpu_set_cpuid(struct hv_vcpu *vcpu, const struct hv_cpuid *e, int n);
int hv_vcpu_inject_irq(struct hv_vcpu *vcpu, uint8_t vector);
int hv_vcpu_inject_nmi(struct hv_vcpu *vcpu);
int hv_vcpu_get_mp_state(struct hv_vcpu *vcpu, uint32_t *state);
/* The in-kernel local APIC's interrupt state, for reports: the highest
 * vector requested (IRR) and in service (ISR), 0 when none, and the TPR. */
struct hv_apic_summary {
	uint8_t irr_top, isr_top, tpr;
	unsigned irr_count, isr_count;
};
int hv_vcpu_apic_summary(struct hv_vcpu *vcpu, struct hv_apic_summary *s);
int hv_vcpu_set_mp_state(struct hv_vcpu *vcpu, uint32_t state);
enum { HV_MP_RUNNABLE = 0, HV_MP_UNINITIALIZED = 1, HV_MP_INIT_RECEIVED = 2,
       HV_MP_HALTED = 3, HV_MP_SIPI_RECEIVED = 4 };
/* IPIs a vCPU thread sends, from the module's kvm_apic_ipi tracepoint
 * (kmod/ipicount.c): open a counter for thread tid (an fd, or -errno when
 * the tracepoint or perf is unavailable), read its count. */
int hv_ipi_counter_open(int tid);
int hv_ipi_counter_read(int fd, uint64_t *count);

/* The module's own per-vCPU statistics; returns how many were written. */
int hv_vcpu_stats(struct hv_vcpu *vcpu, struct hv_stat *out, int max);

#endif
