"""make bench: run each workload of a configuration in every environment
and write one result file (results/SCHEMA.md).  Where the host cannot run
Linux guests, the guest environments run in the lab (labpart.py)."""

import argparse
import datetime
import json
import os
import signal
import sys
import time

from bench.workloads import REGISTRY
from bench.workloads.base import Context, WorkloadError

from . import config as configmod
from . import environments, hostfacts, labpart, scratchfs
from .progress import Progress

SCHEMA = "hyve-bench-run"
SCHEMA_VERSION = 2
EX_USAGE = 64
SCRATCH_MIB = 384       # the lab part's scratch file system (sparse)


class Usage(Exception):
    pass


def _parser():
    p = argparse.ArgumentParser(
        prog="bench/run", add_help=True,
        description="Run a benchmark configuration and write its results.")
    p.add_argument("-c", "--config", default="1cpu-512m",
                   help="configuration name in bench/configs (or a path)")
    p.add_argument("-s", "--size", choices=configmod.SIZES,
                   help="override every workload's size")
    p.add_argument("-e", "--environments",
                   help="comma-separated subset of the configuration's "
                        "environments (bare is always included)")
    p.add_argument("-w", "--workloads",
                   help="comma-separated subset of the configuration's "
                        "workloads")
    p.add_argument("-r", "--repetitions", type=int,
                   help="override every workload's repetitions")
    p.add_argument("-o", "--output", default=None,
                   help="result folder (default: results/runs)")
    p.add_argument("-B", "--build", default=None,
                   help="build folder for caches (default: $BUILD or build)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="do not print the table at the end")
    p.add_argument("--lab-part", action="store_true",
                   help="(run by bench/run inside the lab) run lab bare "
                        "metal and the given guest environments only")
    p.add_argument("--cache", default=None,
                   help="writable cache folder (default: BUILD/bench)")
    return p


def parse_args(argv):
    p = _parser()

    def error(message):
        raise Usage(message)
    p.error = error
    return p.parse_args(argv)


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def load_config(repo, spec):
    configs = os.path.join(repo, "bench", "configs")
    if os.sep in spec or spec.endswith(".ini"):
        path = spec
    else:
        path = configmod.config_path(configs, spec)
    return configmod.load(path, set(REGISTRY))


def _subset(text, allowed, what):
    if text is None:
        return list(allowed)
    chosen = [x for x in text.split(",") if x]
    for x in chosen:
        if x not in allowed:
            raise Usage("%s %r is not in the configuration (%s)"
                        % (what, x, ", ".join(allowed)))
    return [x for x in allowed if x in chosen]


def main(argv, repo):
    try:
        args = parse_args(argv)
        cfg = load_config(repo, args.config)
        envs = _subset(args.environments, cfg.environments, "environment")
        if args.lab_part:
            envs = [labpart.LAB_BARE] + [e for e in envs
                                         if e in ("virtualized", "peer")]
        elif "bare" not in envs:
            envs.insert(0, "bare")
        names = _subset(args.workloads, cfg.workloads, "workload")
        if args.repetitions is not None and not \
                1 <= args.repetitions <= configmod.MAX_REPETITIONS:
            raise Usage("repetitions must be 1..%d" % configmod.MAX_REPETITIONS)
    except (Usage, configmod.ConfigError) as e:
        print("bench/run: %s" % e, file=sys.stderr)
        return EX_USAGE
    build = os.path.abspath(args.build or os.environ.get("BUILD") or
                            os.path.join(repo, "build"))
    outdir = os.path.abspath(args.output or os.path.join(repo, "results",
                                                         "runs"))
    run = Run(repo, build, cfg, envs, names, args.size, args.repetitions,
              cache=os.path.abspath(args.cache) if args.cache else None,
              lab_part=args.lab_part)
    old = signal.signal(signal.SIGTERM, _sigterm)
    try:
        doc = run.execute()
    finally:
        signal.signal(signal.SIGTERM, old)
    path = write_result(outdir, doc)
    print("bench: results in %s" % os.path.relpath(path), file=sys.stderr)
    if not args.quiet:
        from results.tools import table
        print(table.render(doc))
    return 0 if doc["status"] == "ok" else 1


def _sigterm(signum, frame):
    raise KeyboardInterrupt("terminated")


def write_result(outdir, doc):
    os.makedirs(outdir, exist_ok=True)
    stamp = doc["started"].replace(":", "").replace("-", "")
    stamp = stamp.split(".")[0].rstrip("Z") + "Z"
    base = "%s-%s" % (stamp, doc["config"]["name"])
    path = os.path.join(outdir, base + ".json")
    n = 1
    while os.path.exists(path):
        n += 1
        path = os.path.join(outdir, "%s-%d.json" % (base, n))
    tmp = os.path.join(outdir, "." + os.path.basename(path) + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.rename(tmp, path)
    return path


class Run:
    def __init__(self, repo, build, cfg, envs, names, size, reps,
                 cache=None, lab_part=False):
        self.cache = cache
        self.lab_part = lab_part
        self.lab_envs = []      # guest environments that run in the lab
        self.repo = repo
        self.build = build
        self.cfg = cfg
        self.env_names = envs
        self.names = names
        self.size = size
        self.reps = reps
        self.progress = None
        self.scratch = None     # the lab part's scratch file system

    def reps_for(self, name):
        return self.reps or self.cfg.repetitions_for(name)

    def size_for(self, name):
        return self.size or self.cfg.size_for(name)

    def execute(self):
        started = _now()
        t0 = time.monotonic()
        host = hostfacts.collect(self.repo)
        doc = {
            "schema": SCHEMA, "schema_version": SCHEMA_VERSION,
            "started": started.isoformat().replace("+00:00", "Z"),
            "config": self.cfg.to_json(),
            "host": host, "warnings": [], "environments": {},
            "workloads": {},
        }
        doc["config"]["size_override"] = self.size
        doc["config"]["repetitions_override"] = self.reps
        if self.lab_part:
            doc["lab_part"] = True
        for w in doc["config"]["workloads"]:
            w["repetitions"] = self.reps_for(w["name"])
            w["size"] = self.size_for(w["name"])
        doc["config"]["workloads"] = [w for w in doc["config"]["workloads"]
                                      if w["name"] in self.names]
        if self.cfg.vcpus > host["cores"]:
            doc["warnings"].append(
                "configuration has %d vCPUs but the host has %d cores: "
                "vCPUs are overcommitted and the partition gets all %d"
                % (self.cfg.vcpus, host["cores"], host["cores"]))
        for w in doc["warnings"]:
            print("bench: warning: %s" % w, file=sys.stderr)

        envs = {}
        try:
            for name in self.env_names:
                env = environments.make(name, self.cfg, self.repo, self.build)
                why = env.setup()
                if not why and self.lab_part and getattr(env, "via_lab",
                                                         False):
                    why = "the lab's /dev/kvm cannot run Linux guests either"
                entry = {"label": env.label}
                if why:
                    entry.update(status="skipped", reason=why)
                    print("bench: %s: skipped: %s" % (env.label, why),
                          file=sys.stderr)
                elif getattr(env, "via_lab", False):
                    entry["status"] = "ok"
                    self.lab_envs.append(name)
                else:
                    entry["status"] = "ok"
                    envs[name] = env
                    if self.lab_part and getattr(env, "plan", None):
                        # the guests' consoles, for a failure's post-mortem
                        env.plan.log_dir = os.path.join(
                            self.cache or self.build, "guest-logs")
                entry["details"] = env.describe()
                if name in ("partitioned", "virtualized", "peer"):
                    entry["baseline"] = "bare"
                doc["environments"][name] = entry
            if self.lab_part:
                self._mount_scratch(doc)
            self._run_workloads(doc, envs)
            if self.lab_envs:
                self._run_lab(doc)
        except KeyboardInterrupt as e:
            doc["warnings"].append("run interrupted: %s" % (e or "SIGINT"))
            doc["interrupted"] = True
        finally:
            for env in envs.values():
                env.teardown()
            if self.scratch:
                self.scratch.unmount()
        for w in doc["workloads"].values():
            if "status" not in w:
                w.update(status="failed", reason="run interrupted")
        doc["finished"] = _now().isoformat().replace("+00:00", "Z")
        doc["duration_s"] = round(time.monotonic() - t0, 3)
        doc["host"]["loadavg_end"] = hostfacts.loadavg()
        failed = doc.get("interrupted") or any(
            w["status"] == "failed" for w in doc["workloads"].values())
        doc["status"] = "failed" if failed else "ok"
        return doc

    def _mount_scratch(self, doc):
        """The lab part's scratch file system (scratchfs.py), for the fio
        backing file; without it fio uses the cache, with a warning."""
        fs = scratchfs.ScratchFS(SCRATCH_MIB, self.build)
        why = fs.mount()
        if why:
            doc["warnings"].append("no scratch file system (%s): data files "
                                   "stay in the cache folder" % why)
            print("bench: warning: %s" % doc["warnings"][-1],
                  file=sys.stderr)
            return
        self.scratch = fs

    def _run_lab(self, doc):
        """Run the lab part (labpart.py) and fold it into DOC."""
        note = (self.progress.note if self.progress else
                lambda t: print("bench: " + t, file=sys.stderr))
        reps = self.cfg.lab["repetitions"]
        size = self.cfg.lab["size"]
        meta = {"repetitions": reps, "size": size,
                "environments": [labpart.LAB_BARE] + self.lab_envs,
                "why": "this host's /dev/kvm is %s, which cannot run a "
                       "stock Linux guest" % (doc["host"]["hypervisor_module"]
                                              or "absent")}
        pairs = [(n, self._workload(n, size)) for n in self.names]
        names, skipped = labpart.lab_workloads(pairs, self.lab_envs)
        why = labpart.prerequisites(self.repo, self.build, names, note) \
            if names else "no workload of the run has a guest side"
        inner = None
        if why is None:
            outdir = os.path.join(self.build, "lab", "bench")
            import shutil
            shutil.rmtree(os.path.join(outdir, "result"), ignore_errors=True)
            os.makedirs(outdir, exist_ok=True)
            argv = labpart.command(self.repo, self.build, self.cfg,
                                   self.lab_envs, names, reps, size, outdir)
            note("lab part: %s in %s, %d repetition%s, size %s (the lab "
                 "boots once; its progress follows)"
                 % (", ".join(names), ", ".join(meta["environments"]), reps,
                    "" if reps == 1 else "s", size))
            status, secs = labpart.run(self.repo, self.build, argv, note)
            meta.update(status=status, seconds=round(secs, 1),
                        console_log=os.path.relpath(
                            os.path.join(outdir, "console.log"), self.repo))
            inner, why = labpart.load_inner(outdir)
            if inner is None and status != 0:
                why = "the lab failed (run-in-lab exit %d, console log %s)" \
                    % (status, meta["console_log"])
        if why:
            meta["reason"] = why
            doc["warnings"].append("lab part: %s" % why)
            print("bench: lab part: %s" % why, file=sys.stderr)
        labpart.merge(doc, inner, self.lab_envs, skipped, meta)

    def _workload(self, name, size):
        ctx = Context(self.repo, self.build, self.cfg, size, self.cfg.vcpus,
                      self.cfg.memory_bytes, cache_root=self.cache,
                      scratch_root=self.scratch and self.scratch.path,
                      scratch_kind=scratchfs.DESCRIPTION)
        return REGISTRY[name](ctx)

    def _run_workloads(self, doc, envs):
        plan = []
        for name in self.names:
            w = self._workload(name, self.size_for(name))
            ctx = w.ctx
            entry = {"description": w.description, "size": ctx.size,
                     "repetitions": self.reps_for(name), "metrics": {},
                     "environments": {}}
            doc["workloads"][name] = entry
            why = w.unavailable()
            if why:
                entry.update(status="skipped", reason=why)
                print("bench: %s: skipped: %s" % (name, why), file=sys.stderr)
                continue
            runnable = []
            for env_name in self.env_names:
                if env_name in self.lab_envs:
                    continue    # they run in the lab part
                e = doc["environments"][env_name]
                if e["status"] != "ok":
                    entry["environments"][env_name] = {
                        "status": "skipped",
                        "reason": e["reason"]}
                    continue
                why = w.supports(env_name)
                if why:
                    entry["environments"][env_name] = {
                        "status": "skipped", "reason": why}
                    continue
                runnable.append(env_name)
            plan.append((w, entry, runnable))
        total = sum(len(w.jobs()) * e["repetitions"] * len(r)
                    for w, e, r in plan)
        estimate = sum(w.estimate(j) * e["repetitions"] * len(r)
                       for w, e, r in plan for j in w.jobs())
        self.progress = Progress(total, estimate=estimate)
        for w, entry, runnable in plan:
            self._run_one(w, entry, runnable, envs)

    def _run_one(self, w, entry, runnable, envs):
        samples = {}
        errors = {e: [] for e in runnable}
        try:
            try:
                self.progress.note("%s: preparing" % w.name)
                w.prepare()
            except WorkloadError as e:
                entry.update(status="failed", reason="prepare: %s" % e)
                n = entry["repetitions"] * len(runnable)
                self.progress.done += len(w.jobs()) * n
                self.progress.estimate_left -= n * sum(w.estimate(j)
                                                       for j in w.jobs())
                for env_name in runnable:
                    entry["environments"][env_name] = {
                        "status": "failed", "reason": "prepare: %s" % e}
                return
            entry["parameters"] = w.parameters()
            reps = entry["repetitions"]
            for job in w.jobs():
                for rep in range(1, reps + 1):
                    for env_name in runnable:
                        env = envs[env_name]
                        self.progress.step(w.name, job, env.label, rep, reps,
                                           w.estimate(job))
                        try:
                            values = w.run(job, env)
                        except WorkloadError as e:
                            msg = "%s repetition %d: %s" % (job, rep, e)
                            errors[env_name].append(msg)
                            self.progress.note("FAILED %s %s: %s"
                                               % (w.name, env.label, msg))
                            continue
                        for key, v in values.items():
                            if isinstance(key, tuple):
                                samples.setdefault(key, []).extend(v)
                            else:
                                samples.setdefault((env_name, key),
                                                   []).append(v)
        finally:
            w.finish()
        entry["metrics"] = {m: meta.to_json() for m, meta in
                            sorted(w.metrics.items())}
        env_order = list(entry["environments"]) + runnable
        by_env = {}
        for (env_name, metric), vals in samples.items():
            by_env.setdefault(env_name, {})[metric] = vals
        for env_name in runnable + [e for e in by_env if e not in runnable]:
            if env_name not in env_order:
                env_order.append(env_name)
            got = by_env.get(env_name, {})
            errs = errors.get(env_name, [])
            e = {"samples": {m: got[m] for m in sorted(got)}}
            if env_name not in runnable:
                # reported by a host run (exits: hyve on this host's own
                # /dev/kvm): a host figure, whatever the environment's
                # other workloads do
                e.update(where="lab" if self.lab_part else "host",
                         baseline="lab-bare" if self.lab_part else "bare")
            if errs:
                e.update(status="failed", reason=errs[0], errors=errs)
            elif not got and by_env:
                e.update(status="skipped", reason="%s reports no figures for "
                         "this environment" % w.name)
            elif not got:
                e.update(status="failed", reason="no samples")
            else:
                e["status"] = "ok"
            if env_name in w.baselines:
                e["baseline"] = w.baselines[env_name]
            entry["environments"][env_name] = e
        states = [e["status"] for e in entry["environments"].values()]
        if "failed" in states:
            entry["status"] = "failed"
        elif "ok" in states:
            entry["status"] = "ok"
        else:       # e.g. boot on the host: only guests run it
            entry.update(status="skipped", reason="no environment that ran "
                         "here runs %s" % w.name)
