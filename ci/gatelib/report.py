"""The gate's readable report and its JUnit XML."""

import xml.etree.ElementTree as ET

from . import compare as c


def _num(x):
    if x is None:
        return "-"
    return "%.4g" % x


def text(verdicts, opts):
    lines = []
    bad = [v for v in verdicts if c.failed(v, opts)]
    order = {c.REGRESSION: 0, c.MISSING: 1, c.INCONCLUSIVE: 2,
             c.IMPROVEMENT: 3, c.NEW: 4, c.PASS: 5}
    rows = [("verdict", "metric", "baseline", "candidate", "change", "p",
             "note")]
    for v in sorted(verdicts, key=lambda v: (order[v.status], v.name)):
        mark = v.status.upper() if c.failed(v, opts) else v.status
        change = "-" if v.change is None else "%+.1f%%" % (
            v.change * 100 if v.direction == "lower" else -v.change * 100)
        rows.append((mark, v.name, "%s %s" % (_num(v.base), v.unit),
                     "%s %s" % (_num(v.cand), v.unit), change,
                     "-" if v.p is None else "%.4f" % v.p, v.message))
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    for r in rows:
        lines.append("  ".join("%-*s" % (w, x) for w, x in
                               zip(widths, r[:6])) + "  " + r[6])
    counts = {}
    for v in verdicts:
        counts[v.status] = counts.get(v.status, 0) + 1
    summary = ", ".join("%d %s" % (n, s) for s, n in sorted(counts.items()))
    if bad:
        lines.append("gate: FAIL: %d of %d metrics fail (%s): %s"
                     % (len(bad), len(verdicts), summary,
                        ", ".join(v.name for v in bad[:5])
                        + (" ..." if len(bad) > 5 else "")))
    else:
        lines.append("gate: PASS: %d metrics (%s)" % (len(verdicts),
                                                      summary or "none"))
    return "\n".join(lines)


def junit(verdicts, opts, path, suite="hyve-bench-gate"):
    failures = sum(1 for v in verdicts if c.failed(v, opts))
    skipped = sum(1 for v in verdicts if not c.failed(v, opts) and
                  v.status in (c.INCONCLUSIVE, c.NEW, c.MISSING))
    root = ET.Element("testsuites", name=suite, tests=str(len(verdicts)),
                      failures=str(failures), errors="0")
    ts = ET.SubElement(root, "testsuite", name=suite,
                       tests=str(len(verdicts)), failures=str(failures),
                       errors="0", skipped=str(skipped), time="0")
    for v in verdicts:
        cfg, env, workload, metric = v.key
        tc = ET.SubElement(ts, "testcase",
                           classname="bench.%s.%s.%s" % (cfg, env, workload),
                           name=metric, time="0")
        detail = ("baseline median %s %s, candidate median %s %s, "
                  "direction %s-is-better, threshold %s, p %s: %s"
                  % (_num(v.base), v.unit, _num(v.cand), v.unit,
                     v.direction or "?",
                     "-" if v.threshold is None else
                     "%.1f%%" % (v.threshold * 100),
                     "-" if v.p is None else "%.4f" % v.p, v.message))
        if c.failed(v, opts):
            f = ET.SubElement(tc, "failure", message="%s: %s"
                              % (v.status, v.message), type=v.status)
            f.text = detail
        elif v.status in (c.INCONCLUSIVE, c.NEW, c.MISSING):
            ET.SubElement(tc, "skipped", message="%s: %s"
                          % (v.status, v.message))
        out = ET.SubElement(tc, "system-out")
        out.text = detail
    tree = ET.ElementTree(root)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
