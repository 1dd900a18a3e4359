/* hyve: run a VM.  See hyve(8). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmod/hv.h"
#include "vmm/config.h"
#include "vmm/log.h"
#include "vmm/vm.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: hyve [-LNv] [-c ncpus] [-m size] [-p vcpu:hostcpu]\n"
	    "            [-o ap-start=sipi|direct]\n"
	    "            [-s slot[:func],emulation[,conf]] [-l device[,conf]]\n"
	    "            -k kernel [-i initrd] [-A cmdline] name\n");
}

int
main(int argc, char **argv)
{
	struct vm_config cfg;
	char err[300];
	setvbuf(stdout, NULL, _IONBF, 0);
	int r = parse_hyve_args(argc, argv, &cfg, err, sizeof(err));
	if (r == -EAGAIN) {
		usage(stdout);
		return 0;
	}
	if (r < 0) {
		fprintf(stderr, "hyve: %s\n", err);
		usage(stderr);
		return HYVE_EXIT_USAGE;
	}
	log_verbosity = LOG_WARN + cfg.verbosity;
	if (access(cfg.kernel, R_OK) < 0) {
		fprintf(stderr, "hyve: kernel %s: %s\n", cfg.kernel, strerror(errno));
		return HYVE_EXIT_USAGE;
	}
	r = hv_open();
	if (r < 0) {
		fprintf(stderr, "hyve: /dev/kvm is not usable: %s\n", strerror(-r));
		return HYVE_EXIT_INTERNAL;
	}
	struct vm *vm;
	r = vm_create(&vm, &cfg);
	if (r < 0)
		return r == -ENOEXEC || r == -ENOENT || r == -EINVAL ||
		    r == -EEXIST || r == -EBUSY || r == -ENOSPC ||
		    r == -EACCES ? HYVE_EXIT_USAGE : HYVE_EXIT_INTERNAL;
	int status = vm_run(vm);
	unsigned p = vm->tests_passed, f = vm->tests_failed,
	    s = vm->tests_skipped;
	if (p + f + s > 0)
		fprintf(stderr, "hyve: %s: tests: %u passed, %u failed, %u skipped\n",
		    cfg.name, p, f, s);
	fprintf(stderr, "hyve: %s: %s (exit status %d)\n", cfg.name,
	    vm->exit_reason, status);
	vm_destroy(vm);
	return status;
}
