"""Partition the host with cgroups: N CPUs (cpuset) and a memory limit.

Supports the unified hierarchy (cgroup v2) and the legacy per-controller
hierarchies (cgroup v1).  v2 is used when its cpuset and memory
controllers are available; otherwise v1 when both controllers are mounted.
The partition is a new child of the cgroup the runner is in (so it stays
inside whatever limits the runner already has); when that parent cannot
take children with these controllers, the hierarchy's root is tried.

probe() returns (Partition, notes) or (None, reason).  All file system
locations are parameters so that tests can run against a fake tree.
"""

import errno
import os
import time


class CgroupError(Exception):
    pass


def parse_mountinfo(text):
    """-> list of (mountpoint, root, fstype, superopts)."""
    mounts = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        lf = left.split()
        rf = right.split()
        if len(lf) < 5 or len(rf) < 3:
            continue
        mounts.append((_unescape(lf[4]), _unescape(lf[3]), rf[0],
                       rf[2].split(",")))
    return mounts


def _unescape(s):
    return s.replace("\\040", " ").replace("\\011", "\t") \
            .replace("\\012", "\n").replace("\\134", "\\")


def parse_proc_cgroup(text):
    """-> {'v2': path or None, 'v1': {controller: path}}."""
    out = {"v2": None, "v1": {}}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hid, ctrls, path = parts
        if hid == "0" and ctrls == "":
            out["v2"] = path
        else:
            for c in ctrls.split(","):
                if c:
                    out["v1"][c] = path
    return out


def cpu_list(cpus):
    """[0, 1, 2, 5] -> '0-2,5'."""
    cpus = sorted(set(cpus))
    ranges = []
    for c in cpus:
        if ranges and c == ranges[-1][1] + 1:
            ranges[-1][1] = c
        else:
            ranges.append([c, c])
    return ",".join(str(a) if a == b else "%d-%d" % (a, b)
                    for a, b in ranges)


def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def _write(path, value):
    with open(path, "w", encoding="utf-8") as f:
        f.write(value)


def _dir_in_mount(mountpoint, mount_root, cgpath):
    """Host path of cgroup CGPATH in a mount whose root is MOUNT_ROOT."""
    if cgpath is None:
        return None
    if mount_root != "/" and not (cgpath == mount_root or
                                  cgpath.startswith(mount_root + "/")):
        return None
    rel = cgpath[len(mount_root):] if mount_root != "/" else cgpath
    return os.path.join(mountpoint, rel.lstrip("/")).rstrip("/") or "/"


class Partition:
    """A cgroup (v2) or a set of cgroups (v1) that workloads join."""

    def __init__(self, method, dirs, cpus, memory_bytes, parent_note):
        self.method = method
        self.dirs = dirs            # cgroup directories a task must join
        self.cpus = cpus            # cpu list string
        self.memory_bytes = memory_bytes
        self.parent_note = parent_note
        self._undo = []             # (path, value) to write back at destroy

    def join(self, pid=None):
        """Move PID (default: the caller) into the partition."""
        pid = str(pid if pid is not None else os.getpid())
        for d in self.dirs:
            _write(os.path.join(d, "cgroup.procs"), pid)

    def preexec(self):
        """For subprocess.Popen(preexec_fn=...): the child joins."""
        self.join()

    def destroy(self):
        for d in reversed(self.dirs):
            for _ in range(50):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    if e.errno != errno.EBUSY:
                        break
                    time.sleep(0.1)
        for path, value in self._undo:
            try:
                _write(path, value)
            except OSError:
                pass

    def describe(self):
        return {"method": self.method, "cgroups": list(self.dirs),
                "cpus": self.cpus, "memory_bytes": self.memory_bytes,
                "parent": self.parent_note}


def probe(vcpus, memory_bytes, name, allowed_cpus=None,
          mountinfo="/proc/self/mountinfo", proc_cgroup="/proc/self/cgroup"):
    """Create a partition of VCPUS CPUs and MEMORY_BYTES.

    -> (Partition, notes) on success, (None, one-line reason) otherwise.
    NAME is the child cgroup's name (unique per run).
    """
    if allowed_cpus is None:
        allowed_cpus = sorted(os.sched_getaffinity(0))
    cpus = cpu_list(sorted(allowed_cpus)[:vcpus])
    try:
        mounts = parse_mountinfo(_read(mountinfo))
        own = parse_proc_cgroup(_read(proc_cgroup))
    except OSError as e:
        return None, "cannot read cgroup mounts: %s" % e
    notes = []
    for attempt in (_try_v2, _try_v1):
        part, why = attempt(mounts, own, cpus, memory_bytes, name)
        if part:
            return part, "; ".join(notes) if notes else ""
        notes.append(why)
    return None, "; ".join(notes)


def _try_v2(mounts, own, cpus, memory_bytes, name):
    v2 = [m for m in mounts if m[2] == "cgroup2"]
    if not v2:
        return None, "no cgroup v2 mount"
    mountpoint, mroot = v2[0][0], v2[0][1]
    try:
        available = _read(os.path.join(mountpoint, "cgroup.controllers")).split()
    except OSError as e:
        return None, "cgroup v2 at %s unreadable: %s" % (mountpoint, e.strerror)
    missing = [c for c in ("cpuset", "memory") if c not in available]
    if missing:
        return None, ("cgroup v2 at %s lacks the %s controller%s (bound to v1?)"
                      % (mountpoint, ",".join(missing),
                         "s" if len(missing) > 1 else ""))
    parents = []
    own_dir = _dir_in_mount(mountpoint, mroot, own["v2"])
    if own_dir and own_dir != mountpoint:
        parents.append(("own cgroup", own_dir))
    parents.append(("hierarchy root", mountpoint))
    last = ""
    for note, parent in parents:
        try:
            return _make_v2(parent, cpus, memory_bytes, name, note), ""
        except (OSError, CgroupError) as e:
            last = "cgroup v2 under %s: %s" % (parent, _msg(e))
    return None, last


def _make_v2(parent, cpus, memory_bytes, name, note):
    avail = _read(os.path.join(parent, "cgroup.controllers")).split()
    for c in ("cpuset", "memory"):
        if c not in avail:
            raise CgroupError("controller %s not available" % c)
    sub = os.path.join(parent, "cgroup.subtree_control")
    enabled = _read(sub).split()
    undo = []
    for c in ("cpuset", "memory"):
        if c not in enabled:
            _write(sub, "+" + c)
            undo.append((sub, "-" + c))
    child = os.path.join(parent, name)
    os.mkdir(child)
    part = Partition("cgroup-v2", [child], cpus, memory_bytes,
                     "%s %s" % (note, parent))
    part._undo = undo
    try:
        _write(os.path.join(child, "cpuset.cpus"), cpus)
        mems = _read(os.path.join(parent, "cpuset.mems.effective")) \
            if os.path.exists(os.path.join(parent, "cpuset.mems.effective")) \
            else "0"
        _write(os.path.join(child, "cpuset.mems"), mems or "0")
        _write(os.path.join(child, "memory.max"), str(memory_bytes))
        swap = os.path.join(child, "memory.swap.max")
        if os.path.exists(swap):
            _write(swap, "0")
        _check(os.path.join(child, "cpuset.cpus"), cpus)
        _check(os.path.join(child, "memory.max"), str(memory_bytes))
    except (OSError, CgroupError):
        part.destroy()
        raise
    return part


def _try_v1(mounts, own, cpus, memory_bytes, name):
    where = {}
    for mountpoint, mroot, fstype, opts in mounts:
        if fstype != "cgroup":
            continue
        for c in ("cpuset", "memory"):
            if c in opts and c not in where:
                where[c] = (mountpoint, mroot)
    missing = [c for c in ("cpuset", "memory") if c not in where]
    if missing:
        return None, "no cgroup v1 hierarchy with %s" % ",".join(missing)
    dirs = []
    notes = []
    made = []
    try:
        for c in ("cpuset", "memory"):
            mountpoint, mroot = where[c]
            own_dir = _dir_in_mount(mountpoint, mroot, own["v1"].get(c))
            parents = []
            if own_dir:
                parents.append(("own cgroup", own_dir))
            if own_dir != mountpoint:
                parents.append(("hierarchy root", mountpoint))
            child = None
            err = None
            for note, parent in parents:
                candidate = os.path.join(parent, name)
                if candidate in dirs:       # co-mounted controllers
                    child = candidate
                    break
                try:
                    os.mkdir(candidate)
                except OSError as e:
                    err = e
                    continue
                made.append(candidate)
                child = candidate
                notes.append("%s: %s %s" % (c, note, parent))
                break
            if child is None:
                raise CgroupError("cannot create a %s cgroup: %s"
                                  % (c, _msg(err)))
            if child not in dirs:
                dirs.append(child)
            if c == "cpuset":
                parent = os.path.dirname(child)
                _write(os.path.join(child, "cpuset.cpus"), cpus)
                _write(os.path.join(child, "cpuset.mems"),
                       _read(os.path.join(parent, "cpuset.mems")) or "0")
                _check(os.path.join(child, "cpuset.cpus"), cpus)
            else:
                _write(os.path.join(child, "memory.limit_in_bytes"),
                       str(memory_bytes))
                memsw = os.path.join(child, "memory.memsw.limit_in_bytes")
                if os.path.exists(memsw):
                    _write(memsw, str(memory_bytes))
                got = int(_read(os.path.join(child, "memory.limit_in_bytes")))
                # v1 rounds the limit down to a page multiple.
                if abs(got - memory_bytes) >= 4096 * 16:
                    raise CgroupError("memory limit reads back as %d" % got)
    except (OSError, CgroupError) as e:
        for d in reversed(made):
            try:
                os.rmdir(d)
            except OSError:
                pass
        return None, "cgroup v1: %s" % _msg(e)
    return Partition("cgroup-v1", dirs, cpus, memory_bytes,
                     "; ".join(notes)), ""


def _check(path, want):
    got = _read(path)
    if got != want:
        raise CgroupError("%s reads back %r, wanted %r"
                          % (os.path.basename(path), got, want))


def _msg(e):
    if isinstance(e, OSError) and e.strerror:
        return "%s%s" % (e.strerror, ": " + e.filename if e.filename else "")
    return str(e)
