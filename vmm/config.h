/* A VM's configuration, as parsed from hyve's command line. */
#ifndef HYVE_CONFIG_H
#define HYVE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HYVE_MAX_VCPUS 64
#define HYVE_MAX_DEVS 32
#define HYVE_NAME_MAX 64

struct dev_config {
	char slot[16];          /* "3", "3:1" for -s; "" for -l */
	char emul[32];          /* device name: "com1", "virtio-blk", ... */
	char conf[256];         /* what follows the first comma, or "" */
};

struct vm_config {
	char name[HYVE_NAME_MAX];
	int ncpus;
	int sockets, cores, threads;    /* ncpus = sockets * cores * threads */
	uint64_t mem_size;
	bool mem_ondemand;              /* -L */
	bool no_testdevs;               /* -N */
	const char *kernel;             /* -k */
	const char *cmdline;            /* -A */
	const char *initrd;             /* -i, Linux bzImage kernels only */
	int pin[HYVE_MAX_VCPUS];        /* -p vcpu:hostcpu, -1 = unpinned */
	struct dev_config devs[HYVE_MAX_DEVS];
	int ndevs;
	int verbosity;
	bool ap_direct;                 /* -o ap-start=direct */
};

/* Parse "512M", "2G", "65536", "4k" into bytes.  0 on success. */
int parse_size(const char *s, uint64_t *out);
/* Parse hyve's argv into cfg.  On error writes a one-line message. */
int parse_hyve_args(int argc, char **argv, struct vm_config *cfg,
    char *err, size_t errlen);
/* Names: letters, digits, '-', '_', '.', not starting with '.'. */
bool valid_vm_name(const char *name);

#endif
