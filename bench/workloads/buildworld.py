"""buildworld: compile the Linux kernel from Debian's linux-source package
with a fixed configuration, the way the original design timed
`make buildworld`.  The source is extracted once into the build cache; each
sample configures a fresh object folder (not timed) and times the build
with -j set to the configuration's vCPU count.

lab:   ARCH=x86_64 allnoconfig, target tools/objtool (the kernel's
       object-file checker, about 30 C files: about 3 s of CPU on this
       project's host, a few minutes in the lab, which runs everything
       some 35 times slower).
quick: ARCH=x86_64 tinyconfig, targets kernel/ and mm/ (about 40 s on one
       core of this project's host).
full:  ARCH=x86_64 defconfig, the whole default build (vmlinux, bzImage,
       modules).

In a guest (virtualized, peer) the build runs in the buildworld image
(guests/linux/build-buildworld-image: Debian's toolchain and the same
source tree, attached read-only through virtio-blk), with its object
folder on a fresh ext4 scratch disk; configuring and building run in one
guest boot and the guest times the build itself with its own clock.  The
lab's bare metal (lab-bare) runs the same command in a chroot of the same
image, mounted through a loop device (bench/image-chroot), with its object
folder in the lab's tmpfs: the lab's own root is a 9p share of the host's,
far slower to compile from than the guests' ext4.
"""

import glob
import os
import shutil

from .base import Metric, Workload, WorkloadError

SOURCE_GLOB = "/usr/src/linux-source-*.tar.xz"
SIZES = {
    "lab": ("allnoconfig", ["tools/objtool"]),
    "quick": ("tinyconfig", ["kernel/", "mm/"]),
    "full": ("defconfig", []),
}
TOOLS = ("make", "gcc", "flex", "bison", "bc", "tar", "xz")
IMAGE = ("guests", "buildworld", "root.ext4")     # under the build folder
GUEST_OBJ = "/obj"
SCRATCH_MIB = {"lab": 1024, "quick": 1024, "full": 8192}
MARK = "BUILDWORLD-SECONDS"


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
        self.image = os.path.join(ctx.build, *IMAGE)
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

    def supports(self, env_name):
        if env_name in ("virtualized", "peer", "lab-bare") and \
                not os.path.isfile(self.image):
            return ("the buildworld guest image %s is not built "
                    "(guests/linux/build-buildworld-image)"
                    % os.path.relpath(self.image, self.ctx.repo))
        return super().supports(env_name)

    def parameters(self):
        return {"source": os.path.basename(self.tarball or ""),
                "kconfig": self.kconfig, "targets": self.targets or ["all"],
                "make_jobs": self.jobs_n, "arch": "x86_64"}

    def prepare(self):
        """Extract the source once (keyed by the tarball's name and size)."""
        st = os.stat(self.tarball)
        key = "%s-%d" % (os.path.basename(self.tarball)[:-len(".tar.xz")],
                         st.st_size)
        top = self.ctx.cached("buildworld", "src", key)
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

    def guest_argv(self):
        """One command for a guest: configure, then time the build."""
        src = "/usr/src/" + os.path.basename(self.tarball)[:-len(".tar.xz")]
        conf = " ".join(self._make(src, GUEST_OBJ, [self.kconfig]))
        build = " ".join(self._make(src, GUEST_OBJ, ["-j%d" % self.jobs_n]
                                    + self.targets))
        return ["sh", "-c", "%s >/dev/null && s=$(date +%%s.%%N) && %s && "
                "e=$(date +%%s.%%N) && echo %s $s $e" % (conf, build, MARK)]

    def run_guest(self, env):
        limit = 3600 if self.targets else 6 * 3600
        done = env.run(self.guest_argv(), limit + 600, root=self.image,
                       scratch=(SCRATCH_MIB[self.ctx.size], GUEST_OBJ))
        if done.failure():
            raise WorkloadError("building: " + done.failure())
        return {"build.seconds": guest_seconds(done.stdout)}

    def run_lab_bare(self, env):
        import tempfile
        obj = tempfile.mkdtemp(prefix="buildworld-obj.")
        try:
            limit = 3600 if self.targets else 6 * 3600
            done = env.run([os.path.join(self.ctx.repo, "bench",
                                         "image-chroot"), self.image, obj]
                           + self.guest_argv(), limit + 600)
        finally:
            shutil.rmtree(obj, ignore_errors=True)
        if done.failure():
            raise WorkloadError("building: " + done.failure())
        return {"build.seconds": guest_seconds(done.stdout)}

    def run(self, job, env):
        if env.guest:
            return self.run_guest(env)
        if env.name == "lab-bare":
            return self.run_lab_bare(env)
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


def guest_seconds(text):
    """The build's seconds from the guest command's marker line."""
    for line in text.splitlines():
        words = line.split()
        if len(words) == 3 and words[0] == MARK:
            try:
                t0, t1 = float(words[1]), float(words[2])
            except ValueError:
                break
            if t1 >= t0:
                return t1 - t0
            break
    raise WorkloadError("the guest printed no %s line" % MARK)
