"""The hook that runs a workload command inside a Linux guest.

virtualized = the guest under hyve; peer = the same guest under QEMU with
KVM.  Hosts whose /dev/kvm is served by kvm_intel or kvm_amd run the guest
directly; hosts with another backend (this project's kvm_pvm cannot run a
stock Linux kernel) run it inside the lab, guests/lab/run-in-lab, and the
results are labelled as lab results.

The guest side is one program, guests/linux/run-workload (man
run-workload(8)):

    guests/linux/run-workload --vmm hyve|qemu -c VCPUS -m MIB -t SECS
        [--disk HOSTPATH:GUESTPATH]... [--root IMAGE] [--scratch MIB:PATH]
        [--net NETNS] [--stats FILE] -- CMD [ARG...]

It boots the standard Linux guest under the VMM, runs CMD in it with each
HOSTPATH (a regular file) attached as a virtio-blk disk that appears at
GUESTPATH, prints CMD's standard output on its standard output and exits
with CMD's status (125 when the guest failed before CMD's status was
known, 124 on a timeout).  --root runs CMD in a chroot of an ext4 image
(the buildworld image, with a compiler), --scratch gives it a fresh ext4
file system, --net a NIC on a tap in network namespace NETNS, --stats the
boot figures.

Inside the lab, plan() finds the lab's kvm_amd and runs guests natively.
On this project's host (kvm_pvm) the runner does not wrap each command in
its own lab boot: it runs the whole lab part of a benchmark (lab bare
metal, virtualized, peer) as one `bench/run --lab-part` inside one lab
boot; see lab_part_command() and runner.py.

plan() decides whether the environment can run here and returns a Plan or
a one-line reason; Plan.run() runs one command through it.
"""

import os

from . import hostfacts

NATIVE_MODULES = ("kvm_intel", "kvm_amd")
RUN_WORKLOAD = "guests/linux/run-workload"
RUN_IN_LAB = "guests/lab/run-in-lab"
GUEST_DATA = "/bench"       # where host data folders appear in the guest


class Plan:
    def __init__(self, vmm, config, repo, via_lab, build=None):
        self.vmm = vmm
        self.config = config
        self.repo = repo
        self.build = build
        self.via_lab = via_lab
        self.log_dir = None     # keep each guest's console log there
        self.logs = 0
        self.reset()

    def reset(self):
        """Forget the attachments of the last command."""
        self.disks = []
        self.netns = None

    def describe(self):
        return {"where": "lab" if self.via_lab else "host", "vmm": self.vmm,
                "vcpus": self.config.vcpus,
                "memory_bytes": self.config.memory_bytes}

    def data_path(self, host_path):
        """Attach HOST_PATH (a regular file) to the next command's guest as
        a virtio disk; return its path inside."""
        if not os.path.isfile(host_path):
            from bench.workloads.base import WorkloadError
            raise WorkloadError("%s: a guest gets only regular files as "
                                "disks" % host_path)
        guest = os.path.join(GUEST_DATA, str(len(self.disks)))
        self.disks.append((host_path, guest))
        return guest

    def command(self, argv, timeout, root=None, scratch=None, stats=None):
        cmd = [os.path.join(self.repo, RUN_WORKLOAD), "--vmm", self.vmm,
               "-c", str(self.config.vcpus),
               "-m", str(self.config.memory_mib), "-t", str(int(timeout))]
        for host, guest in self.disks:
            cmd += ["--disk", "%s:%s" % (host, guest)]
        if root:
            cmd += ["--root", root]
        if scratch:
            cmd += ["--scratch", "%d:%s" % scratch]
        if self.netns:
            cmd += ["--net", self.netns]
        if stats:
            cmd += ["--stats", stats]
        if self.log_dir:
            self.logs += 1
            cmd += ["-l", os.path.join(self.log_dir, "%s-%d.log"
                                       % (self.vmm, self.logs))]
        return cmd + ["--"] + list(argv)

    def run(self, argv, timeout, root=None, scratch=None, stats=None):
        """Run ARGV in a fresh guest; -> environments.Completed."""
        from .environments import run_process, workload_environ
        if self.log_dir:
            os.makedirs(self.log_dir, exist_ok=True)
        cmd = self.command(argv, timeout, root, scratch, stats)
        self.reset()
        env = workload_environ()
        if self.build:
            env["BUILD"] = self.build
        done = run_process(cmd, timeout + 180, cwd=self.repo, env=env)
        done.argv = list(argv)  # report failures by the workload's command
        return done


def plan(vmm, config, repo, sys_module="/sys/module", build=None):
    """-> (Plan, None) when VMM can run a Linux guest here, else (None, why)."""
    module = hostfacts.hypervisor_module(sys_module)
    via_lab = module not in NATIVE_MODULES
    build = build or os.path.join(repo, "build")
    if vmm == "hyve" and not os.access(os.path.join(build, "hyve"), os.X_OK):
        return None, "build/hyve is not built (run make)"
    if not os.access(os.path.join(repo, RUN_WORKLOAD), os.X_OK):
        return None, "%s (the guest runner) is missing" % RUN_WORKLOAD
    if via_lab and not os.access(os.path.join(repo, RUN_IN_LAB), os.X_OK):
        return None, ("this host's /dev/kvm is %s, which cannot run a stock "
                      "Linux guest, and the lab (%s) is missing"
                      % (module or "absent", RUN_IN_LAB))
    return Plan(vmm, config, repo, via_lab, build), None


def lab_memory_mib(config):
    """The lab machine's memory: the guest's plus room for the lab itself,
    its tmpfs scratch files and a second guest's QEMU."""
    return max(2048, config.memory_mib + 1536)

