"""Load a kernel module the workloads need when it is not there.

The lab's kernel has loop, ext4 and veth only as modules, in the tree that
guests/lib/fetch-kernel unpacked (the lab boots that kernel, and its init
binds the tree at /lib/modules/RELEASE, so a plain modprobe usually works;
modprobe -d on the build folder's tree is the fallback).  A kernel with the
driver built in needs nothing: the caller's next step tells.
"""

import glob
import os
import subprocess


def load(name, build=None):
    """Make sure module NAME is loaded if it can be; never raises."""
    if os.path.isdir(os.path.join("/sys/module", name)):
        return
    try:
        if subprocess.run(["modprobe", name], capture_output=True,
                          timeout=30, check=False).returncode == 0:
            return
        build = build or os.environ.get("BUILD") or "build"
        release = os.uname().release
        for root in sorted(glob.glob(os.path.join(build, "kernel", "*",
                                                  "root"))):
            if os.path.isfile(os.path.join(root, "lib", "modules", release,
                                           "modules.dep")):
                if subprocess.run(["modprobe", "-d", root, name],
                                  capture_output=True, timeout=30,
                                  check=False).returncode == 0:
                    return
    except (OSError, subprocess.TimeoutExpired):
        pass
