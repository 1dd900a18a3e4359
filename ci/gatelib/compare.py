"""The regression gate: compare a candidate result set with a baseline set.

Every metric is keyed by (configuration, environment, workload, metric) and
its samples are pooled over all run files of a set.  A metric regresses
when both hold:

  effect:       the direction-aware change of the median is worse than the
                metric's threshold (default 5%): for lower-is-better metrics
                (seconds, latency) (cand - base) / base, for higher-is-better
                ones (MiB/s, IOPS) (base - cand) / base;
  significance: a one-sided Mann-Whitney U test that the candidate's samples
                are worse than the baseline's gives p <= alpha (default
                0.05).

With fewer than min_samples samples on either side no test is possible:
the metric is inconclusive (a pass unless strict).
"""

import fnmatch
import math

from results.tools import store

PASS, REGRESSION, IMPROVEMENT, INCONCLUSIVE, MISSING, NEW = (
    "pass", "regression", "improvement", "inconclusive", "missing", "new")


class GateError(Exception):
    pass


def mann_whitney_worse(cand, base, direction):
    """One-sided p that CAND is worse than BASE (Mann-Whitney U)."""
    from scipy.stats import mannwhitneyu
    if len(set(cand) | set(base)) == 1:
        return 1.0          # every sample identical: no evidence of change
    alt = "greater" if direction == "lower" else "less"
    p = float(mannwhitneyu(cand, base, alternative=alt).pvalue)
    return 1.0 if math.isnan(p) else p


def collect(runs, headline_only):
    """[(path, doc)] -> {key: {"samples": [...], "unit", "direction"}}."""
    out = {}
    for _, doc in runs:
        cfg = doc["config"]["name"]
        for wname, w in doc["workloads"].items():
            for env, e in w["environments"].items():
                for m, vals in e.get("samples", {}).items():
                    meta = w["metrics"][m]
                    if headline_only and not meta["headline"]:
                        continue
                    key = (cfg, env, wname, m)
                    slot = out.setdefault(key, {"samples": [],
                                                "unit": meta["unit"],
                                                "direction":
                                                    meta["direction"]})
                    if slot["direction"] != meta["direction"]:
                        raise GateError("metric %s changes direction between "
                                        "run files" % "/".join(key))
                    slot["samples"].extend(vals)
    return out


def key_name(key):
    cfg, env, workload, metric = key
    return "%s/%s/%s/%s" % (cfg, env, workload, metric)


class Verdict:
    def __init__(self, key, status, message, unit="", direction="",
                 base=None, cand=None, change=None, p=None, threshold=None):
        self.key = key
        self.status = status
        self.message = message
        self.unit = unit
        self.direction = direction
        self.base = base
        self.cand = cand
        self.change = change
        self.p = p
        self.threshold = threshold

    @property
    def name(self):
        return key_name(self.key)


class Options:
    def __init__(self, threshold=0.05, alpha=0.05, min_samples=3,
                 overrides=(), ignore=(), headline_only=True, strict=False,
                 allow_missing=False):
        self.threshold = threshold
        self.alpha = alpha
        self.min_samples = min_samples
        self.overrides = list(overrides)    # [(glob, fraction)]
        self.ignore = list(ignore)          # [glob]
        self.headline_only = headline_only
        self.strict = strict
        self.allow_missing = allow_missing

    def threshold_for(self, key):
        t = self.threshold
        for glob, value in self.overrides:
            if fnmatch.fnmatchcase(key_name(key), glob):
                t = value
        return t

    def ignored(self, key):
        return any(fnmatch.fnmatchcase(key_name(key), g) for g in self.ignore)


def compare(baseline_runs, candidate_runs, opts):
    base = collect(baseline_runs, opts.headline_only)
    cand = collect(candidate_runs, opts.headline_only)
    cand_configs = {k[0] for k in cand} | {
        doc["config"]["name"] for _, doc in candidate_runs}
    verdicts = []
    for key in sorted(set(base) | set(cand)):
        if opts.ignored(key):
            continue
        if key not in cand:
            if key[0] in cand_configs:
                verdicts.append(Verdict(
                    key, MISSING, "in the baseline but not in the candidate",
                    base[key]["unit"], base[key]["direction"],
                    base=store.median(base[key]["samples"])))
            continue
        c = cand[key]
        if key not in base:
            verdicts.append(Verdict(key, NEW, "no baseline", c["unit"],
                                    c["direction"],
                                    cand=store.median(c["samples"])))
            continue
        verdicts.append(judge(key, base[key], c, opts))
    return verdicts


def judge(key, b, c, opts):
    direction = b["direction"]
    if c["direction"] != direction:
        raise GateError("metric %s changes direction" % key_name(key))
    bs, cs = b["samples"], c["samples"]
    mb, mc = store.median(bs), store.median(cs)
    threshold = opts.threshold_for(key)
    if mb == 0:
        change = 0.0 if mc == 0 else math.inf
    elif direction == "lower":
        change = (mc - mb) / mb
    else:
        change = (mb - mc) / mb
    v = Verdict(key, PASS, "", b["unit"], direction, mb, mc, change,
                threshold=threshold)
    if len(bs) < opts.min_samples or len(cs) < opts.min_samples:
        v.status = INCONCLUSIVE
        v.message = ("only %d baseline and %d candidate samples (need %d "
                     "each for a test)" % (len(bs), len(cs), opts.min_samples))
        return v
    if change > threshold:
        v.p = mann_whitney_worse(cs, bs, direction)
        if v.p <= opts.alpha:
            v.status = REGRESSION
            v.message = ("%.1f%% worse (threshold %.1f%%), Mann-Whitney "
                         "p=%.4f <= %.3g" % (change * 100, threshold * 100,
                                             v.p, opts.alpha))
        else:
            v.message = ("%.1f%% worse but not significant (p=%.4f > %.3g): "
                         "noise" % (change * 100, v.p, opts.alpha))
    elif change < -threshold:
        p_better = mann_whitney_worse(bs, cs, direction)
        v.p = p_better
        if p_better <= opts.alpha:
            v.status = IMPROVEMENT
            v.message = "%.1f%% better (p=%.4f)" % (-change * 100, p_better)
        else:
            v.message = "%.1f%% better, not significant" % (-change * 100)
    else:
        v.message = "within %.1f%%" % (threshold * 100)
    return v


def failed(verdict, opts):
    if verdict.status == REGRESSION:
        return True
    if verdict.status == MISSING and not opts.allow_missing:
        return True
    if verdict.status == INCONCLUSIVE and opts.strict:
        return True
    return False
