"""The runner end to end with a fake workload: every environment appears in
the result (run or skipped with a reason), the file validates, the table
shows it, failures are recorded and make the run fail."""

import json
import os

import pytest

import bench.harness.runner as runner
from bench.harness import cgroup, environments
from bench.workloads import base
from results.tools import schema, table

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Fake(base.Workload):
    name = "fake"
    description = "a fake workload"
    calls = []

    def __init__(self, ctx):
        super().__init__(ctx)
        self.metrics["t.seconds"] = base.Metric("s", "lower", headline=True)
        self.metrics["t.rate"] = base.Metric("ops", "higher")

    def jobs(self):
        return ["t"]

    def run(self, job, env):
        done = env.run(["/bin/sh", "-c", "echo 3"], 10)
        if done.failure():
            raise base.WorkloadError(done.failure())
        Fake.calls.append(env.name)
        v = float(done.stdout)
        return {"t.seconds": v, "t.rate": 1 / v}


class Broken(Fake):
    name = "broken"
    description = "always fails"

    def run(self, job, env):
        done = env.run(["/bin/sh", "-c", "echo oops >&2; exit 3"], 10)
        raise base.WorkloadError(done.failure())


class Absent(Fake):
    name = "absent"

    def unavailable(self):
        return "its tool is not installed"


@pytest.fixture
def registry(monkeypatch, tmp_path):
    reg = {"fake": Fake, "broken": Broken, "absent": Absent}
    monkeypatch.setattr(runner, "REGISTRY", reg)
    monkeypatch.setattr(cgroup, "probe",
                        lambda *a, **k: (None, "no cgroups in this test"))
    cfg = tmp_path / "t.ini"
    cfg.write_text("[config]\nvcpus = 1\nmemory = 64M\n"
                   "workloads = %s\nrepetitions = 3\n" % " ".join(reg))
    Fake.calls = []
    return str(cfg)


def run(args, tmp_path, capsys):
    rc = runner.main(args + ["-o", str(tmp_path / "out"), "-B",
                             str(tmp_path / "build")], REPO)
    files = os.listdir(tmp_path / "out")
    assert len(files) == 1
    with open(tmp_path / "out" / files[0]) as f:
        doc = json.load(f)
    return rc, doc, capsys.readouterr()


def test_run_records_everything(registry, tmp_path, capsys):
    rc, doc, out = run(["-c", registry], tmp_path, capsys)
    assert rc == 1                          # "broken" failed
    assert schema.validate(doc) == []
    assert set(doc["environments"]) == {"bare", "partitioned", "virtualized",
                                        "peer"}
    for env in ("partitioned", "virtualized", "peer"):
        assert doc["environments"][env]["status"] in ("ok", "skipped")
        if doc["environments"][env]["status"] == "skipped":
            assert doc["environments"][env]["reason"]
    fake = doc["workloads"]["fake"]
    assert fake["status"] == "ok"
    assert fake["environments"]["bare"]["samples"]["t.seconds"] == [3.0] * 3
    assert Fake.calls.count("bare") == 3
    broken = doc["workloads"]["broken"]
    assert broken["status"] == "failed"
    assert "exited with status 3: oops" in \
        broken["environments"]["bare"]["reason"]
    assert len(broken["environments"]["bare"]["errors"]) == 3
    assert doc["workloads"]["absent"] == dict(
        doc["workloads"]["absent"], status="skipped",
        reason="its tool is not installed")
    # the table was printed and lists the skipped environments and workload
    assert "versus bare metal" in out.out
    assert "partitioned: skipped:" in out.out
    assert "absent" in out.out and "its tool is not installed" in out.out
    assert "[1/" in out.err and "remain" in out.err   # progress lines
    assert table.render(doc) in out.out


def test_partition_skip_reason(registry, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    rc, doc, _ = run(["-c", registry, "-w", "fake", "-e",
                      "bare,partitioned"], tmp_path, capsys)
    assert rc == 0
    part = doc["environments"]["partitioned"]
    assert part["status"] == "skipped"
    assert "no cgroups in this test" in part["reason"]
    assert doc["workloads"]["fake"]["environments"]["partitioned"] == {
        "status": "skipped", "reason": part["reason"]}


def test_overcommit_warning(registry, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(runner.hostfacts, "host_cores", lambda: 1)
    cfg = tmp_path / "big.ini"
    cfg.write_text("[config]\nvcpus = 4\nmemory = 64M\nworkloads = fake\n"
                   "repetitions = 1\n")
    rc, doc, out = run(["-c", str(cfg), "-e", "bare"], tmp_path, capsys)
    assert rc == 0
    assert any("4 vCPUs" in w for w in doc["warnings"])
    assert "warning: configuration has 4 vCPUs" in out.out


def test_process_timeout_kills_group():
    done = environments.run_process(["/bin/sh", "-c", "sleep 30 & wait"], 1)
    assert done.timed_out and "timed out" in done.failure()
