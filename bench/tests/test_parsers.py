"""Workload output parsers: good output gives metrics, tool errors fail."""

import pytest

from bench.workloads import exits, fio, iperf3
from bench.workloads.base import WorkloadError


def fio_doc(error=0, ios=100):
    side = {"total_ios": ios, "bw_bytes": 2 * 2**20, "iops": 512.0,
            "lat_ns": {"mean": 2000.0},
            "clat_ns": {"percentile": {"50.000000": 1000, "99.000000": 5000,
                                       "99.900000": 9000}}}
    return {"jobs": [{"jobname": "j", "error": error, "read": side,
                      "write": dict(side, total_ios=0)}]}


def test_fio_parse():
    got = fio.parse("seqread-1m-qd1", "read", fio_doc())
    assert got["seqread-1m-qd1.bw"] == 2.0
    assert got["seqread-1m-qd1.iops"] == 512.0
    assert got["seqread-1m-qd1.lat_mean"] == 2.0
    assert got["seqread-1m-qd1.clat_p99_9"] == 9.0


def test_fio_error_field_fails():
    with pytest.raises(WorkloadError, match="error"):
        fio.parse("seqread-1m-qd1", "read", fio_doc(error=5))


def test_fio_no_io_fails():
    with pytest.raises(WorkloadError, match="no I/O"):
        fio.parse("seqread-1m-qd1", "read", fio_doc(ios=0))
    # The write side of a read job did no I/O: a write job must see that.
    with pytest.raises(WorkloadError, match="no I/O"):
        fio.parse("seqwrite-1m-qd1", "write", fio_doc())


def iperf_doc(streams=1, error=None):
    d = {"start": {"test_start": {"num_streams": streams}},
         "end": {"sum_sent": {"bits_per_second": 9e9, "retransmits": 3},
                 "sum_received": {"bits_per_second": 8e9}}}
    if error:
        d = {"start": {}, "end": {}, "error": error}
    return d


def test_iperf3_parse():
    got = iperf3.parse("tcp-send-p1", 1, iperf_doc())
    assert got == {"tcp-send-p1.throughput": 8.0,
                   "tcp-send-p1.retransmits": 3.0}


def test_iperf3_error_key_fails():
    with pytest.raises(WorkloadError, match="refused"):
        iperf3.parse("tcp-send-p1", 1,
                     iperf_doc(error="unable to connect: Connection refused"))


def test_iperf3_stream_count_checked():
    with pytest.raises(WorkloadError, match="streams"):
        iperf3.parse("tcp-send-p4", 4, iperf_doc(streams=1))


def test_exits_parse():
    doc = {"figures": {
        "hyve.pio": {"samples": {"ns": [10.0, 11.0]}},
        "floor.pio": {"samples": {"ns": [9.0, 9.5]}},
        "hyve.cpuid": {"samples": {"ns": [5.0]}}}}
    got = exits.parse(doc)
    assert got[("virtualized", "pio.ns")] == [10.0, 11.0]
    assert got[("bare", "pio.ns")] == [9.0, 9.5]
    assert got[("virtualized", "cpuid.ns")] == [5.0]
    del doc["figures"]["floor.pio"]
    with pytest.raises(WorkloadError, match="floor.pio"):
        exits.parse(doc)
    with pytest.raises(WorkloadError):
        exits.parse({"figures": {"hyve.pio": {"samples": {"ns": [-1]}},
                                 "floor.pio": {"samples": {"ns": [1]}}}})


def test_external_contract(tmp_path, monkeypatch):
    import json
    import os
    from bench.workloads import base, external
    from bench.workloads.base import Context

    kvm = tmp_path / "kvm"
    kvm.write_text("")
    monkeypatch.setattr(base, "DEV_KVM", str(kvm))

    repo = tmp_path / "repo"
    prog = repo / "bench" / "ipi" / "run"
    prog.parent.mkdir(parents=True)
    prog.write_text("#!/bin/sh\n"
                    "while [ $# -gt 0 ]; do [ \"$1\" = -o ] && out=$2; shift; done\n"
                    "cat > \"$out\" <<'X'\n" + json.dumps({
                        "metrics": {"ipi.ns": {"unit": "ns",
                                               "direction": "lower",
                                               "headline": True}},
                        "samples": {"virtualized": {"ipi.ns": [900, 950]}}})
                    + "\nX\n")
    prog.chmod(0o755)
    ctx = Context(str(repo), str(tmp_path / "build"), None, "quick", 2,
                  1 << 30)
    w = external.Ipi(ctx)
    assert w.unavailable() is None
    got = w.run("all", None)
    assert got == {("virtualized", "ipi.ns"): [900.0, 950.0]}
    assert w.metrics["ipi.ns"].direction == "lower"
    w.finish()
    # Missing program: skipped with a reason naming both places.
    ctx2 = Context(str(tmp_path / "empty"), str(tmp_path / "b2"), None,
                   "quick", 1, 1 << 29)
    why = external.Ipi(ctx2).unavailable()
    assert "bench/ipi/run" in why and "b2/bench/ipi" in why
    assert not os.path.exists(tmp_path / "b2")
    # ipi runs hyve and the floor on this host: no /dev/kvm, no run.
    kvm.unlink()
    assert w.unavailable() == "no /dev/kvm"
    # Undeclared metric or bad sample: a failure.
    with pytest.raises(WorkloadError):
        w.parse({"metrics": {}, "samples": {"bare": {"x": [1]}}})
    with pytest.raises(WorkloadError):
        w.parse({"metrics": {"x": {"unit": "", "direction": "lower"}},
                 "samples": {"bare": {"x": [float("inf")]}}})
