"""Regression plots over releases: overhead versus bare metal per workload
and configuration, one point per release (hyve version), SVG and PNG, and a
static HTML page that shows them with tables.

A release's point is the median over its runs of each run's overhead
(median of the environment's samples against the median of its baseline's
in the same run: bare metal, or for the lab's guests the lab's bare metal,
or for a workload without a bare-metal side (boot) the peer;
direction-aware, so > 0 is always worse).  Lab series are named "lab
virtualized" and "lab peer".  Releases are ordered
by their first run's start time.
"""

import html
import os
import re
import statistics

from . import store, table

ENVS = ("partitioned", "virtualized", "peer")


def overhead_series(runs):
    """-> {(config, workload): {"releases": [...], "series":
    {(env, metric): {release: overhead}}, "units": {metric: (unit, dir)}}}"""
    first_seen = {}
    per = {}
    for _, doc in runs:
        rel = doc["host"]["hyve_version"]
        if rel not in first_seen or doc["started"] < first_seen[rel]:
            first_seen[rel] = doc["started"]
        cfg = doc["config"]["name"]
        for wname, w in doc["workloads"].items():
            for metric, meta, samples in store.metric_rows(doc, wname):
                for env in ENVS:
                    ref = store.baseline(doc, env, wname)
                    if env not in samples or not samples.get(ref):
                        continue
                    o = store.overhead(store.median(samples[env]),
                                       store.median(samples[ref]),
                                       meta["direction"])
                    if o is None:
                        continue
                    name = env if store.where(doc, env, wname) == "host" \
                        else "lab " + env
                    if ref not in store.REFERENCES:
                        name += " vs " + ref    # boot: hyve vs the peer
                    slot = per.setdefault((cfg, wname), {"series": {},
                                                         "units": {}})
                    slot["units"][metric] = (meta["unit"], meta["direction"])
                    slot["series"].setdefault((name, metric), {}) \
                        .setdefault(rel, []).append(o)
    order = sorted(first_seen, key=lambda r: first_seen[r])
    for slot in per.values():
        rels = {r for s in slot["series"].values() for r in s}
        slot["releases"] = [r for r in order if r in rels]
        for key, by_rel in slot["series"].items():
            slot["series"][key] = {r: statistics.median(v)
                                   for r, v in by_rel.items()}
    return per


def _safe(name):
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def draw(per, outdir):
    """Write one SVG and one PNG per (config, workload); -> file bases."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(outdir, exist_ok=True)
    made = []
    for (cfg, wname), slot in sorted(per.items()):
        rels = slot["releases"]
        fig, ax = plt.subplots(figsize=(8, 4.5))
        xs = list(range(len(rels)))
        for (env, metric), by_rel in sorted(slot["series"].items()):
            pts = [(i, by_rel[r] * 100) for i, r in enumerate(rels)
                   if r in by_rel]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o",
                    label="%s %s" % (env, metric))
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.set_xticks(xs)
        ax.set_xticklabels(rels, rotation=30, ha="right", fontsize=8)
        ax.set_xlim(-0.5, max(len(rels) - 0.5, 0.5))
        ax.set_ylabel("overhead versus bare metal (%), higher is worse\n"
                      "(lab rows: versus the lab's bare metal;\n"
                      "'vs peer': versus QEMU/KVM)", fontsize=8)
        ax.set_title("%s on %s" % (wname, cfg))
        ax.legend(fontsize=7, loc="best")
        fig.tight_layout()
        base = "%s-%s" % (_safe(cfg), _safe(wname))
        for ext in ("svg", "png"):
            fig.savefig(os.path.join(outdir, base + "." + ext))
        plt.close(fig)
        made.append((cfg, wname, base))
    return made


def page(runs, per, made, outdir):
    e = html.escape
    latest = {}
    for path, doc in runs:
        cfg = doc["config"]["name"]
        if cfg not in latest or doc["started"] > latest[cfg][1]["started"]:
            latest[cfg] = (path, doc)
    parts = ["<!DOCTYPE html>", "<html><head><meta charset='utf-8'>",
             "<title>hyve benchmark results</title>",
             "<style>body{font-family:sans-serif;margin:2em}"
             "table{border-collapse:collapse;margin-bottom:1.5em}"
             "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
             "td:first-child,th:first-child{text-align:left}"
             "pre{background:#f6f6f6;padding:1em;overflow-x:auto}</style>",
             "</head><body>", "<h1>hyve benchmark results</h1>",
             "<p>%d run file%s, releases in order of their first run. "
             "Overhead versus bare metal in percent; above 0 is worse.</p>"
             % (len(runs), "" if len(runs) == 1 else "s")]
    for cfg, wname, base in made:
        slot = per[(cfg, wname)]
        parts.append("<h2>%s on %s</h2>" % (e(wname), e(cfg)))
        parts.append("<p><img src='%s.svg' alt='%s on %s' width='800'> "
                     "<a href='%s.png'>PNG</a></p>"
                     % (e(base), e(wname), e(cfg), e(base)))
        parts.append("<table><tr><th>environment / metric</th>%s</tr>"
                     % "".join("<th>%s</th>" % e(r) for r in slot["releases"]))
        for (env, metric), by_rel in sorted(slot["series"].items()):
            cells = "".join("<td>%s</td>" % ("%+.1f%%" % (by_rel[r] * 100)
                                             if r in by_rel else "-")
                            for r in slot["releases"])
            parts.append("<tr><td>%s %s</td>%s</tr>" % (e(env), e(metric),
                                                       cells))
        parts.append("</table>")
    if not made:
        parts.append("<p>No run has both a bare-metal figure and another "
                     "environment's yet, so there is no overhead to plot.</p>")
    parts.append("<h2>Latest run of each configuration</h2>")
    for cfg, (path, doc) in sorted(latest.items()):
        parts.append("<h3>%s (%s)</h3><pre>%s</pre>"
                     % (e(cfg), e(os.path.basename(path)),
                        e(table.render(doc))))
    parts.append("</body></html>")
    with open(os.path.join(outdir, "index.html"), "w",
              encoding="utf-8") as f:
        f.write("\n".join(parts) + "\n")


def build(runs, outdir):
    per = overhead_series(runs)
    os.makedirs(outdir, exist_ok=True)
    made = draw(per, outdir)
    page(runs, per, made, outdir)
    return made
