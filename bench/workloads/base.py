"""What every workload module offers the runner.

A workload module defines one class derived from Workload and names it in
bench/workloads/__init__.py's registry.  The runner calls, in order:

    w = Cls(ctx)                  ctx: Context (config, size, folders)
    w.unavailable()               None, or a one-line reason to skip it
    w.prepare()                   once, on the host (data, caches)
    w.jobs()                      names of the sub-benchmarks
    w.supports(env)               None, or why this environment cannot run it
    w.run(job, env)               one sample of each metric of JOB -> dict
    w.finish()                    always, also after a failure

Metrics are declared in w.metrics: {name: Metric}.  run() returns
{metric name: float}; it raises WorkloadError (one-line message) when the
tool failed or its output is not what it should be.
"""

import math
import os


class WorkloadError(Exception):
    """A workload run failed; str() is a one-line reason."""


class Metric:
    def __init__(self, unit, direction, headline=False, description=""):
        if direction not in ("higher", "lower"):
            raise ValueError("direction must be higher or lower")
        self.unit = unit
        self.direction = direction
        self.headline = headline
        self.description = description

    def to_json(self):
        return {"unit": self.unit, "direction": self.direction,
                "headline": self.headline, "description": self.description}


class Context:
    def __init__(self, repo, build, config, size, vcpus, memory_bytes,
                 cache_root=None, scratch_root=None, scratch_kind=None):
        self.repo = repo
        self.build = build          # absolute build folder (built programs)
        self.config = config
        self.size = size            # "lab", "quick" or "full"
        self.vcpus = vcpus
        self.memory_bytes = memory_bytes
        # Writable cache; the lab part's is on the lab's results share,
        # since the build folder is read-only in the lab.
        self.cache_root = cache_root or os.path.join(build, "bench")
        # Where data that must sit on a real block device's file system
        # goes (the lab part's scratch ext4, scratchfs.py); else the cache.
        self.scratch_root = scratch_root
        self.scratch_kind = scratch_kind if scratch_root else None

    def cache(self, *parts):
        path = os.path.join(self.cache_root, *parts)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path

    def scratch(self, *parts):
        """PARTS in the scratch file system when there is one, else in the
        cache."""
        if not self.scratch_root:
            return self.cache(*parts)
        path = os.path.join(self.scratch_root, *parts)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path

    def cached(self, *parts):
        """PARTS in the build folder's cache when a ".done" stamp says it
        is complete there (the lab sees it read-only), else cache(PARTS)."""
        ro = os.path.join(self.build, "bench", *parts)
        if os.path.exists(ro + ".done"):
            return ro
        return self.cache(*parts)


class Workload:
    name = None
    description = ""
    environments = ("bare", "partitioned", "virtualized", "peer")
    # {environment: the environment its figures are compared with}, for
    # workloads without a bare-metal side (boot: hyve against the peer).
    baselines = {}

    def __init__(self, ctx):
        self.ctx = ctx
        self.metrics = {}

    def unavailable(self):
        return None

    def prepare(self):
        pass

    def jobs(self):
        raise NotImplementedError

    def supports(self, env_name):
        """The lab's bare metal (lab-bare) runs what bare metal runs."""
        if env_name == "lab-bare" and "bare" in self.environments:
            return None
        if env_name not in self.environments:
            return "%s does not run %s" % (self.name, env_name)
        return None

    def run(self, job, env):
        raise NotImplementedError

    def finish(self):
        pass

    def estimate(self, job):
        """Rough seconds one run of JOB takes, for the progress line."""
        return 10.0

    def parameters(self):
        return {}


def number(value, what):
    """A finite float from a tool's output, or WorkloadError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise WorkloadError("%s is not a number: %r" % (what, value))
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise WorkloadError("%s is out of range: %r" % (what, value))
    return value


def json_from(text, tool):
    """Parse the JSON object in TEXT (tools sometimes print a line first)."""
    import json
    start = text.find("{")
    if start < 0:
        raise WorkloadError("%s printed no JSON" % tool)
    try:
        return json.loads(text[start:])
    except ValueError as e:
        raise WorkloadError("%s printed bad JSON: %s" % (tool, e)) from None


DEV_KVM = "/dev/kvm"


def no_kvm():
    """Why a workload that runs hyve on this host cannot run here, or None.
    (Linux guests need more than /dev/kvm: see bench/harness/lab.py.)"""
    return None if os.path.exists(DEV_KVM) else "no /dev/kvm"


def remove(path):
    """Unlink PATH if it exists."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def read_json(path, who):
    """The JSON document in the file PATH that WHO wrote, or WorkloadError."""
    import json
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise WorkloadError("%s wrote no valid JSON: %s" % (who, e)) from None
