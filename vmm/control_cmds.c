/*
 * The control socket's verbs.  Each request is checked completely (verb,
 * argument count, vCPU, register, numbers) before it acts; register, MSR
 * and NMI requests run on the vCPU's own thread through vcpu_call, so the
 * vCPU is out of the guest meanwhile.  See hyvectl(8) for the protocol.
 */
#include <errno.h>
#include <sched.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/control_cmds.h"
#include "vmm/ctlproto.h"
#include "vmm/log.h"
#include "vmm/regnames.h"
#include "vmm/vm.h"

#define MODULE_STATS_MAX 256

void
ctl_printf(struct ctl_out *o, const char *fmt, ...)
{
	if (o->overflow)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		size_t room = o->cap - o->len;
		int n = vsnprintf(o->buf ? o->buf + o->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->overflow = true;
			return;
		}
		if ((size_t)n < room) {
			o->len += (size_t)n;
			return;
		}
		size_t cap = o->cap ? o->cap * 2 : 4096;
		while (cap < o->len + (size_t)n + 1)
			cap *= 2;
		char *b = cap > CTL_REPLY_MAX ? NULL : realloc(o->buf, cap);
		if (b == NULL) {
			o->overflow = true;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
}

#define FAIL(r, ...) (snprintf(err, errlen, __VA_ARGS__), (r))

static int
call_failed(int r, struct vcpu *v, const char *what, char *err, size_t errlen)
{
	if (r == -ESRCH)
		return FAIL(r, "the VM is stopping or resetting");
	return FAIL(r, "vCPU %d: %s: %s", v->id, what, strerror(-r));
}

static int
arg_vcpu(struct vm *vm, const char *s, struct vcpu **v, char *err,
    size_t errlen)
{
	unsigned i;
	int r = ctl_parse_index(s, HYVE_MAX_VCPUS * 16u, &i);
	if (r == -EINVAL)
		return FAIL(r, "bad vCPU number '%s'", s);
	if (r < 0 || i >= (unsigned)vm->ncpus)
		return FAIL(-ENOENT, "no vCPU %s (the VM has vCPUs 0 to %d)", s,
		    vm->ncpus - 1);
	*v = &vm->vcpus[i];
	return 0;
}

static int
arg_reg(const char *s, const struct regname **reg, char *err, size_t errlen)
{
	*reg = regname_find(s);
	if (*reg == NULL)
		return FAIL(-ENOENT, "unknown register '%s'", s);
	return 0;
}

static int
arg_value(const char *s, unsigned bits, const char *what, uint64_t *v,
    char *err, size_t errlen)
{
	int r = ctl_parse_u64(s, v);
	if (r == -EINVAL)
		return FAIL(r, "bad value '%s' (decimal, or hexadecimal with 0x)",
		    s);
	if (r < 0 || (bits < 64 && (*v >> bits) != 0))
		return FAIL(-ERANGE, "value %s too large for %s (%u bits)", s,
		    what, bits);
	return 0;
}

static const char *
state_name(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	enum vm_state st = vm->state;
	bool reset = vm->reset_requested;
	pthread_mutex_unlock(&vm->lock);
	switch (st) {
	case VM_RUNNING: return "running";
	case VM_SUSPENDED: return "suspended";
	case VM_STOPPING: return reset ? "resetting" : "stopping";
	}
	return "unknown";
}

static int
cmd_status(struct vm *vm, char **w, int n, struct ctl_out *o, char *err,
    size_t errlen)
{
	(void)w, (void)n, (void)err, (void)errlen;
	ctl_printf(o, "name %s\n", vm->cfg.name);
	ctl_printf(o, "state %s\n", state_name(vm));
	ctl_printf(o, "vcpus %d\n", vm->ncpus);
	ctl_printf(o, "memory %" PRIu64 "\n", vm->mem.size);
	ctl_printf(o, "memnode %s\n", vm->mem.path);
	ctl_printf(o, "pid %ld\n", (long)getpid());
	ctl_printf(o, "protocol %d\n", CTL_PROTO_VERSION);
	return 0;
}

/* Register access, on the vCPU's thread. */
struct reg_op {
	const struct regname *reg;
	bool write;
	uint64_t value;
	const char *failed;     /* which step failed */
};

static int
do_reg(struct vcpu *v, void *arg)
{
	struct reg_op *op = arg;
	struct hv_regs r;
	struct hv_sregs s;
	int e;
	if (op->reg->cls == REG_GPR) {
		op->failed = "cannot read the general registers";
		if ((e = hv_vcpu_get_regs(v->hv, &r)) < 0)
			return e;
	} else {
		op->failed = "cannot read the segment and control registers";
		if ((e = hv_vcpu_get_sregs(v->hv, &s)) < 0)
			return e;
	}
	if (!op->write) {
		op->value = reg_get(op->reg, &r, &s);
		return 0;
	}
	if ((e = reg_set(op->reg, &r, &s, op->value)) < 0)
		return e;
	op->failed = "the module refused the value";
	if (op->reg->cls == REG_GPR)
		return hv_vcpu_set_regs(v->hv, &r);
	return hv_vcpu_set_sregs(v->hv, &s);
}

static int
cmd_getreg(struct vm *vm, char **w, int n, struct ctl_out *o, char *err,
    size_t errlen)
{
	(void)n;
	struct vcpu *v;
	struct reg_op op = { 0 };
	int r;
	if ((r = arg_vcpu(vm, w[1], &v, err, errlen)) < 0 ||
	    (r = arg_reg(w[2], &op.reg, err, errlen)) < 0)
		return r;
	if ((r = vcpu_call(v, do_reg, &op)) < 0)
		return call_failed(r, v, op.failed, err, errlen);
	ctl_printf(o, "%s 0x%" PRIx64 "\n", op.reg->name, op.value);
	return 0;
}

static int
cmd_setreg(struct vm *vm, char **w, int n, struct ctl_out *o, char *err,
    size_t errlen)
{
	(void)n, (void)o;
	struct vcpu *v;
	struct reg_op op = { .write = true };
	int r;
	if ((r = arg_vcpu(vm, w[1], &v, err, errlen)) < 0 ||
	    (r = arg_reg(w[2], &op.reg, err, errlen)) < 0 ||
	    (r = arg_value(w[3], op.reg->bits, op.reg->name, &op.value, err,
	    errlen)) < 0)
		return r;
	if ((r = vcpu_call(v, do_reg, &op)) < 0)
		return call_failed(r, v, op.failed, err, errlen);
	pr_info("hyvectl: vCPU %d: %s set to 0x%" PRIx64, v->id, op.reg->name,
	    op.value);
	return 0;
}

struct msr_op {
	uint32_t index;
	bool write;
	uint64_t value;
};

static int
do_msr(struct vcpu *v, void *arg)
{
	struct msr_op *op = arg;
	if (op->write)
		return hv_vcpu_set_msr(v->hv, op->index, op->value);
	return hv_vcpu_get_msr(v->hv, op->index, &op->value);
}

static int
msr_common(struct vm *vm, char **w, bool write, struct msr_op *op,
    struct vcpu **v, char *err, size_t errlen)
{
	uint64_t idx;
	int r;
	if ((r = arg_vcpu(vm, w[1], v, err, errlen)) < 0 ||
	    (r = arg_value(w[2], 32, "an MSR index", &idx, err, errlen)) < 0 ||
	    (write && (r = arg_value(w[3], 64, "an MSR", &op->value, err,
	    errlen)) < 0))
		return r;
	op->index = (uint32_t)idx;
	op->write = write;
	r = vcpu_call(*v, do_msr, op);
	if (r == -EINVAL)
		return FAIL(r, "vCPU %d: MSR 0x%" PRIx32 " cannot be %s", (*v)->id,
		    op->index, write ? "written with that value" : "read");
	if (r < 0) {
		char what[64];
		snprintf(what, sizeof(what), "MSR 0x%" PRIx32, op->index);
		return call_failed(r, *v, what, err, errlen);
	}
	return 0;
}

static int
cmd_getmsr(struct vm *vm, char **w, int n, struct ctl_out *o, char *err,
    size_t errlen)
{
	(void)n;
	struct msr_op op;
	struct vcpu *v;
	int r = msr_common(vm, w, false, &op, &v, err, errlen);
	if (r == 0)
		ctl_printf(o, "msr 0x%" PRIx32 " 0x%" PRIx64 "\n", op.index,
		    op.value);
	return r;
}

static int
cmd_setmsr(struct vm *vm, char **w, int n, struct ctl_out *o, char *err,
    size_t errlen)
{
	(void)n, (void)o;
	struct msr_op op;
	struct vcpu *v;
	int r = msr_common(vm, w, true, &op, &v, err, errlen);
	if (r == 0)
		pr_info("hyvectl: vCPU %d: MSR 0x%" PRIx32 " set to 0x%" PRIx64,
		    v->id, op.index, op.value);
	return r;
}

static int
do_nothing(struct vcpu *v, void *arg)
{
	(void)v, (void)arg;
	return 0;
}

static int
cmd_suspend(struct vm *vm, char **w, int n, struct ctl_out *o, char *err,
    size_t errlen)
{
	(void)w, (void)n, (void)o;
	int r = vm_suspend(vm);
	if (r < 0)
		return call_failed(r, &vm->vcpus[0], "suspend", err, errlen);
	/* Answer once every vCPU is parked out of the guest. */
	for (int i = 0; i < vm->ncpus; i++)
		if ((r = vcpu_call(&vm->vcpus[i], do_nothing, NULL)) < 0)
			return call_failed(r, &vm->vcpus[i], "suspend", err,
			    errlen);
	pr_info("hyvectl: suspended");
	return 0;
}

static int
cmd_resume(struct vm *vm, char **w, int n, struct ctl_out *o, char *err,
    size_t errlen)
{
	(void)w, (void)n, (void)o;
	int r = vm_resume(vm);
	if (r < 0)
		return call_failed(r, &vm->vcpus[0], "resume", err, errlen);
	pr_info("hyvectl: resumed");
	return 0;
}

static int
cmd_poweroff(struct vm *vm, char **w, int n, struct ctl_out *o, char *err,
    size_t errlen)
{
	(void)w, (void)n, (void)o;
	if (vm_stopping(vm))
		return FAIL(-ESRCH, "the VM is already %s", state_name(vm));
	vm_request_stop(vm, HYVE_EXIT_POWEROFF, "powered off by hyvectl");
	return 0;
}

static int
cmd_reset(struct vm *vm, char **w, int n, struct ctl_out *o, char *err,
    size_t errlen)
{
	(void)w, (void)n, (void)o;
	if (vm_stopping(vm))
		return FAIL(-ESRCH, "the VM is already %s", state_name(vm));
	pr_info("hyvectl: reset requested");
	vm_request_reset(vm);
	return 0;
}

static int
do_nmi(struct vcpu *v, void *arg)
{
	(void)arg;
	return hv_vcpu_inject_nmi(v->hv);
}

static int
cmd_nmi(struct vm *vm, char **w, int n, struct ctl_out *o, char *err,
    size_t errlen)
{
	(void)n, (void)o;
	struct vcpu *v;
	int r = arg_vcpu(vm, w[1], &v, err, errlen);
	if (r < 0)
		return r;
	if ((r = vcpu_call(v, do_nmi, NULL)) < 0)
		return call_failed(r, v, "cannot inject an NMI", err, errlen);
	pr_info("hyvectl: NMI injected into vCPU %d", v->id);
	return 0;
}

/* pincpu VCPU HOSTCPU|none: the original control API's pincpu. */
static int
cmd_pincpu(struct vm *vm, char **w, int n, struct ctl_out *o, char *err,
    size_t errlen)
{
	(void)n, (void)o;
	struct vcpu *v;
	int r = arg_vcpu(vm, w[1], &v, err, errlen);
	if (r < 0)
		return r;
	int host = -1;
	if (strcmp(w[2], "none") != 0) {
		unsigned h;
		cpu_set_t allowed;
		if (ctl_parse_index(w[2], CPU_SETSIZE, &h) < 0)
			return FAIL(-EINVAL, "bad host CPU '%s' (a number, or none)",
			    w[2]);
		if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0 ||
		    !CPU_ISSET(h, &allowed))
			return FAIL(-ENOENT, "host CPU %u is not available to hyve",
			    h);
		host = (int)h;
	}
	r = vcpu_set_affinity(v, host);
	if (r < 0)
		return FAIL(r, "vCPU %d: cannot pin: %s", v->id, strerror(-r));
	pr_info("hyvectl: vCPU %d %s %d", v->id, host < 0 ? "unpinned" :
	    "pinned to host CPU", host);
	return 0;
}

/* interrupt VCPU VECTOR: a fixed, edge-triggered interrupt through the
 * local APIC, as a device's MSI would bring it. */
static int
cmd_interrupt(struct vm *vm, char **w, int n, struct ctl_out *o, char *err,
    size_t errlen)
{
	(void)n, (void)o;
	struct vcpu *v;
	int r = arg_vcpu(vm, w[1], &v, err, errlen);
	if (r < 0)
		return r;
	uint64_t vec;
	if (ctl_parse_u64(w[2], &vec) < 0 || vec < 16 || vec > 255)
		return FAIL(-EINVAL, "bad vector '%s' (16 to 255)", w[2]);
	if (vm_stopping(vm))
		return FAIL(-ESRCH, "the VM is %s", state_name(vm));
	r = vcpu_interrupt(v, (uint8_t)vec);
	if (r < 0)
		return FAIL(r, "vCPU %d: cannot deliver vector %u: %s", v->id,
		    (unsigned)vec, strerror(-r));
	if (r == 0)
		return FAIL(-EAGAIN, "vCPU %d's local APIC refused vector %u "
		    "(APIC disabled?)", v->id, (unsigned)vec);
	return 0;
}

static void
vcpu_stats(struct vcpu *v, struct ctl_out *o, struct hv_stat *ms)
{
	struct vcpu_stats *s = &v->stats;
	ctl_printf(o, "vcpu %d runs %" PRIu64 "\n", v->id, stat_read(&s->runs));
	ctl_printf(o, "vcpu %d guest_ns %" PRIu64 "\n", v->id,
	    stat_read(&s->guest_ns));
	ctl_printf(o, "vcpu %d interrupts_injected %" PRIu64 "\n", v->id,
	    stat_read(&s->irqs_injected));
	uint64_t ipis;
	if (hv_ipi_counter_read(v->ipi_fd, &ipis) == 0)
		ctl_printf(o, "vcpu %d ipis_sent %" PRIu64 "\n", v->id,
		    v->ipi_base + ipis);
	if (v->host_cpu >= 0)
		ctl_printf(o, "vcpu %d host_cpu %d\n", v->id, v->host_cpu);
	for (int k = 0; k < STAT__COUNT; k++)
		ctl_printf(o, "vcpu %d exit %s %" PRIu64 " %" PRIu64 "\n", v->id,
		    stat_names[k], stat_read(&s->exit[k].count),
		    stat_read(&s->exit[k].ns));
	int nm = hv_vcpu_stats(v->hv, ms, MODULE_STATS_MAX);
	for (int i = 0; i < nm; i++) {
		/* Names come from the kernel: keep the protocol's words clean. */
		for (char *c = ms[i].name; *c; c++)
			if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e)
				*c = '_';
		ctl_printf(o, "vcpu %d module %s %" PRIu64 "\n", v->id,
		    ms[i].name, ms[i].value);
	}
}

static int
cmd_stats(struct vm *vm, char **w, int n, struct ctl_out *o, char *err,
    size_t errlen)
{
	struct vcpu *one = NULL;
	int r;
	if (n == 2 && (r = arg_vcpu(vm, w[1], &one, err, errlen)) < 0)
		return r;
	struct hv_stat *ms = calloc(MODULE_STATS_MAX, sizeof(*ms));
	if (ms == NULL)
		return FAIL(-ENOMEM, "out of memory");
	for (int i = 0; i < vm->ncpus; i++)
		if (one == NULL || one == &vm->vcpus[i])
			vcpu_stats(&vm->vcpus[i], o, ms);
	free(ms);
	return 0;
}

struct verb {
	const char *name;
	int min, max;           /* arguments after the verb */
	const char *usage;
	int (*fn)(struct vm *, char **, int, struct ctl_out *, char *, size_t);
};

static const struct verb verbs[] = {
	{ "status", 0, 0, "status", cmd_status },
	{ "getreg", 2, 2, "getreg VCPU REG", cmd_getreg },
	{ "setreg", 3, 3, "setreg VCPU REG VALUE", cmd_setreg },
	{ "getmsr", 2, 2, "getmsr VCPU INDEX", cmd_getmsr },
	{ "setmsr", 3, 3, "setmsr VCPU INDEX VALUE", cmd_setmsr },
	{ "suspend", 0, 0, "suspend", cmd_suspend },
	{ "resume", 0, 0, "resume", cmd_resume },
	{ "poweroff", 0, 0, "poweroff", cmd_poweroff },
	{ "reset", 0, 0, "reset", cmd_reset },
	{ "nmi", 1, 1, "nmi VCPU", cmd_nmi },
	{ "stats", 0, 1, "stats [VCPU]", cmd_stats },
	{ "pincpu", 2, 2, "pincpu VCPU HOSTCPU|none", cmd_pincpu },
	{ "interrupt", 2, 2, "interrupt VCPU VECTOR", cmd_interrupt },
};

int
control_dispatch(struct vm *vm, char *line, struct ctl_out *out, char *err,
    size_t errlen)
{
	char *w[CTL_MAX_WORDS];
	int n = ctl_split(line, w, CTL_MAX_WORDS);
	if (n == -E2BIG)
		return FAIL(n, "too many words in the request");
	if (n < 0)
		return FAIL(n, "request contains a byte that is neither a blank "
		    "nor printable ASCII");
	if (n == 0)
		return FAIL(-EINVAL, "empty request");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		const struct verb *vb = &verbs[i];
		if (strcmp(vb->name, w[0]) != 0)
			continue;
		if (n - 1 < vb->min || n - 1 > vb->max)
			return FAIL(-EINVAL, "usage: %s", vb->usage);
		return vb->fn(vm, w, n, out, err, errlen);
	}
	return FAIL(-EINVAL, "unknown request '%.32s'", w[0]);
}
