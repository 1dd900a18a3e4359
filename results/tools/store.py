"""The result store: load run files, summarise samples."""

import json
import os
import statistics

from . import schema

ENV_ORDER = ("bare", "partitioned", "lab-bare", "virtualized", "peer")
REFERENCES = ("bare", "lab-bare")


def _entry(doc, env, workload):
    if workload is None:
        return {}
    return doc["workloads"].get(workload, {}).get("environments", {}).get(
        env, {})


def baseline(doc, env, workload=None):
    """The environment ENV's figures (of WORKLOAD) are compared with: the
    workload's own "baseline" for it, else the environment's (schema 2:
    lab-bare for the lab's guests), else bare; None for a reference (bare,
    lab-bare) itself."""
    if env in REFERENCES or is_peer_reference(doc, env, workload):
        return None
    return _entry(doc, env, workload).get("baseline") or \
        doc["environments"].get(env, {}).get("baseline", "bare")


def is_peer_reference(doc, env, workload):
    """Whether another environment of WORKLOAD is compared with ENV (boot:
    hyve against the peer, since bare metal boots no VMM)."""
    if workload is None:
        return False
    w = doc.get("workloads", {}).get(workload, {})
    return any(e.get("baseline") == env
               for e in w.get("environments", {}).values())


def where(doc, env, workload=None):
    """"lab" or "host": where ENV (of WORKLOAD) ran."""
    return _entry(doc, env, workload).get("where") or \
        doc["environments"].get(env, {}).get("details", {}).get(
            "where", "host")


class StoreError(Exception):
    pass


def load(path):
    """Load and validate one run file; StoreError names the first problem."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        raise StoreError("%s: %s" % (path, e.strerror)) from None
    except ValueError as e:
        raise StoreError("%s: not JSON: %s" % (path, e)) from None
    problems = schema.validate(doc)
    if problems:
        more = " (and %d more)" % (len(problems) - 1) if len(problems) > 1 \
            else ""
        raise StoreError("%s: %s%s" % (path, problems[0], more))
    return doc


def run_files(paths):
    """Expand files and folders (folders: every *.json inside, sorted)."""
    out = []
    for p in paths:
        if os.path.isdir(p):
            for root, _, files in os.walk(p):
                out += [os.path.join(root, f) for f in sorted(files)
                        if f.endswith(".json") and not f.startswith(".")]
        elif os.path.exists(p):
            out.append(p)
        else:
            raise StoreError("%s: no such file or folder" % p)
    return sorted(out)


def load_all(paths):
    return [(p, load(p)) for p in run_files(paths)]


def median(values):
    return statistics.median(values)


def overhead(value, bare, direction):
    """Direction-aware overhead of VALUE versus BARE: > 0 means worse.

    lower-is-better (seconds): value/bare - 1.
    higher-is-better (MiB/s):  bare/value - 1.
    """
    if direction == "lower":
        return value / bare - 1.0 if bare > 0 else None
    return bare / value - 1.0 if value > 0 else None


def ratio(value, bare):
    return value / bare if bare > 0 else None


def metric_rows(doc, workload, headline_only=True):
    """[(metric, meta, {env: samples})] of one workload, sorted."""
    w = doc["workloads"][workload]
    rows = []
    for m, meta in sorted(w["metrics"].items()):
        if headline_only and not meta["headline"]:
            continue
        per = {}
        for env, e in w["environments"].items():
            s = e.get("samples", {}).get(m)
            if s:
                per[env] = s
        rows.append((m, meta, per))
    return rows
