"""The lab tier's rerun of cases whose Linux guest hung: guests/lab/lab-suite
on a small Kyua suite of its own (a linux/linux_test whose cases hang once,
hang every time, or fail another way) and guests/lab/junit-merge, which
keeps the first run of a rerun case as Maven Surefire does."""

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
MERGE = os.path.join(REPO, "guests", "lab", "junit-merge")
SUITE = os.path.join(REPO, "guests", "lab", "lab-suite")
HANG = "hyve did not end within its time limit"

needs_kyua = pytest.mark.skipif(
    not (shutil.which("kyua") and shutil.which("atf-sh")),
    reason="kyua and atf-sh are not installed (ci/install-deps)")

PROGRAM = r"""#! /usr/bin/env atf-sh
# Cases whose outcome depends on how often they ran (counted in $STATE).
runs() {
	n=$(cat "$STATE/$1" 2>/dev/null || echo 0)
	n=$((n + 1))
	echo $n >"$STATE/$1"
	echo $n
}
atf_test_case hangs_once
hangs_once_body() {
	echo "first-run stderr" >&2
	[ "$(runs hangs_once)" -gt 1 ] || atf_fail "%(hang)s"
}
atf_test_case hangs_always
hangs_always_body() { runs hangs_always >/dev/null; atf_fail "%(hang)s"; }
atf_test_case wrong
wrong_body() { runs wrong >/dev/null; [ -z "$WRONG" ] || atf_fail "checksum mismatch"; }
atf_test_case fine
fine_body() { runs fine >/dev/null; }
atf_init_test_cases() {
	for c in $CASES; do atf_add_test_case $c; done
}
"""


def suite(tmp_path, cases, wrong=False):
    """A Kyuafile with linux/linux_test of CASES; returns its path."""
    top = tmp_path / "suite"
    (top / "linux").mkdir(parents=True)
    prog = top / "linux" / "linux_test"
    text = PROGRAM % {"hang": HANG}
    text = text.replace("$CASES", " ".join(cases))
    text = text.replace("$STATE", str(tmp_path / "state"))
    text = text.replace("$WRONG", "x" if wrong else "")
    prog.write_text(text)
    prog.chmod(0o755)
    (tmp_path / "state").mkdir()
    (top / "linux" / "Kyuafile").write_text(
        'syntax(2)\ntest_suite("hyve")\natf_test_program{name="linux_test"}\n')
    (top / "Kyuafile").write_text(
        'syntax(2)\ntest_suite("hyve")\ninclude("linux/Kyuafile")\n')
    return str(top / "Kyuafile")


def run_suite(tmp_path, kyuafile):
    out = tmp_path / "out"
    out.mkdir()
    env = dict(os.environ, HYVE_TIER="lab", LAB_OUT=str(out),
               TMPDIR=str(tmp_path))
    done = subprocess.run(["sh", SUITE, "-L", kyuafile], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    report = ET.parse(out / "lab-junit.xml").getroot()
    cases = {c.get("name"): c for c in report.iter("testcase")}
    return done, report, cases


def runs(tmp_path, case):
    return int((tmp_path / "state" / case).read_text())


@needs_kyua
def test_a_hang_that_passes_on_its_rerun_is_flaky_not_failed(tmp_path):
    done, report, cases = run_suite(tmp_path, suite(tmp_path, ["hangs_once", "fine"]))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the guest hung in linux/linux_test:hangs_once" in done.stdout
    assert runs(tmp_path, "hangs_once") == 2 and runs(tmp_path, "fine") == 1
    c = cases["hangs_once"]
    assert c.find("failure") is None
    flaky = c.find("flakyFailure")
    assert flaky is not None and flaky.get("message") == HANG
    assert "first-run stderr" in flaky.find("system-err").text
    assert report.get("failures") == "0" and report.get("tests") == "2"
    assert ("junit-merge: linux.linux_test:hangs_once passed on its rerun "
            "(first run: %s)" % HANG) in done.stdout


@needs_kyua
def test_a_hang_that_repeats_fails(tmp_path):
    done, report, cases = run_suite(tmp_path, suite(tmp_path, ["hangs_always", "fine"]))
    assert done.returncode == 1
    assert runs(tmp_path, "hangs_always") == 2
    c = cases["hangs_always"]
    assert c.find("failure") is not None
    assert c.find("rerunFailure").get("message") == HANG
    assert report.get("failures") == "1"


@needs_kyua
def test_other_failures_are_never_rerun(tmp_path):
    done, report, cases = run_suite(
        tmp_path, suite(tmp_path, ["hangs_once", "wrong"], wrong=True))
    assert done.returncode == 1
    assert runs(tmp_path, "wrong") == 1
    assert cases["wrong"].find("failure").get("message") == "checksum mismatch"
    # The hang is still rerun and reported as such; the status stays 1.
    assert runs(tmp_path, "hangs_once") == 2
    assert cases["hangs_once"].find("flakyFailure") is not None


def test_merge_without_retries_keeps_counts_and_drops_properties(tmp_path):
    a = tmp_path / "a.xml"
    a.write_text('<testsuite><properties><property name="env" value="x"/>'
                 '</properties><testcase classname="p" name="one"/>'
                 '<testcase classname="p" name="two"><failure message="m"/>'
                 '</testcase><testcase classname="p" name="three"><skipped/>'
                 '</testcase></testsuite>')
    out = tmp_path / "out.xml"
    assert subprocess.run([MERGE, str(out), str(a)]).returncode == 0
    root = ET.parse(out).getroot()
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("3", "1", "1")
    assert root.find(".//properties") is None


def test_merge_refuses_a_retry_of_an_unknown_case(tmp_path):
    a = tmp_path / "a.xml"
    a.write_text('<testsuite><testcase classname="p" name="one"/></testsuite>')
    r = tmp_path / "r.xml"
    r.write_text('<testsuite><testcase classname="p" name="other"/></testsuite>')
    done = subprocess.run([MERGE, "--retries", str(r), "--", str(tmp_path / "o.xml"),
                           str(a)], capture_output=True, text=True)
    assert done.returncode == 1 and "p:other" in done.stderr
