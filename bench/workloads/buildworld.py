"""buildworld: compile the Linux kernel from Debian's linux-source package
with a fixed configuration, the way the original design timed
`make buildworld`.  The source is extracted once into the build cache; each
sample configures a fresh object folder (not timed) and times the build
with -j set to the configuration's vCPU count.

quick: ARCH=x86_64 tinyconfig, targets kernel/ and mm/ (about 40 s on one
       core of this project's host).
full:  ARCH=x86_64 defconfig, the whole default build (vmlinux, bzImage,
       modules).
"""

import glob
import os
import shutil

from .base import Metric, Workload, WorkloadError

SOURCE_GLOB = "/usr/src/linux-source-*.tar.xz"
SIZES = {
    "quick": ("tinyconfig", ["kernel/", "mm/"]),
    "full": ("defconfig", []),
}
TOOLS = ("make", "gcc", "flex", "bison", "bc", "tar", "xz")


def find_tarball(pattern=SOURCE_GLOB):
    found = sorted(glob.glob(pattern))
    return found[-1] if found else None


class Buildworld(Workload):
    name = "buildworld"
    description = "Linux kernel build from Debian's linux-source"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.kconfig, self.targets = SIZES[ctx.size]
        self.tarball = find_tarball()
        self.jobs_n = ctx.vcpus
        self.srcdir = None
        self.objdir = ctx.cache("buildworld", "obj-%d" % os.getpid())
        self.metrics["build.seconds"] = Metric(
            "s", "lower", headline=True,
            description="wall-clock seconds of the build")

    def unavailable(self):
        if self.tarball is None:
            return ("no %s (install linux-source-6.1: run ci/install-deps)"
                    % SOURCE_GLOB)
        for tool in TOOLS:
            if not shutil.which(tool):
                return "%s is not installed (run ci/install-deps)" % tool
        return None

    def parameters(self):
        return {"source": os.path.basename(self.tarball or ""),
                "kconfig": self.kconfig, "targets": self.targets or ["all"],
                "make_jobs": self.jobs_n, "arch": "x86_64"}

    def prepare(self):
        """Extract the source once (keyed by the tarball's name and size)."""
        st = os.stat(self.tarball)
        key = "%s-%d" % (os.path.basename(self.tarball)[:-len(".tar.xz")],
                         st.st_size)
        top = self.ctx.cache("buildworld", "src", key)
        stamp = top + ".done"
        if not os.path.exists(stamp):
            shutil.rmtree(top, ignore_errors=True)
            os.makedirs(top)
            from bench.harness.environments import run_process
            done = run_process(["tar", "-xJf", self.tarball, "-C", top], 1800)
            if done.failure():
                raise WorkloadError("cannot extract %s: %s"
                                    % (self.tarball, done.failure()))
            open(stamp, "w").close()
        entries = [e for e in os.listdir(top)
                   if os.path.isfile(os.path.join(top, e, "Makefile"))]
        if len(entries) != 1:
            raise WorkloadError("%s does not hold one kernel tree" % top)
        self.srcdir = os.path.join(top, entries[0])

    def estimate(self, job):
        return 60.0 if self.targets else 3600.0

    def jobs(self):
        return ["build"]

    def _make(self, srcdir, objdir, args):
        return ["make", "-s", "-C", srcdir, "O=" + objdir, "ARCH=x86_64"] \
            + args

    def run(self, job, env):
        shutil.rmtree(self.objdir, ignore_errors=True)
        os.makedirs(self.objdir)
        src = env.data_path(self.srcdir)
        obj = env.data_path(self.objdir)
        done = env.run(self._make(src, obj, [self.kconfig]), 600)
        if done.failure():
            raise WorkloadError("configuring: " + done.failure())
        limit = 3600 if self.targets else 6 * 3600
        done = env.run(self._make(src, obj, ["-j%d" % self.jobs_n]
                                  + self.targets), limit)
        if done.failure():
            raise WorkloadError("building: " + done.failure())
        return {"build.seconds": done.seconds}

    def finish(self):
        shutil.rmtree(self.objdir, ignore_errors=True)
