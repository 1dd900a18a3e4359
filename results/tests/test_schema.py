"""Result files: valid ones pass the validator, broken ones fail."""

import copy
import json
import os
import subprocess

import pytest

import synth
from results.tools import schema

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_valid_document_passes():
    assert schema.validate(synth.run_doc()) == []


def test_fixture_file_passes():
    path = os.path.join(os.path.dirname(__file__), "fixtures", "run.json")
    with open(path) as f:
        assert schema.validate(json.load(f)) == []


def breakers():
    def drop_host(d): del d["host"]
    def bad_version(d): d["schema_version"] = 99
    def bad_direction(d):
        d["workloads"]["fio"]["metrics"]["seq.bw"]["direction"] = "up"
    def negative_sample(d):
        d["workloads"]["fio"]["environments"]["bare"]["samples"]["seq.bw"][0] = -1
    def nan_sample(d):
        d["workloads"]["fio"]["environments"]["bare"]["samples"]["seq.bw"][0] = float("nan")
    def string_sample(d):
        d["workloads"]["fio"]["environments"]["bare"]["samples"]["seq.bw"][0] = "5"
    def skipped_without_reason(d):
        del d["workloads"]["fio"]["environments"]["virtualized"]["reason"]
    def ok_without_samples(d):
        d["workloads"]["fio"]["environments"]["bare"]["samples"] = {}
    def undeclared_metric(d):
        d["workloads"]["fio"]["environments"]["bare"]["samples"]["x"] = [1.0]
    def unknown_environment(d):
        d["workloads"]["fio"]["environments"]["moon"] = {"status": "ok",
                                                         "samples": {}}
    def skipped_workload_without_reason(d):
        del d["workloads"]["ipi"]["reason"]
    def bad_module(d): d["host"]["hypervisor_module"] = "xen"
    def no_bare(d): del d["environments"]["bare"]
    def bool_cores(d): d["host"]["cores"] = True
    return [drop_host, bad_version, bad_direction, negative_sample,
            nan_sample, string_sample, skipped_without_reason,
            ok_without_samples, undeclared_metric, unknown_environment,
            skipped_workload_without_reason, bad_module, no_bare, bool_cores]


@pytest.mark.parametrize("breaker", breakers(), ids=lambda f: f.__name__)
def test_broken_document_fails(breaker):
    doc = copy.deepcopy(synth.run_doc())
    breaker(doc)
    assert schema.validate(doc), breaker.__name__


def test_validate_cli(tmp_path):
    good = synth.write(synth.run_doc(), str(tmp_path), "good.json")
    prog = os.path.join(REPO, "results", "validate")
    done = subprocess.run([prog, good], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    broken = synth.run_doc()
    del broken["host"]
    bad = synth.write(broken, str(tmp_path), "bad.json")
    done = subprocess.run([prog, good, bad], capture_output=True, text=True)
    assert done.returncode == 1
    assert "bad.json" in done.stderr and "host" in done.stderr
