#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/config.h"

int
parse_size(const char *s, uint64_t *out)
{
	if (s == NULL || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0)
		return -ERANGE;
	unsigned shift = 0;
	switch (toupper((unsigned char)*end)) {
	case '\0': break;
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	default: return -EINVAL;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end != '\0')
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

bool
valid_vm_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n >= HYVE_NAME_MAX || name[0] == '.' || name[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			return false;
	}
	return true;
}

static int
parse_int(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static bool
pow2(long v)
{
	return v > 0 && (v & (v - 1)) == 0;
}

/* -c [[cpus=]N][,sockets=S][,cores=C][,threads=T], bhyve's syntax.  APIC
 * IDs are the vCPU numbers, so cores and threads per package are powers of
 * two (the ID fields then line up with the CPUID topology). */
static int
parse_cpus(const char *arg, struct vm_config *cfg, char *err, size_t errlen)
{
	char buf[128];
	long cpus = 0, val[3] = { 1, 1, 1 };
	static const char *const key[3] = { "sockets=", "cores=", "threads=" };
	bool topo = false;
	if (snprintf(buf, sizeof(buf), "%s", arg) >= (int)sizeof(buf))
		goto bad;
	char *save, *tok = strtok_r(buf, ",", &save);
	for (int first = 1; tok != NULL; tok = strtok_r(NULL, ",", &save),
	    first = 0) {
		int k;
		for (k = 0; k < 3; k++)
			if (strncmp(tok, key[k], strlen(key[k])) == 0)
				break;
		if (k < 3) {
			if (parse_int(tok + strlen(key[k]), 1, HYVE_MAX_VCPUS,
			    &val[k]) < 0)
				goto bad;
			topo = true;
		} else if (first && (strncmp(tok, "cpus=", 5) == 0 ||
		    isdigit((unsigned char)tok[0]))) {
			const char *n = tok[0] == 'c' ? tok + 5 : tok;
			if (parse_int(n, 1, HYVE_MAX_VCPUS, &cpus) < 0)
				goto bad;
		} else {
			goto bad;
		}
	}
	long product = val[0] * val[1] * val[2];
	if (product > HYVE_MAX_VCPUS)
		goto bad;
	if (topo && !(pow2(val[1]) && pow2(val[2]))) {
		snprintf(err, errlen, "-c %s: cores and threads must be powers of "
		    "two", arg);
		return -EINVAL;
	}
	if (cpus == 0)
		cpus = product;
	else if (!topo)
		val[1] = cpus;                  /* N cores in one socket */
	else if (cpus != product) {
		snprintf(err, errlen, "-c %s: %ld vCPUs but sockets * cores * "
		    "threads = %ld", arg, cpus, product);
		return -EINVAL;
	}
	cfg->ncpus = (int)cpus;
	cfg->sockets = (int)val[0];
	cfg->cores = (int)val[1];
	cfg->threads = (int)val[2];
	return 0;
bad:
	snprintf(err, errlen, "bad vCPU count '%s' (1 to %d, or [cpus=N,]"
	    "sockets=S,cores=C,threads=T)", arg, HYVE_MAX_VCPUS);
	return -EINVAL;
}

/* -o key=value */
static int
parse_opt(const char *arg, struct vm_config *cfg, char *err, size_t errlen)
{
	if (strcmp(arg, "ap-start=direct") == 0) {
		cfg->ap_direct = true;
	} else if (strcmp(arg, "ap-start=sipi") == 0) {
		cfg->ap_direct = false;
	} else {
		snprintf(err, errlen, "unknown -o setting '%s' (known: "
		    "ap-start=sipi|direct)", arg);
		return -EINVAL;
	}
	return 0;
}

/* "slot[:func],emulation[,conf]" (-s) or "emulation[,conf]" (-l). */
static int
parse_dev(const char *arg, bool has_slot, struct dev_config *d,
    char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	const char *p = arg;
	if (has_slot) {
		const char *c = strchr(p, ',');
		if (c == NULL || c == p || (size_t)(c - p) >= sizeof(d->slot)) {
			snprintf(err, errlen, "bad -s '%s': expected "
			    "slot[:func],emulation[,conf]", arg);
			return -EINVAL;
		}
		memcpy(d->slot, p, (size_t)(c - p));
		for (const char *q = d->slot; *q; q++)
			if (!isdigit((unsigned char)*q) && *q != ':') {
				snprintf(err, errlen, "bad -s slot '%s'", d->slot);
				return -EINVAL;
			}
		p = c + 1;
	}
	const char *c = strchr(p, ',');
	size_t n = c ? (size_t)(c - p) : strlen(p);
	if (n == 0 || n >= sizeof(d->emul)) {
		snprintf(err, errlen, "bad device '%s': no emulation named", arg);
		return -EINVAL;
	}
	memcpy(d->emul, p, n);
	if (c != NULL) {
		if (strlen(c + 1) >= sizeof(d->conf)) {
			snprintf(err, errlen, "device configuration too long: '%s'",
			    arg);
			return -EINVAL;
		}
		strcpy(d->conf, c + 1);
	}
	return 0;
}

int
parse_hyve_args(int argc, char **argv, struct vm_config *cfg,
    char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->ncpus = cfg->sockets = cfg->cores = cfg->threads = 1;
	cfg->mem_size = 256ull << 20;
	for (int i = 0; i < HYVE_MAX_VCPUS; i++)
		cfg->pin[i] = -1;
	optind = 0;     /* glibc: a full reset, also of its permutation state */
	opterr = 0;
	int ch;
	while ((ch = getopt(argc, argv, ":c:m:s:l:k:A:i:p:o:LNvh")) != -1) {
		switch (ch) {
		case 'c':
			if (parse_cpus(optarg, cfg, err, errlen) < 0)
				return -EINVAL;
			break;
		case 'm':
			if (parse_size(optarg, &cfg->mem_size) < 0 ||
			    cfg->mem_size < (2ull << 20) ||
			    cfg->mem_size > (1ull << 40)) {
				snprintf(err, errlen, "bad memory size '%s' (2M to "
				    "1T, suffixes K, M, G, T)", optarg);
				return -EINVAL;
			}
			if (cfg->mem_size & 0xfff) {
				snprintf(err, errlen, "memory size '%s' is not a "
				    "multiple of 4K", optarg);
				return -EINVAL;
			}
			break;
		case 's':
		case 'l':
			if (cfg->ndevs == HYVE_MAX_DEVS) {
				snprintf(err, errlen, "too many devices (at most %d)",
				    HYVE_MAX_DEVS);
				return -EINVAL;
			}
			if (parse_dev(optarg, ch == 's', &cfg->devs[cfg->ndevs],
			    err, errlen) < 0)
				return -EINVAL;
			cfg->ndevs++;
			break;
		case 'k':
			cfg->kernel = optarg;
			break;
		case 'A':
			cfg->cmdline = optarg;
			break;
		case 'i':
			cfg->initrd = optarg;
			break;
		case 'p': {
			long vc, hc;
			char *colon = strchr(optarg, ':');
			if (colon == NULL) {
				snprintf(err, errlen, "bad -p '%s': expected "
				    "vcpu:hostcpu", optarg);
				return -EINVAL;
			}
			*colon = '\0';
			int bad = parse_int(optarg, 0, HYVE_MAX_VCPUS - 1, &vc) < 0 ||
			    parse_int(colon + 1, 0, 4095, &hc) < 0;
			*colon = ':';
			if (bad) {
				snprintf(err, errlen, "bad -p '%s': expected "
				    "vcpu:hostcpu", optarg);
				return -EINVAL;
			}
			cfg->pin[vc] = (int)hc;
			break;
		}
		case 'o':
			if (parse_opt(optarg, cfg, err, errlen) < 0)
				return -EINVAL;
			break;
		case 'L':
			cfg->mem_ondemand = true;
			break;
		case 'N':
			cfg->no_testdevs = true;
			break;
		case 'v':
			cfg->verbosity++;
			break;
		case 'h':
			snprintf(err, errlen, "help");
			return -EAGAIN;
		case ':':
			snprintf(err, errlen, "option -%c needs an argument", optopt);
			return -EINVAL;
		default:
			snprintf(err, errlen, "unknown option -%c", optopt);
			return -EINVAL;
		}
	}
	if (optind >= argc) {
		snprintf(err, errlen, "no VM name given");
		return -EINVAL;
	}
	if (optind != argc - 1) {
		snprintf(err, errlen, "unexpected argument '%s' after the VM name",
		    argv[optind + 1]);
		return -EINVAL;
	}
	if (!valid_vm_name(argv[optind])) {
		snprintf(err, errlen, "bad VM name '%s' (letters, digits, '-', "
		    "'_', '.'; at most %d characters)", argv[optind],
		    HYVE_NAME_MAX - 1);
		return -EINVAL;
	}
	strcpy(cfg->name, argv[optind]);
	if (cfg->kernel == NULL) {
		snprintf(err, errlen, "no kernel given (-k KERNEL)");
		return -EINVAL;
	}
	for (int i = 0; i < HYVE_MAX_VCPUS; i++)
		if (cfg->pin[i] >= 0 && i >= cfg->ncpus) {
			snprintf(err, errlen, "-p names vCPU %d but the VM has %d",
			    i, cfg->ncpus);
			return -EINVAL;
		}
	return 0;
}
