"""Guests and the lab: the run-workload command line a plan builds, the
[lab] section of a configuration, the merge of a lab part into the host's
result (schema 2), the table's lab rows, and the parsers of the combined
fio, iperf3, buildworld and boot outputs."""

import copy
import json
import os

import pytest

from bench.harness import config, lab, labpart
from bench.workloads import REGISTRY, boot, buildworld, fio, iperf3
from bench.workloads.base import Context, WorkloadError
from results.tools import schema, table

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cfg(tmp_path, extra=""):
    p = tmp_path / "c.ini"
    p.write_text("[config]\nvcpus = 2\nmemory = 1G\nworkloads = fio boot\n"
                 "repetitions = 3\n" + extra)
    return config.load(str(p), set(REGISTRY))


def sys_module(tmp_path, module):
    d = tmp_path / "sys"
    (d / module).mkdir(parents=True)
    return str(d)


def test_lab_section(tmp_path):
    assert cfg(tmp_path).lab == {"repetitions": 1, "size": "lab"}
    c = cfg(tmp_path, "[lab]\nrepetitions = 2\nsize = quick\n")
    assert c.lab == {"repetitions": 2, "size": "quick"}
    assert c.to_json()["lab"] == c.lab
    for bad, needle in (("[lab]\nrepetitions = 0\n", "must be 1.."),
                        ("[lab]\nsize = huge\n", "size must be"),
                        ("[lab]\ncolour = red\n", "unknown key colour")):
        with pytest.raises(config.ConfigError, match=needle):
            cfg(tmp_path, bad)


def test_plan_native_and_via_lab(tmp_path):
    build = tmp_path / "build"
    build.mkdir()
    (build / "hyve").write_text("")
    (build / "hyve").chmod(0o755)
    c = cfg(tmp_path)
    p, why = lab.plan("hyve", c, REPO, sys_module(tmp_path, "kvm_amd"),
                      build=str(build))
    assert why is None and not p.via_lab
    p, why = lab.plan("qemu", c, REPO, sys_module(tmp_path / "x", "kvm_pvm"),
                      build=str(build))
    assert why is None and p.via_lab
    assert p.describe()["where"] == "lab"
    p, why = lab.plan("hyve", c, REPO, sys_module(tmp_path / "y", "kvm_amd"),
                      build=str(tmp_path / "nobuild"))
    assert p is None and "build/hyve is not built" in why


def test_plan_command(tmp_path):
    p = lab.Plan("hyve", cfg(tmp_path), "/repo", False, "/repo/build")
    data = tmp_path / "data.img"
    data.write_bytes(b"x")
    assert p.data_path(str(data)) == "/bench/0"
    p.netns = "ns1"
    argv = p.command(["fio", "--x"], 100, root="/img", scratch=(64, "/obj"),
                     stats="/s.json")
    assert argv == ["/repo/guests/linux/run-workload", "--vmm", "hyve",
                    "-c", "2", "-m", "1024", "-t", "100",
                    "--disk", "%s:/bench/0" % data, "--root", "/img",
                    "--scratch", "64:/obj", "--net", "ns1",
                    "--stats", "/s.json", "--", "fio", "--x"]
    p.reset()
    assert p.command(["true"], 5)[-2:] == ["--", "true"]
    with pytest.raises(WorkloadError, match="regular files"):
        p.data_path(str(tmp_path))


def test_lab_part_command(tmp_path):
    c = cfg(tmp_path)
    argv = labpart.command("/repo", "/repo/build", c, ["virtualized"],
                           ["fio"], 1, "lab", "/repo/build/lab/bench")
    assert argv[0] == "/repo/guests/lab/run-in-lab"
    inner = argv[argv.index("--") + 1:]
    assert inner[:3] == ["/usr/bin/python3", "/repo/bench/run", "--lab-part"]
    assert inner[inner.index("-e") + 1] == "virtualized"
    assert inner[inner.index("-r") + 1] == "1"
    assert inner[inner.index("-s") + 1] == "lab"
    assert argv[argv.index("-m") + 1] == str(1024 + 1536)


def host_doc():
    env = {"label": "x", "status": "ok", "details": {"where": "host"}}
    return {
        "schema": "hyve-bench-run", "schema_version": 2,
        "started": "2026-11-25T00:00:00Z", "finished": "2026-11-25T01:00:00Z",
        "duration_s": 1.0, "status": "ok",
        "config": {"name": "c", "vcpus": 1, "memory_bytes": 1 << 29,
                   "size": "quick", "repetitions": 3,
                   "workloads": [{"name": "w", "repetitions": 3,
                                  "size": "quick"}],
                   "environments": ["bare", "virtualized"],
                   "lab": {"repetitions": 1, "size": "lab"}},
        "host": {"cpu_model": "cpu", "cores": 2, "memory_bytes": 1 << 34,
                 "kernel": "6", "hypervisor_module": "kvm_pvm",
                 "hyve_version": "v"},
        "warnings": [],
        "environments": {
            "bare": dict(env, label="bare metal"),
            "virtualized": dict(env, label="virtualized (hyve)",
                                baseline="bare",
                                details={"where": "lab", "vmm": "hyve"})},
        "workloads": {"w": {
            "status": "ok", "description": "d", "size": "quick",
            "repetitions": 3,
            "metrics": {"t.seconds": {"unit": "s", "direction": "lower",
                                      "headline": True}},
            "environments": {"bare": {"status": "ok", "samples": {
                "t.seconds": [2.0, 2.0, 2.0]}}}}},
    }


def inner_doc():
    d = host_doc()
    d["lab_part"] = True
    d["host"] = dict(d["host"], cpu_model="AMD EPYC (lab)",
                     hypervisor_module="kvm_amd")
    d["environments"] = {
        "lab-bare": {"label": "lab bare metal", "status": "ok",
                     "details": {"where": "host"}},
        "virtualized": {"label": "virtualized (hyve)", "status": "ok",
                        "details": {"where": "host", "vmm": "hyve"},
                        "baseline": "bare"}}
    d["workloads"]["w"]["size"] = "lab"
    d["workloads"]["w"]["repetitions"] = 1
    d["workloads"]["w"]["environments"] = {
        "lab-bare": {"status": "ok", "samples": {"t.seconds": [20.0]}},
        "virtualized": {"status": "ok", "samples": {"t.seconds": [30.0]}}}
    return d


META = {"repetitions": 1, "size": "lab", "why": "kvm_pvm",
        "environments": ["lab-bare", "virtualized"]}


def test_merge_and_table():
    doc = host_doc()
    labpart.merge(doc, inner_doc(), ["virtualized"], {},
                  dict(META, status=0, seconds=12.5))
    assert schema.validate(doc) == []
    assert doc["environments"]["virtualized"]["baseline"] == "lab-bare"
    assert doc["environments"]["virtualized"]["details"]["where"] == "lab"
    assert doc["environments"]["lab-bare"]["details"]["where"] == "lab"
    assert doc["lab"]["host"]["hypervisor_module"] == "kvm_amd"
    w = doc["workloads"]["w"]
    assert w["status"] == "ok" and w["lab"] == {"size": "lab",
                                                "repetitions": 1}
    text = table.render(doc)
    assert "lab bare metal" in text and "1.000x (lab reference)" in text
    # 30 s against the lab's 20 s, never against the host's 2 s.
    assert "lab virtualized (hyve) | 30.00 seconds" in text
    assert "1.500x (50.0% worse) vs lab bare metal" in text
    assert "10.000x" not in text
    assert "ran in the lab (AMD EPYC (lab)" in text


def test_merge_when_the_lab_failed():
    doc = host_doc()
    labpart.merge(doc, None, ["virtualized"], {},
                  dict(META, status=124, reason="the lab timed out"))
    assert schema.validate(doc) == []
    w = doc["workloads"]["w"]
    assert w["status"] == "failed"
    assert w["environments"]["virtualized"] == {
        "status": "failed", "reason": "the lab timed out"}
    assert doc["environments"]["lab-bare"]["status"] == "skipped"
    assert "lab virtualized (hyve): FAILED: the lab timed out" in \
        table.render(doc)


@pytest.mark.parametrize("breaker", [
    lambda d: d["environments"]["virtualized"].update(baseline="peer"),
    lambda d: d["environments"]["virtualized"].update(baseline="lab-bare"),
    lambda d: d["config"]["lab"].update(size="tiny"),
    lambda d: d.update(lab={"repetitions": 1, "size": "lab",
                            "environments": []}),
    lambda d: d.update(lab=dict(META, seconds=-1)),
    lambda d: d.update(lab_part="yes"),
])
def test_schema_2_breakers(breaker):
    doc = copy.deepcopy(host_doc())
    assert schema.validate(doc) == []
    breaker(doc)
    assert schema.validate(doc)


def fio_job(name, rw):
    side = {"total_ios": 10, "bw_bytes": 2 ** 20, "iops": 256.0,
            "lat_ns": {"mean": 1000.0},
            "clat_ns": {"percentile": {"50.000000": 1000,
                                       "99.000000": 2000,
                                       "99.900000": 3000}}}
    empty = dict(side, total_ios=0)
    return {"jobname": name, "error": 0,
            "read": side if "read" in rw else empty,
            "write": side if "write" in rw else empty}


def test_fio_one_run_of_every_job(tmp_path):
    w = fio.Fio(Context(REPO, str(tmp_path), None, "lab", 1, 1 << 29,
                        cache_root=str(tmp_path / "cache")))
    assert w.jobs() == ["all"]
    argv = w.argv("/bench/0")
    assert argv.count("--stonewall") == 8 and "--size=%d" % (64 << 20) in argv
    specs = w._jobs
    doc = {"jobs": [fio_job(j, rw) for j, (rw, _, _) in specs.items()]}
    got = fio.parse_all(specs, doc)
    assert len(got) == 8 * 6 and got["seqwrite-1m-qd1.bw"] == 1.0
    doc["jobs"].pop()
    with pytest.raises(WorkloadError, match="expected"):
        fio.parse_all(specs, doc)


def iperf_json(streams):
    return json.dumps({"start": {"test_start": {"num_streams": streams}},
                       "end": {"sum_sent": {"bits_per_second": 2e9,
                                            "retransmits": 0},
                               "sum_received": {"bits_per_second": 1e9}}})


def test_iperf3_combined_output():
    specs = {"tcp-send-p1": (1, []), "tcp-recv-p4": (4, ["-R"])}
    text = "%s\n\n==iperf3-exit tcp-send-p1 0\n%s\n\n==iperf3-exit " \
        "tcp-recv-p4 0\n" % (iperf_json(1), iperf_json(4))
    got = iperf3.parse_all(specs, text)
    assert got["tcp-send-p1.throughput"] == 1.0
    assert got["tcp-recv-p4.retransmits"] == 0.0
    refused = json.dumps({"start": {}, "end": {},
                          "error": "unable to connect"})
    with pytest.raises(WorkloadError, match="unable to connect"):
        iperf3.parse_all(specs, text.replace(iperf_json(4), refused))
    with pytest.raises(WorkloadError, match="status 1"):
        iperf3.parse_all(specs, text.replace("tcp-recv-p4 0", "tcp-recv-p4 1"))
    with pytest.raises(WorkloadError, match="expected"):
        iperf3.parse_all(specs, text.split("==iperf3-exit tcp-send-p1 0")[0])


def test_buildworld_guest_side(tmp_path):
    w = buildworld.Buildworld(Context(REPO, str(tmp_path), None, "lab", 2,
                                      1 << 30))
    assert (w.kconfig, w.targets) == ("allnoconfig", ["tools/objtool"])
    cmd = w.guest_argv()
    assert cmd[:2] == ["sh", "-c"] and "O=/obj" in cmd[2] and "-j2" in cmd[2]
    assert w.supports("bare") is None
    assert "buildworld guest image" in w.supports("lab-bare")
    assert "buildworld guest image" in w.supports("virtualized")
    assert buildworld.guest_seconds(
        "noise\nBUILDWORLD-SECONDS 100.5 130.0\n") == 29.5
    for bad in ("", "BUILDWORLD-SECONDS x y", "BUILDWORLD-SECONDS 5 4"):
        with pytest.raises(WorkloadError):
            buildworld.guest_seconds(bad)


def test_boot_figures():
    got = boot.parse({"boot_seconds": 20.5, "guest_uptime_at_init": 9.0,
                      "vmm_rss_kib": 528384, "guest_ram_rss_kib": 524288})
    assert got == {"init.seconds": 20.5, "vmm_overhead.mib": 4.0,
                   "guest_init.seconds": 9.0}
    with pytest.raises(WorkloadError, match="no guest RAM"):
        boot.parse({"boot_seconds": 1, "guest_uptime_at_init": 1,
                    "vmm_rss_kib": 2168, "guest_ram_rss_kib": 0})
    with pytest.raises(WorkloadError):
        boot.parse({"boot_seconds": -1, "guest_uptime_at_init": 1,
                    "vmm_rss_kib": 10, "guest_ram_rss_kib": 5})
    b = boot.Boot(Context(REPO, "/tmp", None, "lab", 1, 1 << 29))
    assert "no VMM" in b.supports("bare")
    assert "lab bare has no VMM" in b.supports("lab-bare")
    assert b.supports("peer") is None


def test_lab_progress_filter():
    keep = ["[3/5] buildworld build | peer (QEMU/KVM) | repetition 1/1",
            "bench: fio: preparing", "lab: payload exit 0"]
    drop = ["[  337.096108] kvm [1321]: vcpu0, guest rIP: 0x0",
            "hyve-guest: running run", ""]
    assert all(labpart.PROGRESS.match(x) for x in keep)
    assert not any(labpart.PROGRESS.match(x) for x in drop)


def test_plan_keeps_console_logs(tmp_path):
    p = lab.Plan("qemu", cfg(tmp_path), "/repo", False)
    p.log_dir = str(tmp_path / "logs")
    first = p.command(["true"], 5)
    second = p.command(["true"], 5)
    assert first[first.index("-l") + 1] == str(tmp_path / "logs/qemu-1.log")
    assert second[second.index("-l") + 1] == str(tmp_path / "logs/qemu-2.log")


def test_host_figures_of_a_lab_environment():
    """exits reports hyve on the host's own /dev/kvm as virtualized while
    the virtualized environment runs in the lab: that row stays a host row
    compared with the host's bare metal."""
    doc = host_doc()
    w = doc["workloads"]["w"]
    w["environments"]["virtualized"] = {
        "status": "ok", "where": "host", "baseline": "bare",
        "samples": {"t.seconds": [3.0]}}
    labpart.merge(doc, inner_doc(), ["virtualized"], {}, dict(META))
    assert schema.validate(doc) == []
    text = table.render(doc)
    assert "  virtualized (hyve) | 3.00 seconds" in text
    assert "1.500x (50.0% worse)\n" in text + "\n"
    assert "lab virtualized (hyve)" not in text
    w["environments"]["virtualized"]["where"] = "moon"
    assert schema.validate(doc)


def test_lab_workloads_before_the_image_is_built(tmp_path):
    """On a fresh clone the buildworld image does not exist yet when the
    runner picks the lab's workloads; buildworld must still be picked (the
    prerequisites step builds the image), exits and ipi must not."""
    ctx = Context(REPO, str(tmp_path / "build"), cfg(tmp_path), "lab", 2,
                  1 << 30)
    ws = [(n, REGISTRY[n](ctx)) for n in ("buildworld", "fio", "exits",
                                           "ipi", "boot")]
    assert ws[0][1].supports("virtualized") is not None   # no image yet
    run, skip = labpart.lab_workloads(ws, ["virtualized", "peer"])
    assert run == ["buildworld", "fio", "boot"]
    assert sorted(skip) == ["exits", "ipi"]
    assert "no guest side" in skip["exits"]


def boot_inner_doc():
    """A lab part that ran boot under hyve and the peer: boot compares
    hyve with the peer (bare metal boots no VMM)."""
    d = inner_doc()
    d["environments"]["peer"] = {"label": "peer (QEMU/KVM)", "status": "ok",
                                 "details": {"where": "host", "vmm": "qemu"},
                                 "baseline": "bare"}
    d["config"]["workloads"] = [{"name": "boot", "repetitions": 1,
                                 "size": "lab"}]
    d["workloads"] = {"boot": {
        "status": "ok", "description": "d", "size": "lab", "repetitions": 1,
        "metrics": {"init.seconds": {"unit": "s", "direction": "lower",
                                     "headline": True}},
        "environments": {
            "lab-bare": {"status": "skipped", "reason": "no VMM"},
            "virtualized": {"status": "ok", "baseline": "peer",
                            "samples": {"init.seconds": [18.0]}},
            "peer": {"status": "ok", "samples": {"init.seconds": [15.0]}}}}}
    return d


def test_boot_compares_hyve_with_the_peer(tmp_path):
    from results.tools import plots, store
    doc = host_doc()
    doc["config"]["workloads"] = [{"name": "boot", "repetitions": 3,
                                   "size": "quick"}]
    doc["environments"]["peer"] = dict(doc["environments"]["virtualized"],
                                       label="peer (QEMU/KVM)")
    doc["workloads"] = {"boot": {
        "status": "skipped", "reason": "-", "description": "d",
        "size": "quick", "repetitions": 3, "metrics": {},
        "environments": {"bare": {"status": "skipped", "reason": "no VMM"}}}}
    labpart.merge(doc, boot_inner_doc(), ["virtualized", "peer"], {},
                  dict(META, status=0, seconds=1.0,
                       environments=["lab-bare", "virtualized", "peer"]))
    assert schema.validate(doc) == []
    assert store.baseline(doc, "virtualized", "boot") == "peer"
    assert store.baseline(doc, "peer", "boot") is None      # the reference
    text = table.render(doc)
    assert "lab virtualized (hyve) | 18.00 seconds (18.00-18.00, n=1) | " \
        "1.200x (20.0% worse) vs lab peer (QEMU/KVM)" in text
    assert "lab peer (QEMU/KVM)    | 15.00 seconds (15.00-15.00, n=1) | " \
        "1.000x (reference)" in text
    per = plots.overhead_series([("f", doc)])
    assert per[("c", "boot")]["series"] == {
        ("lab virtualized vs peer", "init.seconds"): {"v": pytest.approx(0.2)}}
    # A baseline must name another environment the workload has.
    bad = copy.deepcopy(doc)
    bad["workloads"]["boot"]["environments"]["peer"]["baseline"] = "peer"
    assert schema.validate(bad)
