"""Where a workload runs: bare metal, a cgroup partition, a hyve guest, or
the same guest under QEMU/KVM (the peer); inside the lab, also the lab's
own bare metal (lab-bare), the baseline of the lab's guests.

Every environment offers the same small interface so that workloads need
not know where they run:

    env.name, env.label
    env.setup() -> None, or a one-line reason why the environment is skipped
    env.run(argv, timeout, cwd=None) -> Completed
    env.teardown()
    env.describe() -> dict for the result file
    env.data_path(host_path) -> the path of a host file where the command
                                runs (a guest gets it as a virtio disk)
    env.use_netns(ns)        -> the command must reach network namespace
                                NS (a guest gets a NIC on a tap in it)
    env.guest                -> True for a guest (virtualized, peer)
"""

import os
import signal
import subprocess
import time

from . import cgroup
from . import lab

LABELS = {
    "bare": "bare metal",
    "lab-bare": "lab bare metal",
    "partitioned": "partitioned",
    "virtualized": "virtualized (hyve)",
    "peer": "peer (QEMU/KVM)",
}


class Completed:
    def __init__(self, argv, returncode, stdout, stderr, seconds,
                 timed_out=False):
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.seconds = seconds
        self.timed_out = timed_out

    def failure(self):
        """None when the command succeeded, else a one-line reason."""
        if self.timed_out:
            return "%s timed out after %.0f s" % (self.argv[0], self.seconds)
        if self.returncode != 0:
            tail = _last_line(self.stderr) or _last_line(self.stdout)
            return "%s exited with status %d%s" % (
                os.path.basename(self.argv[0]), self.returncode,
                ": " + tail if tail else "")
        return None


def _last_line(text):
    """The most telling line of a tool's output: its first error line
    that is not make's own summary, else its last line."""
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    for ln in lines:
        if "error" in ln.lower() and not ln.startswith(("make:", "make[")):
            return ln[:200]
    return lines[-1][:200] if lines else ""


# Variables of an enclosing make (make bench) that must not leak into a
# workload's own make (buildworld) or change a tool's output.
_SCRUB = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "GNUMAKEFLAGS",
          "CONFIG", "O", "ARCH", "CROSS_COMPILE", "CC", "CFLAGS", "LDFLAGS",
          "KBUILD_OUTPUT", "BUILD")


def workload_environ():
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env["LC_ALL"] = "C"
    return env


def run_process(argv, timeout, cwd=None, preexec=None, env=None):
    """Run ARGV in its own session; kill the whole group on timeout."""
    if env is None:
        env = workload_environ()
    start = time.monotonic()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, errors="replace",
                            start_new_session=True, preexec_fn=preexec)
    try:
        out, err = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        timed_out = True
    except BaseException:
        _kill_group(proc)
        proc.communicate()
        raise
    return Completed(argv, proc.returncode, out, err,
                     time.monotonic() - start, timed_out)


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class Bare:
    name = "bare"
    guest = False

    def __init__(self, config, repo):
        self.label = LABELS[self.name]

    def use_netns(self, ns):
        pass    # the host reaches the namespace through its veth pair

    def setup(self):
        return None

    def run(self, argv, timeout, cwd=None):
        return run_process(argv, timeout, cwd)

    def teardown(self):
        pass

    def data_path(self, host_path):
        return host_path

    def describe(self):
        return {"where": "host"}


class LabBare(Bare):
    """The lab machine itself, running the workload as bare does on the
    host: the baseline that the lab's virtualized and peer figures are
    compared with."""
    name = "lab-bare"

    def describe(self):
        return {"where": "lab"}


class Partitioned(Bare):
    name = "partitioned"

    def __init__(self, config, repo, probe=None):
        self.label = LABELS[self.name]
        self.config = config
        self.partition = None
        self.notes = ""
        self._probe = probe or cgroup.probe

    def setup(self):
        if os.geteuid() != 0:
            return "cgroups need root to create a partition"
        name = "hyve-bench-%d" % os.getpid()
        part, why = self._probe(self.config.vcpus, self.config.memory_bytes,
                                name)
        if part is None:
            return "no usable cgroup v2 or v1 cpuset+memory controllers: " + why
        self.partition = part
        self.notes = why
        return None

    def run(self, argv, timeout, cwd=None):
        return run_process(argv, timeout, cwd, preexec=self.partition.preexec)

    def data_path(self, host_path):
        return host_path

    def teardown(self):
        if self.partition:
            self.partition.destroy()
            self.partition = None

    def describe(self):
        d = {"where": "host"}
        if self.partition:
            d.update(self.partition.describe())
        if self.notes:
            d["probe_notes"] = self.notes
        return d


class Guest:
    """A Linux guest under a VMM ('hyve' or 'qemu').  Where this host
    cannot run it (via_lab), the runner runs the environment inside the
    lab as a whole (see lab.py) instead of calling run()."""
    guest = True

    def __init__(self, name, vmm, config, repo, build=None):
        self.name = name
        self.label = LABELS[name]
        self.vmm = vmm
        self.config = config
        self.repo = repo
        self.build = build
        self.plan = None

    @property
    def via_lab(self):
        return bool(self.plan and self.plan.via_lab)

    def setup(self):
        plan, why = lab.plan(self.vmm, self.config, self.repo, build=self.build)
        if plan is None:
            return why
        self.plan = plan
        return None

    def run(self, argv, timeout, cwd=None, root=None, scratch=None,
            stats=None):
        return self.plan.run(argv, timeout, root=root, scratch=scratch,
                             stats=stats)

    def data_path(self, host_path):
        return self.plan.data_path(host_path)

    def use_netns(self, ns):
        self.plan.netns = ns

    def teardown(self):
        if self.plan:
            self.plan.reset()

    def describe(self):
        return self.plan.describe() if self.plan else {}


def make(name, config, repo, build=None):
    if name == "bare":
        return Bare(config, repo)
    if name == "lab-bare":
        return LabBare(config, repo)
    if name == "partitioned":
        return Partitioned(config, repo)
    if name == "virtualized":
        return Guest(name, "hyve", config, repo, build)
    if name == "peer":
        return Guest(name, "qemu", config, repo, build)
    raise ValueError("unknown environment %r" % name)
