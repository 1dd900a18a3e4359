"""Facts about the host a benchmark ran on, for the result file."""

import os
import platform
import subprocess

KVM_MODULES = ("kvm_intel", "kvm_amd", "kvm_pvm")


def cpu_model(cpuinfo="/proc/cpuinfo"):
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_bytes(meminfo="/proc/meminfo"):
    with open(meminfo, encoding="utf-8") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no MemTotal in %s" % meminfo)


def host_cores():
    """CPUs this process may run on (what a partition can be carved from)."""
    try:
        return len(os.sched_getaffinity(0))
    except OSError:
        return os.cpu_count() or 1


def hypervisor_module(sys_module="/sys/module"):
    """The loaded kernel module that serves /dev/kvm, or None."""
    loaded = [m for m in KVM_MODULES
              if os.path.isdir(os.path.join(sys_module, m))]
    return loaded[0] if loaded else None


def hyve_version(repo):
    """`git describe --always --dirty` of the tree, or 'unknown'."""
    try:
        out = subprocess.run(
            ["git", "-C", repo, "describe", "--always", "--dirty"],
            capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    version = out.stdout.strip()
    return version if out.returncode == 0 and version else "unknown"


def loadavg():
    try:
        with open("/proc/loadavg", encoding="utf-8") as f:
            return [float(x) for x in f.read().split()[:3]]
    except (OSError, ValueError):
        return None


def collect(repo):
    uname = os.uname()
    return {
        "cpu_model": cpu_model(),
        "cores": host_cores(),
        "online_cpus": os.cpu_count() or 1,
        "memory_bytes": memory_bytes(),
        "kernel": uname.release,
        "kernel_version": uname.version,
        "machine": uname.machine,
        "hypervisor_module": hypervisor_module(),
        "dev_kvm": os.path.exists("/dev/kvm"),
        "hyve_version": hyve_version(repo),
        "python": platform.python_version(),
        "loadavg_start": loadavg(),
    }
