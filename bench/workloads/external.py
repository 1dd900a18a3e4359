"""Workloads whose program another part of the project provides: ipi
(a micro-benchmark of the VMM, measured from inside a test kernel).

The runner includes such a workload when its program exists, found as the
first executable of:

    bench/NAME/run            (a script in the tree)
    BUILD/bench/NAME          (a built program)

and reports it skipped, naming both paths, otherwise.  The program is run
on the host once per repetition as

    PROGRAM -c VCPUS -m MIB -o FILE

and exits 0 after writing to FILE one JSON object:

    {"metrics": {"METRIC": {"unit": "ns", "direction": "lower",
                            "headline": true}},
     "samples": {"ENVIRONMENT": {"METRIC": [number, ...]}}}

ENVIRONMENT is one of bare, partitioned, virtualized, peer; for exits the
bare figure is the floor (the bare KVM ioctl loop with no VMM around it).
Numbers must be finite and not negative.  Anything else is a failure.
"""

import math
import os

from . import base
from .base import Metric, Workload, WorkloadError, read_json, remove

ENVS = ("bare", "partitioned", "virtualized", "peer")


class External(Workload):
    program_name = None
    needs_kvm = False       # the program runs hyve on this host

    def __init__(self, ctx):
        super().__init__(ctx)
        self.name = self.program_name
        self.program = None
        for path in self.candidates():
            if os.path.isfile(path) and os.access(path, os.X_OK):
                self.program = path
                break
        self.out = os.path.join(ctx.build, "bench", self.name,
                                "out-%d.json" % os.getpid())

    def candidates(self):
        return [os.path.join(self.ctx.repo, "bench", self.name, "run"),
                os.path.join(self.ctx.build, "bench", self.name)]

    def unavailable(self):
        if self.program is None:
            rel = [os.path.relpath(p, self.ctx.repo) for p in self.candidates()]
            return "its program is not there yet (%s)" % " or ".join(rel)
        return base.no_kvm() if self.needs_kvm else None

    def parameters(self):
        return {"program": os.path.relpath(self.program, self.ctx.repo)
                if self.program else None}

    def jobs(self):
        return ["all"]

    # The program measures every environment itself in one run; the runner
    # calls run() once per repetition with the bare environment only.
    environments = ("bare",)

    def run(self, job, env):
        from bench.harness.environments import run_process
        os.makedirs(os.path.dirname(self.out), exist_ok=True)
        remove(self.out)
        argv = [self.program, "-c", str(self.ctx.vcpus),
                "-m", str(self.ctx.memory_bytes >> 20), "-o", self.out]
        done = run_process(argv, 1800, cwd=self.ctx.repo)
        if done.failure():
            raise WorkloadError(done.failure())
        return self.parse(read_json(self.out, self.name))

    def parse(self, doc):
        """-> {(environment, metric): [values]}; also fills self.metrics."""
        if not isinstance(doc, dict):
            raise WorkloadError("%s JSON is not an object" % self.name)
        metrics = doc.get("metrics")
        samples = doc.get("samples")
        if not isinstance(metrics, dict) or not isinstance(samples, dict):
            raise WorkloadError("%s JSON lacks metrics/samples" % self.name)
        for name, m in metrics.items():
            if not isinstance(m, dict):
                raise WorkloadError("%s metric %s is not an object"
                                    % (self.name, name))
            try:
                self.metrics[name] = Metric(str(m.get("unit", "")),
                                            m.get("direction"),
                                            bool(m.get("headline", False)))
            except ValueError:
                raise WorkloadError("%s metric %s: direction must be higher "
                                    "or lower" % (self.name, name)) from None
        out = {}
        for env, per in samples.items():
            if env not in ENVS or not isinstance(per, dict):
                raise WorkloadError("%s: bad environment %r"
                                    % (self.name, env))
            for name, values in per.items():
                if name not in self.metrics:
                    raise WorkloadError("%s: undeclared metric %s"
                                        % (self.name, name))
                if not isinstance(values, list) or not values:
                    raise WorkloadError("%s: %s/%s has no samples"
                                        % (self.name, env, name))
                for v in values:
                    if isinstance(v, bool) or not isinstance(v, (int, float)) \
                            or not math.isfinite(v) or v < 0:
                        raise WorkloadError("%s: %s/%s: bad sample %r"
                                            % (self.name, env, name, v))
                out[(env, name)] = [float(v) for v in values]
        if not out:
            raise WorkloadError("%s reported no samples" % self.name)
        return out

    def finish(self):
        remove(self.out)


class Ipi(External):
    program_name = "ipi"
    needs_kvm = True        # hyve and the KVM floor, natively
    description = "inter-processor interrupt latency"

