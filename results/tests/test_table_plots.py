"""Table and plot generation from fixture results."""

import os
import subprocess

import synth
from results.tools import plots, table

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_table_shape_and_ratios():
    doc = synth.run_doc(seconds=[100.0] * 5, bw=[1000.0] * 5)
    text = table.render(doc)
    lines = text.splitlines()
    # buildworld: seconds, partitioned 5% slower.
    assert any("configuration" in ln and "seconds" in ln and
               "versus bare metal" in ln for ln in lines)
    part = [ln for ln in lines if ln.strip().startswith("partitioned") and
            "100" not in ln.split("|")[1]]
    assert any("1.050x (5.0% worse)" in ln for ln in part)
    # fio: higher is better, partitioned 10% lower bandwidth: 10.0% worse
    # (the figure's own change, not the 11.1% time overhead of the plots).
    assert any("0.900x (10.0% worse)" in ln for ln in lines)
    # skipped environments are listed with their reason, never omitted.
    assert text.count("virtualized (hyve): skipped: hyve cannot boot") == 2
    assert "ipi" in text and "skipped: its program is not there yet" in text
    # non-headline metrics only with headline_only=False.
    assert "seq.lat" not in text
    assert "seq.lat" in table.render(doc, headline_only=False)


def test_plots_over_releases(tmp_path):
    runs = []
    for i, rel in enumerate(("v0.1", "v0.2", "v0.3")):
        doc = synth.run_doc(version=rel, seconds=[100.0] * 5,
                            started="2026-11-0%dT00:00:00Z" % (i + 1),
                            virt_seconds=[110.0 + i] * 5)
        runs.append(("r%d.json" % i, doc))
    out = tmp_path / "plots"
    made = plots.build(runs, str(out))
    names = {base for _, _, base in made}
    assert names == {"1cpu-512m-buildworld", "1cpu-512m-fio"}
    for base in names:
        for ext in ("svg", "png"):
            assert (out / (base + "." + ext)).stat().st_size > 1000
    html = (out / "index.html").read_text()
    for rel in ("v0.1", "v0.2", "v0.3"):
        assert rel in html
    assert "+10.0%" in html and "+12.0%" in html     # virtualized overhead
    assert "1cpu-512m-buildworld.svg" in html
    series = plots.overhead_series(runs)[("1cpu-512m", "buildworld")]
    assert series["releases"] == ["v0.1", "v0.2", "v0.3"]


def test_plot_and_tabulate_cli(tmp_path):
    folder = tmp_path / "runs"
    synth.write(synth.run_doc(), str(folder), "a.json")
    out = tmp_path / "out"
    done = subprocess.run([os.path.join(REPO, "results", "plot"), "-o",
                           str(out), str(folder)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (out / "index.html").exists()
    done = subprocess.run([os.path.join(REPO, "results", "tabulate"),
                           str(folder)], capture_output=True, text=True)
    assert done.returncode == 0 and "versus bare metal" in done.stdout
    done = subprocess.run([os.path.join(REPO, "results", "tabulate"),
                           str(tmp_path / "none")], capture_output=True,
                          text=True)
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1


def test_versus_words():
    from results.tools.table import versus
    assert versus(90.0, 100.0, "higher") == "0.900x (10.0% worse)"
    assert versus(125.0, 100.0, "higher") == "1.250x (25.0% better)"
    assert versus(9.7, 100.0, "higher") == "0.097x (90.3% worse)"
    assert versus(122.3, 100.0, "lower") == "1.223x (22.3% worse)"
    assert versus(99.8, 100.0, "lower") == "0.998x (0.2% better)"
    assert versus(100.0, 100.0, "lower") == "1.000x (same)"
    assert versus(1.0, 0.0, "lower") == "-"
