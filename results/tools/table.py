"""The table of a run, in the original design's shape:

    configuration | seconds (or the metric) | versus bare metal

one block per workload (per headline metric for workloads with several),
every environment listed, skipped and failed ones with their reason.  Rows
that ran in the lab are labelled "lab ..." and compared with the lab's own
bare metal (their baseline), never with the host's."""

from . import store

LABELS = {"bare": "bare metal", "partitioned": "partitioned",
          "lab-bare": "lab bare metal",
          "virtualized": "virtualized (hyve)", "peer": "peer (QEMU/KVM)"}


def label(doc, env, workload=None):
    text = LABELS.get(env, env)
    if store.where(doc, env, workload) == "lab" and \
            not text.startswith("lab"):
        text = "lab " + text
    return text
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
    """RATIOx (N% worse|better): N is how much the figure itself changed
    (0.900x of a bandwidth is 10.0% worse, 1.100x of seconds 10.0% worse);
    the plots' overhead is another measure (hyve-results(8))."""
    r = store.ratio(value, bare)
    if r is None:
        return "-"
    change = r - 1.0
    if abs(change) < 0.0005:
        word = "same"
    else:
        worse = change > 0 if direction == "lower" else change < 0
        word = "%.1f%% %s" % (abs(change) * 100,
                              "worse" if worse else "better")
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
    lab = doc.get("lab")
    if lab:
        lh = lab.get("host") or {}
        where = ("%s, %d cores, %d MiB, Linux %s, /dev/kvm: %s" % (
            lh["cpu_model"], lh["cores"], lh["memory_bytes"] >> 20,
            lh["kernel"], lh.get("hypervisor_module") or "none")) \
            if lh else "no lab facts"
        lines.append("lab: %s ran in the lab (%s) because %s; lab rows are "
                     "compared with the lab's own bare metal; %d repetition%s,"
                     " size %s%s" % (
                         ", ".join(e for e in lab["environments"]
                                   if e != "lab-bare"), where, lab["why"],
                         lab["repetitions"],
                         "" if lab["repetitions"] == 1 else "s", lab["size"],
                         ", %.0f s" % lab["seconds"] if "seconds" in lab
                         else ""))
    for w in doc["warnings"]:
        lines.append("warning: " + w)
    return lines


def render(doc, headline_only=True):
    out = header(doc)
    envs = [e for e in store.ENV_ORDER if e in doc["environments"]]
    for name, w in doc["workloads"].items():
        out.append("")
        lab = w.get("lab")
        out.append("%s (%s, %s, %d repetition%s%s)" % (
            name, w["description"], w["size"], w["repetitions"],
            "" if w["repetitions"] == 1 else "s",
            "; lab: %s, %d" % (lab["size"], lab["repetitions"])
            if lab else ""))
        if w["status"] == "skipped":
            out.append("  skipped: %s" % w["reason"])
            continue
        rows = store.metric_rows(doc, name, headline_only)
        many = len(rows) > 1
        table = []
        for metric, meta, per in rows:
            unit = UNIT_NAMES.get(meta["unit"], meta["unit"])
            for env in envs:
                vals = per.get(env)
                if not vals:
                    continue
                med = store.median(vals)
                cell = "%s %s (%s-%s, n=%d)" % (
                    fmt(med), unit, fmt(min(vals)), fmt(max(vals)),
                    len(vals))
                ref = store.baseline(doc, env, name)
                if ref is None:
                    vs = "1.000x (%sreference)" % (
                        "lab " if env == "lab-bare" else "")
                elif per.get(ref):
                    vs = versus(med, store.median(per[ref]),
                                meta["direction"])
                    if ref != "bare":
                        vs += " vs " + label(doc, ref)
                else:
                    vs = "no %s figure" % label(doc, ref)
                table.append(([metric] if many else [])
                             + [label(doc, env, name), cell, vs])
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
                               % (label(doc, env, name), e["reason"]))
                continue
            word = "skipped" if e["status"] == "skipped" else "FAILED"
            out.append("  %s: %s: %s" % (label(doc, env, name), word,
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
