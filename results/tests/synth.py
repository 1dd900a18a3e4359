"""Synthetic run documents with known answers, for the tests."""

import copy
import json
import os
import random


def run_doc(config="1cpu-512m", version="v0.1", started="2026-11-01T00:00:00Z",
            seconds=None, bw=None, virt_seconds=None):
    """A valid run: buildworld (seconds, lower is better) and fio (one
    headline MiB/s metric, higher is better) on bare and partitioned;
    virtualized and peer skipped."""
    rng = random.Random(hash((config, version, started)) & 0xffff)
    if seconds is None:
        seconds = [100 + rng.uniform(-1, 1) for _ in range(5)]
    part_seconds = [s * 1.05 for s in seconds]
    if bw is None:
        bw = [1000 + rng.uniform(-10, 10) for _ in range(5)]
    envs = {
        "bare": {"label": "bare metal", "status": "ok",
                 "details": {"where": "host"}},
        "partitioned": {"label": "partitioned", "status": "ok",
                        "details": {"where": "host", "method": "cgroup-v1"}},
        "virtualized": {"label": "virtualized (hyve)", "status": "skipped",
                        "reason": "hyve cannot boot Linux guests yet",
                        "details": {}},
        "peer": {"label": "peer (QEMU/KVM)", "status": "skipped",
                 "reason": "no Linux workload guest yet", "details": {}},
    }
    bw_envs = {
        "bare": {"status": "ok", "samples": {"seq.bw": list(bw),
                                             "seq.lat": [5.0, 5.1, 4.9]}},
        "partitioned": {"status": "ok",
                        "samples": {"seq.bw": [b * 0.9 for b in bw],
                                    "seq.lat": [5.5, 5.6, 5.4]}},
        "virtualized": {"status": "skipped",
                        "reason": "hyve cannot boot Linux guests yet"},
    }
    bw_envs_peer = {"status": "skipped", "reason": "no guest"}
    bw_envs["peer"] = bw_envs_peer
    bwl_envs = {
        "bare": {"status": "ok", "samples": {"build.seconds": list(seconds)}},
        "partitioned": {"status": "ok",
                        "samples": {"build.seconds": part_seconds}},
        "virtualized": {"status": "skipped",
                        "reason": "hyve cannot boot Linux guests yet"},
        "peer": {"status": "skipped", "reason": "no guest"},
    }
    if virt_seconds is not None:
        envs["virtualized"] = {"label": "virtualized (hyve)", "status": "ok",
                               "details": {"where": "lab"}}
        bwl_envs["virtualized"] = {"status": "ok",
                                   "samples": {"build.seconds":
                                               list(virt_seconds)}}
    return {
        "schema": "hyve-bench-run", "schema_version": 1,
        "started": started, "finished": started, "duration_s": 1.0,
        "status": "ok",
        "config": {"name": config, "vcpus": 1, "memory_bytes": 512 << 20,
                   "size": "quick", "repetitions": 5,
                   "workloads": [{"name": "buildworld", "repetitions": 5,
                                  "size": "quick"},
                                 {"name": "fio", "repetitions": 5,
                                  "size": "quick"}],
                   "environments": ["bare", "partitioned", "virtualized",
                                    "peer"]},
        "host": {"cpu_model": "Test CPU", "cores": 2,
                 "memory_bytes": 8 << 30, "kernel": "6.1.0",
                 "hypervisor_module": "kvm_pvm", "hyve_version": version},
        "warnings": [],
        "environments": envs,
        "workloads": {
            "buildworld": {
                "status": "ok", "description": "kernel build",
                "size": "quick", "repetitions": 5,
                "metrics": {"build.seconds": {"unit": "s",
                                              "direction": "lower",
                                              "headline": True}},
                "environments": bwl_envs},
            "fio": {
                "status": "ok", "description": "fio", "size": "quick",
                "repetitions": 5,
                "metrics": {"seq.bw": {"unit": "MiB/s", "direction": "higher",
                                       "headline": True},
                            "seq.lat": {"unit": "us", "direction": "lower",
                                        "headline": False}},
                "environments": bw_envs},
            "ipi": {"status": "skipped", "description": "ipi",
                    "size": "quick", "repetitions": 5, "metrics": {},
                    "environments": {},
                    "reason": "its program is not there yet"},
        },
    }


def scaled(doc, workload, metric, factor, envs=None):
    """A copy of DOC with METRIC's samples multiplied by FACTOR."""
    out = copy.deepcopy(doc)
    for env, e in out["workloads"][workload]["environments"].items():
        if envs is not None and env not in envs:
            continue
        if metric in e.get("samples", {}):
            e["samples"][metric] = [v * factor for v in e["samples"][metric]]
    return out


def write(doc, folder, name):
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f)
    return path
