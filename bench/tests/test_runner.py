"""The runner end to end with a fake workload: every environment appears in
the result (run or skipped with a reason), the file validates, the table
shows it, failures are recorded and make the run fail."""

import json
import os

import pytest

import bench.harness.runner as runner
from bench.harness import cgroup, environments, labpart
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
        # A guest's figure is twice the lab's bare one, which is ten times
        # the host's: the table must compare each with its own baseline.
        v = {"lab-bare": 30, "virtualized": 60, "peer": 45}.get(env.name, 3)
        done = env.run(["/bin/sh", "-c", "echo %d" % v], 10)
        if done.failure():
            raise base.WorkloadError(done.failure())
        Fake.calls.append((self.name, env.name))
        v = float(done.stdout)
        return {"t.seconds": v, "t.rate": 1 / v}


class HostOnly(Fake):
    name = "hostonly"
    description = "no guest side"
    environments = ("bare", "partitioned")


class GuestOnly(Fake):
    """Like boot: no bare-metal side, hyve compared with the peer."""
    name = "guestonly"
    description = "guests only"
    environments = ("virtualized", "peer")
    baselines = {"virtualized": "peer"}


class FakePlan:
    """Runs a guest's command on the host; via_lab as the test says."""
    inside_lab = False

    def __init__(self, vmm):
        self.vmm = vmm
        self.via_lab = not FakePlan.inside_lab
        self.commands = []

    def run(self, argv, timeout, **kw):
        self.commands.append(argv)
        return environments.run_process(argv, timeout)

    def reset(self):
        pass

    def data_path(self, path):
        return path

    def describe(self):
        return {"where": "lab" if self.via_lab else "host", "vmm": self.vmm}


def fake_guest_setup(self):
    self.plan = FakePlan(self.vmm)
    return None


def fake_lab(repo, build, argv, note):
    """The lab part, run in this process: what run-in-lab would run."""
    assert argv[0].endswith("guests/lab/run-in-lab")
    inner = argv[argv.index("--") + 1:]
    assert inner[1].endswith("bench/run") and "--lab-part" in inner
    FakePlan.inside_lab = True
    try:
        rc = runner.main(inner[2:], REPO)
    finally:
        FakePlan.inside_lab = False
    return rc, 1.5


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
    reg = {"fake": Fake, "broken": Broken, "absent": Absent,
           "hostonly": HostOnly, "guestonly": GuestOnly}
    monkeypatch.setattr(runner, "REGISTRY", reg)
    monkeypatch.setattr(cgroup, "probe",
                        lambda *a, **k: (None, "no cgroups in this test"))
    # Guests "need the lab", which runs in this process: no real boot.
    monkeypatch.setattr(environments.Guest, "setup", fake_guest_setup)
    monkeypatch.setattr(labpart, "prerequisites", lambda *a: None)
    monkeypatch.setattr(labpart, "run", fake_lab)
    cfg = tmp_path / "t.ini"
    cfg.write_text("[config]\nvcpus = 1\nmemory = 64M\n"
                   "workloads = %s\nrepetitions = 3\n" % " ".join(reg))
    Fake.calls = []
    return str(cfg)


def run(args, tmp_path, capsys):
    rc = runner.main(args + ["-o", str(tmp_path / "out"), "-B",
                             str(tmp_path / "build")], REPO)
    assert not FakePlan.inside_lab
    files = os.listdir(tmp_path / "out")
    assert len(files) == 1
    with open(tmp_path / "out" / files[0]) as f:
        doc = json.load(f)
    return rc, doc, capsys.readouterr()


def test_run_records_everything(registry, tmp_path, capsys):
    rc, doc, out = run(["-c", registry], tmp_path, capsys)
    assert rc == 1                          # "broken" failed
    assert schema.validate(doc) == []
    assert set(doc["environments"]) == {"bare", "partitioned", "lab-bare",
                                        "virtualized", "peer"}
    for env in ("partitioned", "virtualized", "peer"):
        assert doc["environments"][env]["status"] in ("ok", "skipped")
        if doc["environments"][env]["status"] == "skipped":
            assert doc["environments"][env]["reason"]
    fake = doc["workloads"]["fake"]
    assert fake["status"] == "ok"
    assert fake["environments"]["bare"]["samples"]["t.seconds"] == [3.0] * 3
    assert Fake.calls.count(("fake", "bare")) == 3
    # The lab part: its own repetitions (1 by default), its rows compared
    # with the lab's bare metal.
    assert doc["lab"]["repetitions"] == 1 and doc["lab"]["size"] == "lab"
    # "broken" fails in the lab too: bench/run exits 1 there.
    assert doc["lab"]["status"] == 1 and doc["lab"]["host"]["cores"] >= 1
    for env in ("lab-bare", "virtualized", "peer"):
        assert doc["environments"][env]["details"]["where"] == "lab"
        assert Fake.calls.count(("fake", env)) == 1
    assert doc["environments"]["virtualized"]["baseline"] == "lab-bare"
    assert "baseline" not in doc["environments"]["lab-bare"]
    assert fake["environments"]["virtualized"]["samples"]["t.seconds"] == \
        [60.0]
    assert fake["lab"] == {"size": "lab", "repetitions": 1}
    text = table.render(doc)
    assert "lab bare metal" in text
    assert "lab virtualized (hyve)" in text
    assert "2.000x (100.0% worse) vs lab bare metal" in text
    # A workload without a bare-metal side: hyve (60) against the peer (45).
    g = doc["workloads"]["guestonly"]
    assert g["environments"]["virtualized"]["baseline"] == "peer"
    assert "baseline" not in g["environments"]["peer"]
    assert "1.333x (33.3% worse) vs lab peer (QEMU/KVM)" in text
    assert "1.500x (50.0% worse) vs lab bare metal" in text
    host_only = doc["workloads"]["hostonly"]
    assert host_only["status"] == "ok"
    assert host_only["environments"]["virtualized"] == {
        "status": "skipped",
        "reason": "hostonly has no guest side; it does not run in the lab"}
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
    assert "[1/" in out.err and "more step" in out.err   # progress lines
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


def test_interrupted_lab_part_still_valid(registry, tmp_path, capsys,
                                          monkeypatch):
    """A run stopped during the lab part keeps its host figures in a valid
    file; a guest-only workload is then skipped with a reason."""
    runner.REGISTRY["guestonly"] = GuestOnly
    cfg = tmp_path / "g.ini"
    cfg.write_text("[config]\nvcpus = 1\nmemory = 64M\n"
                   "workloads = fake guestonly\nrepetitions = 1\n")

    def stop(*a):
        raise KeyboardInterrupt("terminated")
    monkeypatch.setattr(labpart, "run", stop)
    rc, doc, _ = run(["-c", str(cfg)], tmp_path, capsys)
    assert rc == 1 and doc["interrupted"]
    assert schema.validate(doc) == []
    assert doc["workloads"]["fake"]["environments"]["bare"]["samples"]
    g = doc["workloads"]["guestonly"]
    assert g["status"] == "skipped" and "runs guestonly" in g["reason"]


def test_progress_lines():
    import io
    from bench.harness.progress import Progress
    out = io.StringIO()
    p = Progress(3, stream=out, estimate=30.0)
    for rep in (1, 2, 3):
        p.step("fio", "all", "bare metal", rep, 3, 10.0)
    lines = out.getvalue().splitlines()
    assert lines[0] == "[1/3] fio all | bare metal | repetition 1/3 " \
        "(2 more steps)"
    assert lines[1].startswith("[2/3] fio all | bare metal | repetition "
                               "2/3 (1 more step, about ")
    assert lines[2].startswith("[3/3] ") and "(0 more steps, about " \
        in lines[2]
