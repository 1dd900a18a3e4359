"""The hook that runs a workload command inside a Linux guest.

virtualized = the guest under hyve; peer = the same guest under QEMU with
KVM.  Hosts whose /dev/kvm is served by kvm_intel or kvm_amd run the guest
directly; hosts with another backend (this project's kvm_pvm cannot run a
stock Linux kernel) run it inside the lab, guests/lab/run-in-lab, and the
results are labelled as lab results.

The guest side is one program, guests/linux/run-workload (from the Linux
guest work), with this contract:

    guests/linux/run-workload --vmm hyve|qemu -c VCPUS -m MIB
        [--disk HOSTPATH:GUESTPATH]... -- CMD [ARG...]

It boots the standard Linux workload guest under the VMM, runs CMD in it
with each HOSTPATH attached (virtio-blk for files, 9p for folders) at
GUESTPATH, prints CMD's standard output on its standard output and exits
with CMD's status (125 when the guest failed before CMD's status was known).

plan() decides whether the environment can run here and returns a Plan or
a one-line reason; run_in_guest() runs one command through the plan.
"""

import os

from . import hostfacts

NATIVE_MODULES = ("kvm_intel", "kvm_amd")
RUN_WORKLOAD = "guests/linux/run-workload"
RUN_IN_LAB = "guests/lab/run-in-lab"
GUEST_DATA = "/bench"       # where host data folders appear in the guest
LAB_SLACK = 300             # seconds the lab may add to a command's timeout


class Plan:
    def __init__(self, vmm, config, repo, via_lab):
        self.vmm = vmm
        self.config = config
        self.repo = repo
        self.via_lab = via_lab
        self.disks = []

    def describe(self):
        return {"where": "lab" if self.via_lab else "host", "vmm": self.vmm,
                "vcpus": self.config.vcpus,
                "memory_bytes": self.config.memory_bytes}

    def data_path(self, host_path):
        """Attach HOST_PATH to the guest; return its path inside."""
        guest = os.path.join(GUEST_DATA, str(len(self.disks)))
        self.disks.append((host_path, guest))
        return guest

    def command(self, argv, timeout):
        inner = [os.path.join(self.repo, RUN_WORKLOAD), "--vmm", self.vmm,
                 "-c", str(self.config.vcpus),
                 "-m", str(self.config.memory_mib)]
        for host, guest in self.disks:
            inner += ["--disk", "%s:%s" % (host, guest)]
        inner += ["--"] + list(argv)
        if not self.via_lab:
            return inner
        lab_mib = max(2048, self.config.memory_mib + 1024)
        return [os.path.join(self.repo, RUN_IN_LAB),
                "-t", str(int(timeout) + LAB_SLACK), "-m", str(lab_mib),
                "-c", str(hostfacts.host_cores()), "-C", self.repo,
                "--"] + inner


def plan(vmm, config, repo, sys_module="/sys/module"):
    """-> (Plan, None) when VMM can run a Linux guest here, else (None, why)."""
    module = hostfacts.hypervisor_module(sys_module)
    via_lab = module not in NATIVE_MODULES
    where = ("in the lab (this host's /dev/kvm is %s, which cannot run a "
             "stock Linux guest)" % (module or "absent")) if via_lab \
        else "natively on %s" % module
    if vmm == "hyve" and not os.access(os.path.join(repo, "build/hyve"),
                                       os.X_OK):
        return None, "build/hyve is not built"
    if not os.access(os.path.join(repo, RUN_WORKLOAD), os.X_OK):
        who = "hyve cannot boot Linux guests yet" if vmm == "hyve" \
            else "no Linux workload guest yet"
        return None, ("%s: %s (the guest runner) is missing; it would run %s"
                      % (who, RUN_WORKLOAD, where))
    if via_lab and not os.access(os.path.join(repo, RUN_IN_LAB), os.X_OK):
        return None, "needs the lab but %s is missing" % RUN_IN_LAB
    return Plan(vmm, config, repo, via_lab), None


def run_in_guest(plan_, argv, timeout):
    """Run ARGV in the guest described by PLAN_; -> environments.Completed."""
    from .environments import run_process
    cmd = plan_.command(argv, timeout)
    outer = timeout + (LAB_SLACK + 60 if plan_.via_lab else 120)
    done = run_process(cmd, outer, cwd=plan_.repo)
    done.argv = list(argv)      # report failures by the workload's command
    return done
