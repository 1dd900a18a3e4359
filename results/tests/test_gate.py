"""ci/gate on synthetic samples whose answer is known."""

import os
import random
import subprocess
import xml.etree.ElementTree as ET

import pytest

import synth
from ci.gatelib import compare, report

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GATE = os.path.join(REPO, "ci", "gate")


def noisy(center, spread, n, seed):
    rng = random.Random(seed)
    return [center * (1 + rng.uniform(-spread, spread)) for _ in range(n)]


def runs(*docs):
    return [("run%d.json" % i, d) for i, d in enumerate(docs)]


def verdict(verdicts, env, workload, metric):
    for v in verdicts:
        if v.key[1:] == (env, workload, metric):
            return v
    raise AssertionError("no verdict for %s/%s/%s" % (env, workload, metric))


def test_identical_sets_pass():
    doc = synth.run_doc()
    opts = compare.Options()
    vs = compare.compare(runs(doc), runs(doc), opts)
    assert vs and not any(compare.failed(v, opts) for v in vs)
    assert all(v.status == compare.PASS for v in vs)


def test_clear_ten_percent_slowdown_fails():
    base = synth.run_doc(seconds=noisy(100, 0.01, 5, 1))
    cand = synth.scaled(base, "buildworld", "build.seconds", 1.10)
    opts = compare.Options()
    vs = compare.compare(runs(base), runs(cand), opts)
    v = verdict(vs, "bare", "buildworld", "build.seconds")
    assert v.status == compare.REGRESSION
    assert v.change == pytest.approx(0.10, rel=1e-6)
    assert v.p <= 0.05
    # fio was not touched and must pass.
    assert verdict(vs, "bare", "fio", "seq.bw").status == compare.PASS


def test_higher_is_better_drop_fails_and_rise_does_not():
    base = synth.run_doc(bw=noisy(1000, 0.01, 5, 2))
    worse = synth.scaled(base, "fio", "seq.bw", 0.90)
    better = synth.scaled(base, "fio", "seq.bw", 1.10)
    opts = compare.Options()
    v = verdict(compare.compare(runs(base), runs(worse), opts),
                "bare", "fio", "seq.bw")
    assert v.status == compare.REGRESSION
    v = verdict(compare.compare(runs(base), runs(better), opts),
                "bare", "fio", "seq.bw")
    assert v.status == compare.IMPROVEMENT
    assert not compare.failed(v, opts)


def test_noise_alone_passes():
    # Two independent draws from the same noisy distribution (+-8%): the
    # medians may differ by more than the threshold, but never significantly
    # across many seeds.
    opts = compare.Options()
    fails = 0
    trials = 200
    for seed in range(trials):
        base = synth.run_doc(seconds=noisy(100, 0.08, 5, seed))
        cand = synth.run_doc(seconds=noisy(100, 0.08, 5, 1000 + seed))
        vs = compare.compare(runs(base), runs(cand), opts)
        fails += compare.failed(
            verdict(vs, "bare", "buildworld", "build.seconds"), opts)
    # A false alarm needs p <= alpha (0.05) and the 5% effect: its rate is
    # at most alpha.
    assert fails / trials <= 0.05, fails


def test_small_shift_below_threshold_passes():
    base = synth.run_doc(seconds=noisy(100, 0.001, 5, 3))
    cand = synth.scaled(base, "buildworld", "build.seconds", 1.03)
    opts = compare.Options(threshold=0.05)
    v = verdict(compare.compare(runs(base), runs(cand), opts),
                "bare", "buildworld", "build.seconds")
    assert v.status == compare.PASS


def test_per_metric_threshold_override():
    base = synth.run_doc(seconds=noisy(100, 0.001, 5, 4))
    cand = synth.scaled(base, "buildworld", "build.seconds", 1.10)
    opts = compare.Options(overrides=[("*/buildworld/build.seconds", 0.20)])
    v = verdict(compare.compare(runs(base), runs(cand), opts),
                "bare", "buildworld", "build.seconds")
    assert v.status == compare.PASS and v.threshold == 0.20


def test_too_few_samples_is_inconclusive():
    base = synth.run_doc(seconds=[100.0, 101.0])
    cand = synth.scaled(base, "buildworld", "build.seconds", 1.5)
    opts = compare.Options()
    v = verdict(compare.compare(runs(base), runs(cand), opts),
                "bare", "buildworld", "build.seconds")
    assert v.status == compare.INCONCLUSIVE
    assert not compare.failed(v, opts)
    assert compare.failed(v, compare.Options(strict=True))


def test_missing_metric_fails():
    base = synth.run_doc()
    cand = synth.run_doc()
    del cand["workloads"]["fio"]["environments"]["bare"]["samples"]["seq.bw"]
    opts = compare.Options()
    v = verdict(compare.compare(runs(base), runs(cand), opts),
                "bare", "fio", "seq.bw")
    assert v.status == compare.MISSING and compare.failed(v, opts)
    assert not compare.failed(v, compare.Options(allow_missing=True))


def test_junit_counts_failures(tmp_path):
    base = synth.run_doc(seconds=noisy(100, 0.01, 5, 5))
    cand = synth.scaled(base, "buildworld", "build.seconds", 1.10)
    opts = compare.Options()
    vs = compare.compare(runs(base), runs(cand), opts)
    path = tmp_path / "junit.xml"
    report.junit(vs, opts, str(path))
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    assert int(suite.get("tests")) == len(vs)
    failures = suite.findall("testcase/failure")
    assert int(suite.get("failures")) == len(failures) == 2  # bare + part.
    names = {tc.get("name") for tc in suite.findall("testcase")
             if tc.find("failure") is not None}
    assert names == {"build.seconds"}


def gate(*args):
    return subprocess.run(["/usr/bin/python3", GATE] + list(args),
                          capture_output=True, text=True, timeout=120)


def test_cli_self_passes_and_injected_regression_fails(tmp_path):
    base = synth.run_doc(seconds=noisy(100, 0.02, 5, 6),
                         bw=noisy(1000, 0.02, 5, 7))
    b = synth.write(base, str(tmp_path / "base"), "r.json")
    c = synth.write(synth.scaled(base, "fio", "seq.bw", 0.90),
                    str(tmp_path / "cand"), "r.json")
    junit = str(tmp_path / "j.xml")
    done = gate("-b", b, "-c", b, "-j", junit)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "gate: PASS" in done.stdout
    done = gate("-b", str(tmp_path / "base"), "-c", c, "-j", junit)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "gate: FAIL" in done.stdout and "seq.bw" in done.stdout
    assert ET.parse(junit).getroot().find("testsuite").get("failures") == "2"


def test_cli_errors(tmp_path):
    done = gate("-b", "x")
    assert done.returncode == 64 and len(done.stderr.strip().splitlines()) == 1
    bad = tmp_path / "bad.json"
    bad.write_text("{\"schema\": \"nope\"}")
    done = gate("-b", str(bad), "-c", str(bad), "-j", str(tmp_path / "j"))
    assert done.returncode == 2
    assert "bad.json" in done.stderr
