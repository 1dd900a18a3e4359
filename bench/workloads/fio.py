"""fio: sequential 1 MiB and random 4 KiB reads and writes at queue depths
1 and 32, direct I/O through libaio, on one backing file that every
environment shares (a guest gets the same file as its disk).  One fio
process runs the eight jobs one after another (stonewalled), so that a
guest boots once per repetition; its JSON holds one entry per job.

Sizes: quick and full on the host; lab for the lab (a 64 MiB file and
2-second jobs: the lab runs everything many times slower).  In the lab
part the backing file lives on the runner's scratch file system (ext4 on
a loop device over tmpfs, scratchfs.py): the lab's own file systems are
9p shares and a tmpfs that refuses direct I/O."""

import os
import shutil

from .base import Metric, Workload, WorkloadError, json_from, number

SIZES = {
    # file size, runtime seconds, ramp seconds
    "lab": (64 << 20, 2, 1),
    "quick": (256 << 20, 2, 1),
    "full": (4 << 30, 30, 5),
}
PATTERNS = (("seqread", "read", "1m"), ("seqwrite", "write", "1m"),
            ("randread", "randread", "4k"), ("randwrite", "randwrite", "4k"))
DEPTHS = (1, 32)
PERCENTILES = (("p50", "50.000000"), ("p99", "99.000000"),
               ("p99_9", "99.900000"))


class Fio(Workload):
    name = "fio"
    description = "fio, direct I/O, libaio"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.file_bytes, self.runtime, self.ramp = SIZES[ctx.size]
        self.backing = ctx.scratch("fio", "backing-%d.dat" % self.file_bytes)
        self._jobs = {}
        for label, rw, bs in PATTERNS:
            for depth in DEPTHS:
                job = "%s-%s-qd%d" % (label, bs, depth)
                self._jobs[job] = (rw, bs, depth)
                seq = label.startswith("seq")
                self.metrics[job + ".bw"] = Metric(
                    "MiB/s", "higher", headline=seq,
                    description="bandwidth")
                self.metrics[job + ".iops"] = Metric(
                    "IOPS", "higher", headline=not seq,
                    description="I/O operations per second")
                self.metrics[job + ".lat_mean"] = Metric(
                    "us", "lower", description="mean completion latency")
                for name, _ in PERCENTILES:
                    self.metrics["%s.clat_%s" % (job, name)] = Metric(
                        "us", "lower",
                        description="completion latency %s" % name)

    def unavailable(self):
        if not shutil.which("fio"):
            return "fio is not installed (run ci/install-deps)"
        return None

    def parameters(self):
        return {"file_bytes": self.file_bytes, "runtime_s": self.runtime,
                "ramp_s": self.ramp, "ioengine": "libaio", "direct": True,
                "backing_file": self.backing,
                "backing_fs": self.ctx.scratch_kind or "cache folder"}

    def prepare(self):
        try:
            if os.path.getsize(self.backing) == self.file_bytes:
                return
        except OSError:
            pass
        tmp = self.backing + ".tmp"
        argv = ["fio", "--name=layout", "--filename=" + tmp, "--rw=write",
                "--bs=1m", "--size=%d" % self.file_bytes, "--direct=1",
                "--ioengine=psync", "--output-format=json"]
        from bench.harness.environments import run_process
        done = run_process(argv, 600)
        problem = done.failure()
        if problem is None:
            problem = _job_error(json_from(done.stdout, "fio"))
        if problem:
            raise WorkloadError("cannot lay out %s: %s" % (tmp, problem))
        os.rename(tmp, self.backing)

    def estimate(self, job):
        return len(self._jobs) * (self.runtime + self.ramp + 1.0)

    def jobs(self):
        return ["all"]

    def argv(self, filename):
        """One fio command running every job in turn on FILENAME."""
        argv = ["fio", "--filename=" + filename, "--ioengine=libaio",
                "--direct=1", "--size=%d" % self.file_bytes,
                "--runtime=%d" % self.runtime, "--ramp_time=%d" % self.ramp,
                "--time_based", "--randrepeat=1", "--output-format=json"]
        for job, (rw, bs, depth) in self._jobs.items():
            argv += ["--name=" + job, "--stonewall", "--rw=" + rw,
                     "--bs=" + bs, "--iodepth=%d" % depth]
        return argv

    def run(self, job, env):
        argv = self.argv(env.data_path(self.backing))
        done = env.run(argv, len(self._jobs) *
                       (self.runtime + self.ramp + 30) + 60)
        problem = done.failure()
        if problem:
            raise WorkloadError(problem)
        return parse_all(self._jobs, json_from(done.stdout, "fio"))


def _job_error(doc):
    jobs = doc.get("jobs") if isinstance(doc, dict) else None
    if not isinstance(jobs, list) or not jobs:
        return "fio JSON has no jobs"
    for j in jobs:
        if not isinstance(j, dict):
            return "fio JSON job is not an object"
        if j.get("error", 0) != 0:
            return "fio job %s reports error %r" % (j.get("jobname"),
                                                    j.get("error"))
    return None


def parse_all(specs, doc):
    """The JSON of one fio run of every job in SPECS ({job: (rw, bs,
    depth)}) -> {metric: value}; every job must be there exactly once."""
    problem = _job_error(doc)
    if problem:
        raise WorkloadError(problem)
    names = [j.get("jobname") for j in doc["jobs"]]
    if sorted(names) != sorted(specs):
        raise WorkloadError("fio ran jobs %s, expected %s"
                            % (",".join(map(str, names)), ",".join(specs)))
    out = {}
    for j in doc["jobs"]:
        name = j["jobname"]
        out.update(parse(name, specs[name][0], {"jobs": [j]}))
    return out


def parse(job, rw, doc):
    """fio JSON -> {metric: value} for JOB; checks fio's error field."""
    problem = _job_error(doc)
    if problem:
        raise WorkloadError(problem)
    if len(doc["jobs"]) != 1:
        raise WorkloadError("fio JSON has %d jobs, expected 1"
                            % len(doc["jobs"]))
    side = doc["jobs"][0].get("write" if "write" in rw else "read")
    if not isinstance(side, dict):
        raise WorkloadError("fio JSON lacks the %s side" % rw)
    ios = number(side.get("total_ios"), "fio total_ios")
    if ios <= 0:
        raise WorkloadError("fio did no I/O for %s" % job)
    out = {
        job + ".bw": number(side.get("bw_bytes"), "fio bw_bytes") / 2**20,
        job + ".iops": number(side.get("iops"), "fio iops"),
    }
    lat = side.get("lat_ns")
    if not isinstance(lat, dict):
        raise WorkloadError("fio JSON lacks lat_ns")
    out[job + ".lat_mean"] = number(lat.get("mean"), "fio lat mean") / 1000
    clat = side.get("clat_ns")
    pct = clat.get("percentile") if isinstance(clat, dict) else None
    if not isinstance(pct, dict):
        raise WorkloadError("fio JSON lacks clat_ns percentiles")
    for name, key in PERCENTILES:
        out["%s.clat_%s" % (job, name)] = \
            number(pct.get(key), "fio clat " + key) / 1000
    return out
