"""exits: the lead's exit-cost micro-benchmark (bench/exits/run), adapted.

bench/exits/run times each exit kind (cpuid, pio, mmio, hlt) from inside a
test kernel under hyve, and the port-I/O loop under the floor (kmod/floor's
exitfloor: the bare KVM ioctl loop with no VMM around it).  Here the floor
is reported as the bare-metal figure and hyve's as the virtualized one, so
the table's "versus bare metal" of pio is the hyve/floor ratio.  It runs
natively on any host whose /dev/kvm runs the test kernels (this one too).
"""

import os

from . import base
from .base import Metric, Workload, WorkloadError, number, read_json, remove

KINDS = ("cpuid", "pio", "mmio", "hlt")
SIZES = {"lab": ["--iters", "2000", "--warmup", "200", "--reps", "3",
                "--rounds", "2"],
         "quick": ["--iters", "2000", "--warmup", "200", "--reps", "3",
                   "--rounds", "2"],
         "full": []}


class Exits(Workload):
    name = "exits"
    description = "VM exit cost in ns, hyve versus the bare KVM floor"
    environments = ("bare",)        # one program run measures both sides

    def __init__(self, ctx):
        super().__init__(ctx)
        b = ctx.build
        self.program = os.path.join(ctx.repo, "bench", "exits", "run")
        self.needs = {"bench/exits/run": self.program,
                      "build/hyve": os.path.join(b, "hyve"),
                      "build/kmod/exitfloor": os.path.join(b, "kmod",
                                                           "exitfloor"),
                      "build/bench/exits/exits.elf":
                          os.path.join(b, "bench", "exits", "exits.elf")}
        self.out = ctx.cache("exits", "bench-%d.json" % os.getpid())
        for k in KINDS:
            self.metrics[k + ".ns"] = Metric(
                "ns", "lower", headline=True,
                description="nanoseconds per %s exit" % k)

    def supports(self, env_name):
        if env_name != "bare":
            return ("bench/exits/run measures hyve and the floor itself; "
                    "it has no %s figure" % env_name)
        return None

    def unavailable(self):
        missing = [k for k, p in self.needs.items() if not os.path.exists(p)]
        if missing:
            return "not built: %s (run make)" % ", ".join(missing)
        return base.no_kvm()

    def parameters(self):
        return {"program": "bench/exits/run",
                "arguments": SIZES[self.ctx.size]}

    def estimate(self, job):
        return 40.0

    def jobs(self):
        return ["all"]

    def run(self, job, env):
        from bench.harness.environments import run_process
        remove(self.out)
        argv = ["/usr/bin/python3", self.program,
                "--hyve", self.needs["build/hyve"],
                "--floor", self.needs["build/kmod/exitfloor"],
                "--kernel", self.needs["build/bench/exits/exits.elf"],
                "--json", self.out] + SIZES[self.ctx.size]
        done = run_process(argv, 1800, cwd=self.ctx.repo)
        if done.failure():
            raise WorkloadError(done.failure())
        return parse(read_json(self.out, "bench/exits/run"))

    def finish(self):
        remove(self.out)


def parse(doc):
    """bench/exits JSON -> {(environment, metric): [ns samples]}."""
    figs = doc.get("figures") if isinstance(doc, dict) else None
    if not isinstance(figs, dict):
        raise WorkloadError("bench/exits JSON lacks figures")
    out = {}
    for name, f in figs.items():
        runner, _, kind = name.partition(".")
        if kind not in KINDS or runner not in ("hyve", "floor"):
            continue
        try:
            values = f["samples"]["ns"]
        except (KeyError, TypeError):
            raise WorkloadError("bench/exits figure %s lacks samples.ns"
                                % name) from None
        if not isinstance(values, list) or not values:
            raise WorkloadError("bench/exits figure %s has no samples" % name)
        env = "bare" if runner == "floor" else "virtualized"
        out[(env, kind + ".ns")] = [number(v, "exits %s" % name)
                                    for v in values]
    if ("virtualized", "pio.ns") not in out or ("bare", "pio.ns") not in out:
        raise WorkloadError("bench/exits JSON lacks hyve.pio or floor.pio")
    return out
