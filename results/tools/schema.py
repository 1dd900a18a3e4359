"""Validator for result files (results/SCHEMA.md, schema hyve-bench-run).

validate(doc) returns a list of problems, each "path: what is wrong";
an empty list means the document is valid.
"""

import math

SCHEMA = "hyve-bench-run"
VERSIONS = (1, 2)
ENVIRONMENTS = ("bare", "partitioned", "lab-bare", "virtualized", "peer")
REFERENCES = ("bare", "lab-bare")
SIZES = ("lab", "quick", "full")
STATUSES = ("ok", "failed", "skipped")


class _V:
    def __init__(self):
        self.problems = []

    def err(self, path, msg):
        self.problems.append("%s: %s" % (path, msg))

    def obj(self, d, path, required, optional=()):
        if not isinstance(d, dict):
            self.err(path, "must be an object")
            return False
        for k in required:
            if k not in d:
                self.err(path, "missing key %r" % k)
        if optional is not None:
            for k in d:
                if k not in required and k not in optional:
                    self.err(path, "unknown key %r" % k)
        return True

    def typ(self, v, types, path, what):
        if isinstance(v, bool) and bool not in types:
            self.err(path, "must be %s" % what)
            return False
        if not isinstance(v, types):
            self.err(path, "must be %s" % what)
            return False
        return True

    def num(self, v, path, minimum=None, integer=False):
        types = (int,) if integer else (int, float)
        if not self.typ(v, types, path, "an integer" if integer
                        else "a number"):
            return
        if not math.isfinite(v):
            self.err(path, "must be finite")
        elif minimum is not None and v < minimum:
            self.err(path, "must be >= %s" % minimum)

    def string(self, v, path, choices=None, nonempty=True):
        if not self.typ(v, (str,), path, "a string"):
            return
        if nonempty and not v:
            self.err(path, "must not be empty")
        if choices is not None and v not in choices:
            self.err(path, "must be one of %s" % "/".join(choices))


def validate(doc):
    v = _V()
    if not v.obj(doc, "$", ("schema", "schema_version", "started",
                            "finished", "duration_s", "status", "config",
                            "host", "warnings", "environments",
                            "workloads"), ("interrupted", "lab", "lab_part")):
        return v.problems
    if doc.get("schema") != SCHEMA:
        v.err("$.schema", "must be %r" % SCHEMA)
    if doc.get("schema_version") not in VERSIONS:
        v.err("$.schema_version", "unsupported version %r"
              % doc.get("schema_version"))
        return v.problems
    for k in ("started", "finished"):
        v.string(doc.get(k), "$." + k)
    v.num(doc.get("duration_s"), "$.duration_s", 0)
    v.string(doc.get("status"), "$.status", ("ok", "failed"))
    if "interrupted" in doc:
        v.typ(doc["interrupted"], (bool,), "$.interrupted", "a boolean")
    if "lab_part" in doc:
        v.typ(doc["lab_part"], (bool,), "$.lab_part", "a boolean")
    if "lab" in doc:
        _lab(v, doc["lab"])
    _config(v, doc.get("config"))
    _host(v, doc.get("host"))
    w = doc.get("warnings")
    if v.typ(w, (list,), "$.warnings", "a list"):
        for i, x in enumerate(w):
            v.string(x, "$.warnings[%d]" % i)
    _environments(v, doc.get("environments"))
    _workloads(v, doc.get("workloads"), doc.get("environments"))
    return v.problems


def _config(v, c):
    if not v.obj(c, "$.config", ("name", "vcpus", "memory_bytes", "size",
                                 "repetitions", "workloads", "environments"),
                 ("size_override", "repetitions_override", "lab")):
        return
    v.string(c.get("name"), "$.config.name")
    v.num(c.get("vcpus"), "$.config.vcpus", 1, integer=True)
    v.num(c.get("memory_bytes"), "$.config.memory_bytes", 1, integer=True)
    v.string(c.get("size"), "$.config.size", SIZES)
    if "lab" in c and v.obj(c["lab"], "$.config.lab",
                            ("repetitions", "size")):
        v.num(c["lab"].get("repetitions"), "$.config.lab.repetitions", 1,
              integer=True)
        v.string(c["lab"].get("size"), "$.config.lab.size", SIZES)
    v.num(c.get("repetitions"), "$.config.repetitions", 1, integer=True)
    if v.typ(c.get("workloads"), (list,), "$.config.workloads", "a list"):
        for i, w in enumerate(c["workloads"]):
            p = "$.config.workloads[%d]" % i
            if v.obj(w, p, ("name", "repetitions", "size")):
                v.string(w.get("name"), p + ".name")
                v.num(w.get("repetitions"), p + ".repetitions", 1,
                      integer=True)
                v.string(w.get("size"), p + ".size", SIZES)
    if v.typ(c.get("environments"), (list,), "$.config.environments",
             "a list"):
        for i, e in enumerate(c["environments"]):
            v.string(e, "$.config.environments[%d]" % i, ENVIRONMENTS)


def _host(v, h):
    req = ("cpu_model", "cores", "memory_bytes", "kernel",
           "hypervisor_module", "hyve_version")
    if not v.obj(h, "$.host", req, None):
        return
    v.string(h.get("cpu_model"), "$.host.cpu_model")
    v.num(h.get("cores"), "$.host.cores", 1, integer=True)
    v.num(h.get("memory_bytes"), "$.host.memory_bytes", 1, integer=True)
    v.string(h.get("kernel"), "$.host.kernel")
    hm = h.get("hypervisor_module")
    if hm is not None:
        v.string(hm, "$.host.hypervisor_module",
                 ("kvm_intel", "kvm_amd", "kvm_pvm"))
    v.string(h.get("hyve_version"), "$.host.hyve_version")


def _environments(v, envs):
    if not v.obj(envs, "$.environments", ("bare",), ENVIRONMENTS):
        return
    for name, e in envs.items():
        p = "$.environments.%s" % name
        if not v.obj(e, p, ("label", "status", "details"),
                     ("reason", "baseline")):
            continue
        if "baseline" in e:
            v.string(e["baseline"], p + ".baseline", REFERENCES)
            if e["baseline"] not in envs:
                v.err(p + ".baseline", "names no environment of the run")
        v.string(e.get("label"), p + ".label")
        v.string(e.get("status"), p + ".status", ("ok", "skipped"))
        if e.get("status") == "skipped":
            v.string(e.get("reason"), p + ".reason")
        v.typ(e.get("details"), (dict,), p + ".details", "an object")


def _workloads(v, ws, envs):
    if not isinstance(ws, dict):
        v.err("$.workloads", "must be an object")
        return
    for name, w in ws.items():
        p = "$.workloads.%s" % name
        if not v.obj(w, p, ("status", "description", "size", "repetitions",
                            "metrics", "environments"),
                     ("reason", "parameters", "lab")):
            continue
        v.string(w.get("status"), p + ".status", STATUSES)
        if w.get("status") in ("skipped", "failed") and \
                not _has_reason(w, w.get("environments")):
            v.err(p, "a %s workload needs a reason" % w.get("status"))
        v.num(w.get("repetitions"), p + ".repetitions", 1, integer=True)
        metrics = w.get("metrics")
        if v.typ(metrics, (dict,), p + ".metrics", "an object"):
            for m, meta in metrics.items():
                mp = "%s.metrics.%s" % (p, m)
                if v.obj(meta, mp, ("unit", "direction", "headline"),
                         ("description",)):
                    v.typ(meta.get("unit"), (str,), mp + ".unit", "a string")
                    v.string(meta.get("direction"), mp + ".direction",
                             ("higher", "lower"))
                    v.typ(meta.get("headline"), (bool,), mp + ".headline",
                          "a boolean")
        es = w.get("environments")
        if not v.typ(es, (dict,), p + ".environments", "an object"):
            continue
        if w.get("status") == "ok" and not any(
                isinstance(e, dict) and e.get("status") == "ok"
                for e in es.values()):
            v.err(p, "status ok but no environment is ok")
        for en, e in es.items():
            ep = "%s.environments.%s" % (p, en)
            if en not in ENVIRONMENTS:
                v.err(ep, "unknown environment")
            if not v.obj(e, ep, ("status",), ("reason", "errors", "samples",
                                              "where", "baseline")):
                continue
            if "where" in e:
                v.string(e["where"], ep + ".where", ("host", "lab"))
            if "baseline" in e:
                v.string(e["baseline"], ep + ".baseline",
                         REFERENCES + ("peer",))
                if e["baseline"] == en or e["baseline"] not in es:
                    v.err(ep + ".baseline", "names no other environment "
                          "of the workload")
            v.string(e.get("status"), ep + ".status", STATUSES)
            if e.get("status") in ("skipped", "failed"):
                v.string(e.get("reason"), ep + ".reason")
            if e.get("status") == "ok" and not e.get("samples"):
                v.err(ep, "status ok but no samples")
            samples = e.get("samples", {})
            if not v.typ(samples, (dict,), ep + ".samples", "an object"):
                continue
            for m, vals in samples.items():
                sp = "%s.samples.%s" % (ep, m)
                if isinstance(metrics, dict) and m not in metrics:
                    v.err(sp, "metric not declared in metrics")
                if not v.typ(vals, (list,), sp, "a list") or not vals:
                    if isinstance(vals, list):
                        v.err(sp, "must not be empty")
                    continue
                for i, x in enumerate(vals):
                    v.num(x, "%s[%d]" % (sp, i), 0)


def _lab(v, lab):
    p = "$.lab"
    if not v.obj(lab, p, ("repetitions", "size", "environments", "why"),
                 ("status", "seconds", "console_log", "reason", "host",
                  "warnings")):
        return
    v.num(lab.get("repetitions"), p + ".repetitions", 1, integer=True)
    v.string(lab.get("size"), p + ".size", SIZES)
    v.string(lab.get("why"), p + ".why")
    if v.typ(lab.get("environments"), (list,), p + ".environments",
             "a list"):
        for i, e in enumerate(lab["environments"]):
            v.string(e, "%s.environments[%d]" % (p, i), ENVIRONMENTS)
    if "status" in lab:
        v.typ(lab["status"], (int,), p + ".status", "an integer")
    if "seconds" in lab:
        v.num(lab["seconds"], p + ".seconds", 0)
    if "reason" in lab:
        v.string(lab["reason"], p + ".reason")


def _has_reason(w, es):
    if isinstance(w.get("reason"), str) and w["reason"]:
        return True
    if isinstance(es, dict):
        return any(isinstance(e, dict) and e.get("reason") for e in
                   es.values())
    return False
