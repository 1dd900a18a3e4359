"""A small ext4 file system on a loop device over a tmpfs file.

The lab's own disks are not fit for an I/O baseline: its root and results
share are 9p file systems (slow, not a block device) and its tmpfs refuses
direct I/O.  In the lab part the runner mounts one of these and the fio
workload keeps its backing file there, so that lab bare metal does direct
I/O through ext4 to a (memory-backed) block device, and the guests under
hyve and QEMU get that same file as their virtio disk.

    fs = ScratchFS(128)
    why = fs.mount()        # None, or a one-line reason it could not
    ... fs.path ...
    fs.unmount()            # safe to call more than once
"""

import os
import shutil
import subprocess
import tempfile

from . import kmod

SHM = "/dev/shm"
DESCRIPTION = "ext4 on a loop device over a tmpfs file"


def _run(argv):
    try:
        done = subprocess.run(argv, capture_output=True, text=True,
                              timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "%s: %s" % (argv[0], e)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["failed"])[-1]
        return "%s: %s" % (" ".join(argv[:2]), tail)
    return None


class ScratchFS:
    def __init__(self, mib, build=None, tmpfs=SHM):
        if mib < 16:
            raise ValueError("a scratch file system needs at least 16 MiB")
        self.mib = mib
        self.build = build
        self.tmpfs = tmpfs
        self.image = None
        self.path = None        # the mount point while mounted

    def mount(self):
        """-> None when mounted at self.path, else a one-line reason."""
        if os.geteuid() != 0:
            return "needs root (loop mount)"
        if not os.path.isdir(self.tmpfs):
            return "%s is missing" % self.tmpfs
        for tool in ("mkfs.ext4", "mount", "umount"):
            if not shutil.which(tool, path=os.environ.get("PATH", "") +
                                ":/usr/sbin:/sbin"):
                return "%s is not installed" % tool
        for m in ("loop", "ext4"):
            kmod.load(m, self.build)
        fd, self.image = tempfile.mkstemp(prefix="hyve-scratch-",
                                          suffix=".img", dir=self.tmpfs)
        try:
            os.ftruncate(fd, self.mib << 20)
        finally:
            os.close(fd)
        self.path = tempfile.mkdtemp(prefix="hyve-scratch-")
        why = (_run(["mkfs.ext4", "-q", "-F", "-E",
                     "lazy_itable_init=0,lazy_journal_init=0", self.image])
               or _run(["mount", "-t", "ext4", "-o", "loop", self.image,
                        self.path]))
        if why:
            self.unmount(mounted=False)
            return why
        return None

    def unmount(self, mounted=True):
        if self.path:
            if mounted:
                _run(["umount", self.path])
            try:
                os.rmdir(self.path)
            except OSError:
                pass
            self.path = None
        if self.image:
            try:
                os.unlink(self.image)
            except OSError:
                pass
            self.image = None
