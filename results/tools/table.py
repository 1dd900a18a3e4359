"""The table of a run, in the original design's shape:

    configuration | seconds (or the metric) | versus bare metal

one block per workload (per headline metric for workloads with several),
every environment listed, skipped and failed ones with their reason."""

from . import store

LABELS = {"bare": "bare metal", "partitioned": "partitioned",
          "virtualized": "virtualized (hyve)", "peer": "peer (QEMU/KVM)"}
UNIT_NAMES = {"s": "seconds"}


def fmt(x):
    if x is None:
        return "-"
    a = abs(x)
    if a >= 1000:
        return "%.0f" % x
    if a >= 100:
        return "%.1f" % x
    if a >= 1:
        return "%.2f" % x
    return "%.3g" % x


def versus(value, bare, direction):
    r = store.ratio(value, bare)
    o = store.overhead(value, bare, direction)
    if r is None or o is None:
        return "-"
    if abs(o) < 0.0005:
        word = "same"
    else:
        word = "%.1f%% %s" % (abs(o) * 100, "worse" if o > 0 else "better")
    return "%.3fx (%s)" % (r, word)


def header(doc):
    c, h = doc["config"], doc["host"]
    lines = ["hyve bench: configuration %s (%d vCPU%s, %d MiB), hyve %s"
             % (c["name"], c["vcpus"], "" if c["vcpus"] == 1 else "s",
                c["memory_bytes"] >> 20, h["hyve_version"]),
             "host: %s, %d cores, %d MiB, Linux %s, /dev/kvm: %s; %s"
             % (h["cpu_model"], h["cores"], h["memory_bytes"] >> 20,
                h["kernel"], h.get("hypervisor_module") or "none",
                doc["started"])]
    for w in doc["warnings"]:
        lines.append("warning: " + w)
    return lines


def render(doc, headline_only=True):
    out = header(doc)
    envs = [e for e in store.ENV_ORDER if e in doc["environments"]]
    for name, w in doc["workloads"].items():
        out.append("")
        out.append("%s (%s, %s, %d repetition%s)" % (
            name, w["description"], w["size"], w["repetitions"],
            "" if w["repetitions"] == 1 else "s"))
        if w["status"] == "skipped":
            out.append("  skipped: %s" % w["reason"])
            continue
        rows = store.metric_rows(doc, name, headline_only)
        many = len(rows) > 1
        table = []
        for metric, meta, per in rows:
            unit = UNIT_NAMES.get(meta["unit"], meta["unit"])
            bare = per.get("bare")
            bare_m = store.median(bare) if bare else None
            for env in envs:
                vals = per.get(env)
                if not vals:
                    continue
                med = store.median(vals)
                cell = "%s %s (%s-%s, n=%d)" % (
                    fmt(med), unit, fmt(min(vals)), fmt(max(vals)),
                    len(vals))
                vs = "1.000x (reference)" if env == "bare" else (
                    versus(med, bare_m, meta["direction"])
                    if bare_m is not None else "no bare figure")
                table.append(([metric] if many else [])
                             + [LABELS.get(env, env), cell, vs])
        if table:
            head = (["metric"] if many else []) + [
                "configuration",
                "seconds" if not many and rows[0][1]["unit"] == "s"
                else "median (min-max, n)", "versus bare metal"]
            out += _columns([head] + table)
        for env in envs:
            e = w["environments"].get(env)
            if e is None or e.get("samples"):
                if e and e["status"] == "failed":
                    out.append("  %s: FAILED in part: %s"
                               % (LABELS.get(env, env), e["reason"]))
                continue
            word = "skipped" if e["status"] == "skipped" else "FAILED"
            out.append("  %s: %s: %s" % (LABELS.get(env, env), word,
                                         e.get("reason", "?")))
        if w["status"] == "failed" and w.get("reason"):
            out.append("  FAILED: %s" % w["reason"])
    return "\n".join(out)


def _columns(rows):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, r in enumerate(rows):
        lines.append(("  " + " | ".join("%-*s" % (w, c) for w, c in
                                        zip(widths, r))).rstrip())
        if n == 0:
            lines.append("  " + "-+-".join("-" * w for w in widths))
    return lines
