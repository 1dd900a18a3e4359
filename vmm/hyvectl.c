/* hyvectl: inspect and control running hyve VMs.  See hyvectl(8). */
#include <cpuid.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/passthru/hostpci.h"
#include "kmod/hv.h"
#include "vmm/config.h"
#include "vmm/control.h"
#include "vmm/ctlproto.h"

/* Exit statuses, see hyvectl(8). */
enum {
	EXIT_OK = 0,
	EXIT_REFUSED = 1,       /* the VM answered with an error */
	EXIT_NOVM = 2,          /* no such VM running */
	EXIT_USAGE = 64,
	EXIT_UNAVAILABLE = 69,  /* caps: no usable /dev/kvm */
	EXIT_SOFTWARE = 70,     /* bad answer, timeout, out of memory */
};

static bool json;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: hyvectl [-j] list\n"
	    "       hyvectl [-j] status name\n"
	    "       hyvectl getreg name vcpu reg\n"
	    "       hyvectl setreg name vcpu reg value\n"
	    "       hyvectl getmsr name vcpu index\n"
	    "       hyvectl setmsr name vcpu index value\n"
	    "       hyvectl suspend | resume | poweroff | reset name\n"
	    "       hyvectl nmi name vcpu\n"
	    "       hyvectl pincpu name vcpu hostcpu|none\n"
	    "       hyvectl interrupt name vcpu vector\n"
	    "       hyvectl [-j] stats name [vcpu]\n"
	    "       hyvectl caps\n"
	    "       hyvectl passthru claim | release pci-address\n");
}

static int
bad_usage(const char *fmt, const char *arg)
{
	fputs("hyvectl: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs(" (hyvectl -h for usage)\n", stderr);
	return EXIT_USAGE;
}

static void
json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c > 0x7e)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* Send a request to VM name; on success *reply holds the data lines. */
static int
request(const char *name, const char *line, char **reply, bool quiet)
{
	char path[256];
	int r = control_socket_path(name, path, sizeof(path));
	if (r < 0) {
		fprintf(stderr, "hyvectl: %s: no control socket path: %s\n", name,
		    strerror(-r));
		return EXIT_USAGE;
	}
	r = ctl_request(path, line, reply);
	if (r == 0)
		return EXIT_OK;
	if (r == 1) {
		fprintf(stderr, "hyvectl: %s: %s\n", name, *reply);
		free(*reply);
		*reply = NULL;
		return EXIT_REFUSED;
	}
	if (quiet)
		return r == -ENOENT || r == -ECONNREFUSED ? EXIT_NOVM : EXIT_SOFTWARE;
	if (r == -ENOENT)
		fprintf(stderr, "hyvectl: no VM named %s (no control socket %s)\n",
		    name, path);
	else if (r == -ECONNREFUSED)
		fprintf(stderr, "hyvectl: no VM named %s is running (stale "
		    "control socket %s)\n", name, path);
	else if (r == -EPROTO)
		fprintf(stderr, "hyvectl: %s: malformed answer from %s\n", name,
		    path);
	else
		fprintf(stderr, "hyvectl: %s: %s: %s\n", name, path, strerror(-r));
	return r == -ENOENT || r == -ECONNREFUSED ? EXIT_NOVM : EXIT_SOFTWARE;
}

/* Find "key value" in data lines; returns the value (up to the newline) in
 * buf, or "" when absent. */
static const char *
field(const char *reply, const char *key, char *buf, size_t len)
{
	size_t kl = strlen(key);
	buf[0] = '\0';
	for (const char *p = reply; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p) {
		if (strncmp(p, key, kl) == 0 && p[kl] == ' ') {
			const char *v = p + kl + 1, *e = strchr(v, '\n');
			size_t n = e ? (size_t)(e - v) : strlen(v);
			if (n >= len)
				n = len - 1;
			memcpy(buf, v, n);
			buf[n] = '\0';
			break;
		}
	}
	return buf;
}

static bool
is_number(const char *s)
{
	uint64_t v;
	return *s && ctl_parse_u64(s, &v) == 0;
}

static void
print_status_json(const char *reply)
{
	static const char *const keys[] = { "name", "state", "vcpus", "memory",
	    "memnode", "pid", "protocol" };
	char v[300];
	printf("{");
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		field(reply, keys[i], v, sizeof(v));
		printf("%s\"%s\": ", i ? ", " : "", keys[i]);
		if (is_number(v) && strcmp(keys[i], "name") != 0)
			printf("%s", v);
		else
			json_str(v);
	}
	printf("}");
}

static int
cmd_status(const char *name)
{
	char *reply;
	int r = request(name, "status", &reply, false);
	if (r != EXIT_OK)
		return r;
	if (json) {
		print_status_json(reply);
		putchar('\n');
	} else {
		for (char *l = strtok(reply, "\n"); l; l = strtok(NULL, "\n")) {
			char *sp = strchr(l, ' ');
			if (sp == NULL)
				continue;
			*sp = '\0';
			printf("%-10s %s\n", l, sp + 1);
		}
	}
	free(reply);
	return EXIT_OK;
}

static int
sock_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return n > 5 && strcmp(d->d_name + n - 5, ".sock") == 0;
}

static int
cmd_list(void)
{
	const char *dir = control_dir();
	struct dirent **ents;
	int n = scandir(dir, &ents, sock_filter, alphasort);
	if (n < 0 && errno != ENOENT) {
		fprintf(stderr, "hyvectl: %s: %s\n", dir, strerror(errno));
		return EXIT_SOFTWARE;
	}
	if (json)
		printf("[");
	else
		printf("%-24s %-10s %5s %12s %8s\n", "NAME", "STATE", "VCPUS",
		    "MEMORY", "PID");
	int shown = 0;
	for (int i = 0; i < n; i++) {
		/* scandir's entries are only as long as their names. */
		char name[HYVE_NAME_MAX + 8];
		size_t len = strlen(ents[i]->d_name);
		bool fits = len < sizeof(name);
		if (fits) {
			memcpy(name, ents[i]->d_name, len - 5);   /* ".sock" */
			name[len - 5] = '\0';
		}
		free(ents[i]);
		if (!fits || !valid_vm_name(name))
			continue;
		char *reply;
		if (request(name, "status", &reply, true) != EXIT_OK)
			continue;       /* stale socket or a VM going away */
		if (json) {
			printf("%s", shown ? ", " : "");
			print_status_json(reply);
		} else {
			char st[32], vc[16], mem[32], pid[16];
			field(reply, "state", st, sizeof(st));
			field(reply, "vcpus", vc, sizeof(vc));
			field(reply, "memory", mem, sizeof(mem));
			field(reply, "pid", pid, sizeof(pid));
			uint64_t bytes = 0;
			(void)ctl_parse_u64(mem, &bytes);
			printf("%-24s %-10s %5s %11" PRIu64 "M %8s\n", name, st, vc,
			    bytes >> 20, pid);
		}
		shown++;
		free(reply);
	}
	if (n > 0)
		free(ents);
	if (json)
		printf("]\n");
	return EXIT_OK;
}

static bool
vcpu_arg_ok(const char *s)
{
	unsigned v;
	return ctl_parse_index(s, 1u << 20, &v) == 0;
}

static int
cmd_simple(const char *name, const char *line, bool print_last_word)
{
	char *reply;
	int r = request(name, line, &reply, false);
	if (r != EXIT_OK)
		return r;
	if (print_last_word) {
		char *nl = strchr(reply, '\n');
		if (nl)
			*nl = '\0';
		char *sp = strrchr(reply, ' ');
		if (sp == NULL) {
			fprintf(stderr, "hyvectl: %s: malformed answer\n", name);
			free(reply);
			return EXIT_SOFTWARE;
		}
		printf("%s\n", sp + 1);
	}
	free(reply);
	return EXIT_OK;
}

/* One "vcpu ID KIND ..." line of a stats answer. */
struct stat_line {
	int vcpu;
	char kind[32];
	char name[64];
	uint64_t a, b;
	int nvals;
};

static bool
parse_stat_line(char *l, struct stat_line *s)
{
	char *w[CTL_MAX_WORDS];
	int n = ctl_split(l, w, CTL_MAX_WORDS);
	unsigned id;
	if (n < 4 || strcmp(w[0], "vcpu") != 0 ||
	    ctl_parse_index(w[1], 1u << 20, &id) < 0 || strlen(w[2]) >= 32)
		return false;
	s->vcpu = (int)id;
	strcpy(s->kind, w[2]);
	s->name[0] = '\0';
	s->nvals = 0;
	int first = 3;
	if (strcmp(w[2], "exit") == 0 || strcmp(w[2], "module") == 0) {
		if (strlen(w[3]) >= sizeof(s->name))
			return false;
		strcpy(s->name, w[3]);
		first = 4;
	}
	uint64_t *dst[2] = { &s->a, &s->b };
	for (int i = first; i < n && s->nvals < 2; i++)
		if (ctl_parse_u64(w[i], dst[s->nvals++]) < 0)
			return false;
	return s->nvals > 0;
}

static void
stats_table(const struct stat_line *s, int *cur)
{
	if (s->vcpu != *cur) {
		*cur = s->vcpu;
		printf("%svCPU %d\n", *cur > 0 ? "\n" : "", s->vcpu);
	}
	if (strcmp(s->kind, "runs") == 0) {
		printf("  %-28s %14" PRIu64 "\n", "runs (KVM_RUN calls)", s->a);
	} else if (strcmp(s->kind, "guest_ns") == 0) {
		printf("  %-28s %14.6f\n", "time in the guest (s)", s->a / 1e9);
		printf("  %-28s %14s %16s %14s\n", "exit reason", "count",
		    "user time (ms)", "avg (us)");
	} else if (strcmp(s->kind, "exit") == 0) {
		printf("  %-28s %14" PRIu64 " %16.3f %14.3f\n", s->name, s->a,
		    s->b / 1e6, s->a ? s->b / 1e3 / (double)s->a : 0.0);
	} else if (strcmp(s->kind, "module") == 0) {
		printf("  module: %-20s %14" PRIu64 "\n", s->name, s->a);
	} else if (strcmp(s->kind, "interrupts_injected") == 0) {
		printf("  %-28s %14" PRIu64 "\n", "interrupts injected", s->a);
	} else if (strcmp(s->kind, "ipis_sent") == 0) {
		printf("  %-28s %14" PRIu64 "\n", "IPIs sent", s->a);
	} else if (strcmp(s->kind, "host_cpu") == 0) {
		printf("  %-28s %14" PRIu64 "\n", "pinned to host CPU", s->a);
	}
}

static void
stats_json(const struct stat_line *s, int *cur, int *section)
{
	if (s->vcpu != *cur) {
		if (*cur >= 0)
			printf("%s}, ", *section ? "}" : "");
		*cur = s->vcpu;
		*section = 0;
		printf("{\"vcpu\": %d", s->vcpu);
	}
	int want = strcmp(s->kind, "exit") == 0 ? 1 :
	    strcmp(s->kind, "module") == 0 ? 2 : 0;
	if (want != *section) {
		printf("%s", *section ? "}" : "");
		if (want)
			printf(", \"%s\": {", want == 1 ? "exits" : "module");
		*section = want;
	} else if (want) {
		printf(", ");
	}
	if (want == 0) {
		printf(", ");
		json_str(s->kind);
		printf(": %" PRIu64, s->a);
	} else {
		json_str(s->name);
		if (want == 1)
			printf(": {\"count\": %" PRIu64 ", \"ns\": %" PRIu64 "}",
			    s->a, s->b);
		else
			printf(": %" PRIu64, s->a);
	}
}

static int
cmd_stats(const char *name, const char *vcpu)
{
	char line[64];
	snprintf(line, sizeof(line), "stats%s%s", vcpu ? " " : "",
	    vcpu ? vcpu : "");
	char *reply;
	int r = request(name, line, &reply, false);
	if (r != EXIT_OK)
		return r;
	int cur = -1, section = 0;
	if (json) {
		printf("{\"name\": ");
		json_str(name);
		printf(", \"vcpus\": [");
	}
	for (char *l = strtok(reply, "\n"); l; l = strtok(NULL, "\n")) {
		struct stat_line s;
		if (!parse_stat_line(l, &s)) {
			fprintf(stderr, "hyvectl: %s: malformed statistics line\n",
			    name);
			free(reply);
			return EXIT_SOFTWARE;
		}
		if (json)
			stats_json(&s, &cur, &section);
		else
			stats_table(&s, &cur);
	}
	if (json)
		printf("%s%s]}\n", section ? "}" : "", cur >= 0 ? "}" : "");
	free(reply);
	return EXIT_OK;
}

/* The signature of the hypervisor this host itself runs under (CPUID leaf
 * 0x40000000, present when CPUID.1:ECX bit 31 is set): "" on bare metal,
 * "KVMKVMKVM" under KVM, "TCGTCGTCGTCG" under QEMU's TCG emulation. */
static void
host_hypervisor(char sig[13])
{
	unsigned a, b, c, d;

	memset(sig, 0, 13);
	__cpuid(1, a, b, c, d);
	if (!(c & (1u << 31)))
		return;
	__cpuid(0x40000000, a, b, c, d);
	memcpy(sig, &b, 4);
	memcpy(sig + 4, &c, 4);
	memcpy(sig + 8, &d, 4);
	for (int i = 0; i < 12; i++)
		if (sig[i] && (sig[i] < 0x20 || sig[i] > 0x7e))
			sig[i] = '?';
}

static int
cmd_caps(void)
{
	char sig[13];

	int r = hv_open();
	if (r < 0) {
		fprintf(stderr, "hyvectl: /dev/kvm is not usable: %s\n",
		    strerror(-r));
		return EXIT_UNAVAILABLE;
	}
	printf("{\n  \"module\": ");
	json_str(hv_module_name());
	host_hypervisor(sig);
	printf(",\n  \"host_hypervisor\": ");
	json_str(sig);
	printf(",\n  \"api_version\": %d,\n  \"capabilities\": {\n",
	    hv_api_version());
	int missing = 0;
	for (size_t i = 0; i < hv_ncaps; i++) {
		int v = hv_check_cap(hv_caps[i].id);
		missing += hv_caps[i].required && v <= 0;
		printf("    ");
		json_str(hv_caps[i].name);
		printf(": {\"id\": %d, \"value\": %d, \"required\": %s}%s\n",
		    hv_caps[i].id, v, hv_caps[i].required ? "true" : "false",
		    i + 1 < hv_ncaps ? "," : "");
	}
	printf("  },\n  \"missing_required\": [");
	for (size_t i = 0, k = 0; i < hv_ncaps; i++)
		if (hv_caps[i].required && hv_check_cap(hv_caps[i].id) <= 0) {
			printf("%s", k++ ? ", " : "");
			json_str(hv_caps[i].name);
		}
	printf("],\n  \"usable\": %s\n}\n", missing ? "false" : "true");
	return EXIT_OK;
}

/* passthru claim|release ADDRESS: host PCI functions for passthrough. */
static int
cmd_passthru(char **args, int nargs)
{
	if (nargs != 2)
		return bad_usage("usage: hyvectl passthru claim|release "
		    "PCI-ADDRESS%s", "");
	bool claim = strcmp(args[0], "claim") == 0;
	if (!claim && strcmp(args[0], "release") != 0)
		return bad_usage("passthru: unknown action '%s' (claim or "
		    "release)", args[0]);
	char addr[HOSTPCI_ADDR_LEN], err[400], drv[64];
	if (strlen(args[1]) > 32 || hostpci_parse(args[1], addr) < 0)
		return bad_usage("passthru: bad PCI address '%.32s' (want "
		    "0000:00:03.0 or BUS/SLOT/FUNCTION)", args[1]);
	int r;
	if (claim) {
		char was[64] = "";
		(void)hostpci_driver(addr, was, sizeof(was));
		r = hostpci_claim(addr, err, sizeof(err));
		if (r == 1)
			printf("%s is bound to vfio-pci already\n", addr);
		else if (r == 0)
			printf("%s bound to vfio-pci (was %s), IOMMU group %d\n",
			    addr, was[0] ? was : "without a driver",
			    hostpci_iommu_group(addr));
	} else {
		r = hostpci_release(addr, drv, sizeof(drv), err, sizeof(err));
		if (r == 0)
			printf("%s released from vfio-pci, now %s\n", addr,
			    drv[0] ? drv : "without a driver");
	}
	if (r < 0) {
		fprintf(stderr, "hyvectl: passthru %s: %s\n", args[0], err);
		return EXIT_REFUSED;
	}
	return EXIT_OK;
}

/* The verbs: how many arguments (the VM name included), and the
 * position of a vCPU argument to check (0: none). */
struct verb {
	const char *name;
	int min, max, vcpu_at;
};

static const struct verb verbs[] = {
	{ "list", 0, 0, 0 }, { "caps", 0, 0, 0 }, { "status", 1, 1, 0 },
	{ "getreg", 3, 3, 2 }, { "setreg", 4, 4, 2 }, { "getmsr", 3, 3, 2 },
	{ "setmsr", 4, 4, 2 }, { "suspend", 1, 1, 0 }, { "resume", 1, 1, 0 },
	{ "poweroff", 1, 1, 0 }, { "reset", 1, 1, 0 }, { "nmi", 2, 2, 2 },
	{ "stats", 1, 2, 2 }, { "pincpu", 3, 3, 2 }, { "interrupt", 3, 3, 2 },
};

int
main(int argc, char **argv)
{
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-j") == 0) {
			json = true;
		} else if (strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return EXIT_OK;
		} else {
			return bad_usage("unknown option '%s'", argv[i]);
		}
	}
	if (i == argc)
		return bad_usage("no verb given%s", "");
	const char *verb = argv[i++];
	if (i < argc && strcmp(argv[i], "-j") == 0) {
		json = true;
		i++;
	}
	char **args = argv + i;
	int nargs = argc - i;
	if (strcmp(verb, "passthru") == 0)
		return cmd_passthru(args, nargs);
	const struct verb *vb = NULL;
	for (size_t k = 0; k < sizeof(verbs) / sizeof(verbs[0]); k++)
		if (strcmp(verbs[k].name, verb) == 0)
			vb = &verbs[k];
	if (vb == NULL)
		return bad_usage("unknown verb '%s'", verb);
	if (nargs < vb->min || nargs > vb->max)
		return bad_usage("wrong number of arguments for '%s'", verb);
	if (nargs > 0 && !valid_vm_name(args[0]))
		return bad_usage("bad VM name '%s'", args[0]);
	if (vb->vcpu_at && nargs >= vb->vcpu_at &&
	    !vcpu_arg_ok(args[vb->vcpu_at - 1]))
		return bad_usage("bad vCPU number '%s'", args[vb->vcpu_at - 1]);
	for (int k = 1; k < nargs; k++)
		if (strlen(args[k]) > 64 || strpbrk(args[k], " \t\r\n"))
			return bad_usage("bad argument '%.64s'", args[k]);

	char line[CTL_LINE_MAX];
	if (strcmp(verb, "list") == 0)
		return cmd_list();
	if (strcmp(verb, "caps") == 0)
		return cmd_caps();
	if (strcmp(verb, "status") == 0)
		return cmd_status(args[0]);
	if (strcmp(verb, "stats") == 0)
		return cmd_stats(args[0], nargs == 2 ? args[1] : NULL);
	/* The rest forward their arguments after the name as they are. */
	int n = snprintf(line, sizeof(line), "%s", verb);
	for (int k = 1; k < nargs; k++)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " %s", args[k]);
	bool value = strcmp(verb, "getreg") == 0 || strcmp(verb, "getmsr") == 0;
	return cmd_simple(args[0], line, value);
}
