"""Benchmark configurations: the shipped ones load, bad ones are refused
with a one-line error."""

import os
import subprocess

import pytest

from bench.harness import config
from bench.workloads import REGISTRY

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIGS = os.path.join(REPO, "bench", "configs")


@pytest.mark.parametrize("name,vcpus,mib", [("1cpu-512m", 1, 512),
                                            ("2cpu-1g", 2, 1024),
                                            ("4cpu-2g", 4, 2048)])
def test_shipped_configs_load(name, vcpus, mib):
    c = config.load(config.config_path(CONFIGS, name), set(REGISTRY))
    assert (c.name, c.vcpus, c.memory_mib) == (name, vcpus, mib)
    assert c.repetitions >= 3 and c.workloads
    assert "bare" in c.environments
    assert c.repetitions_for("buildworld") >= 1


GOOD = """[config]
vcpus = 2
memory = 1G
workloads = fio buildworld
repetitions = 4
"""


@pytest.mark.parametrize("text,needle", [
    ("", "missing [config]"),
    ("[config]\nvcpus = 1\n", "missing key"),
    (GOOD.replace("vcpus = 2", "vcpus = zero"), "not an integer"),
    (GOOD.replace("vcpus = 2", "vcpus = 0"), "must be 1.."),
    (GOOD.replace("memory = 1G", "memory = lots"), "not a size"),
    (GOOD.replace("memory = 1G", "memory = 1K"), "below 16 MiB"),
    (GOOD.replace("fio buildworld", "fio nosuch"), "unknown workload"),
    (GOOD.replace("fio buildworld", "fio fio"), "listed twice"),
    (GOOD + "colour = blue\n", "unknown key colour"),
    (GOOD + "size = huge\n", "size must be"),
    (GOOD + "environments = partitioned\n", "must include bare"),
    (GOOD + "environments = bare moon\n", "unknown environment"),
    (GOOD + "[extra]\n", "unknown section"),
    (GOOD + "[workload.iperf3]\nrepetitions = 2\n", "not in workloads"),
    (GOOD + "[workload.fio]\nrepetitions = -1\n", "must be 1.."),
    ("[config\n", "nan"),
])
def test_bad_configs_are_refused(tmp_path, text, needle):
    path = tmp_path / "bad.ini"
    path.write_text(text)
    with pytest.raises(config.ConfigError) as e:
        config.load(str(path), set(REGISTRY))
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg
    if needle != "nan":
        assert needle in msg


def test_overrides_per_workload(tmp_path):
    path = tmp_path / "c.ini"
    path.write_text(GOOD + "[workload.fio]\nrepetitions = 9\nsize = full\n")
    c = config.load(str(path), set(REGISTRY))
    assert c.repetitions_for("fio") == 9 and c.size_for("fio") == "full"
    assert c.repetitions_for("buildworld") == 4
    assert c.size_for("buildworld") == "quick"


def run_bench(*args):
    return subprocess.run([os.path.join(REPO, "bench", "run")] + list(args),
                          capture_output=True, text=True, timeout=60)


def test_runner_refuses_bad_command_lines(tmp_path):
    bad = tmp_path / "bad.ini"
    bad.write_text("[config]\nvcpus = x\n")
    for args in (["-c", "nosuch"], ["-c", str(bad)], ["--bogus"],
                 ["-w", "nosuch"], ["-e", "moon"], ["-r", "0"],
                 ["-s", "medium"]):
        done = run_bench(*args)
        assert done.returncode == 64, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, (args, done.stderr)
        assert done.stderr.startswith("bench/run: ")
