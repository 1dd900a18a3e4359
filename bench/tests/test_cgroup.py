"""The cgroup partition probe against fake v2 and v1 trees."""

import os

from bench.harness import cgroup


def make_tree(root, files):
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)


class FakeKernel:
    """Plain folders do not create control files on mkdir as cgroupfs does;
    patch os.mkdir so a new cgroup gets empty control files."""

    def __init__(self, monkeypatch, controls):
        real = os.mkdir

        def mkdir(path, mode=0o777):
            real(path, mode)
            for c in controls:
                open(os.path.join(path, c), "w").close()
        monkeypatch.setattr(cgroup.os, "mkdir", mkdir)


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_cpu_list():
    assert cgroup.cpu_list([0]) == "0"
    assert cgroup.cpu_list([3, 0, 1, 2, 7]) == "0-3,7"


def test_parse_proc_cgroup_hybrid():
    got = cgroup.parse_proc_cgroup("4:memory:/a/b\n3:cpuset:/\n0::/\n")
    assert got == {"v2": "/", "v1": {"memory": "/a/b", "cpuset": "/"}}


def test_v2_partition(tmp_path, monkeypatch):
    root = tmp_path / "cg"
    make_tree(str(root), {
        "cgroup.controllers": "cpuset cpu memory pids",
        "cgroup.subtree_control": "",
        "cpuset.mems.effective": "0",
        "user/cgroup.controllers": "",    # own cgroup: no controllers
        "user/cgroup.subtree_control": "",
    })
    FakeKernel(monkeypatch, ["cpuset.cpus", "cpuset.mems", "memory.max",
                             "memory.swap.max", "cgroup.procs"])
    mi = write(tmp_path / "mountinfo",
               "30 1 0:26 / %s rw - cgroup2 cgroup2 rw\n" % root)
    pc = write(tmp_path / "cgroup", "0::/user\n")
    part, notes = cgroup.probe(1, 512 << 20, "hb-test", [0, 1],
                               mountinfo=mi, proc_cgroup=pc)
    assert part is not None, notes
    assert part.method == "cgroup-v2"
    child = root / "hb-test"
    assert (child / "cpuset.cpus").read_text() == "0"
    assert (child / "memory.max").read_text() == str(512 << 20)
    assert (child / "memory.swap.max").read_text() == "0"
    assert "hierarchy root" in part.parent_note
    part.join(4242)
    assert (child / "cgroup.procs").read_text() == "4242"


def test_v2_without_controllers_falls_back_to_v1(tmp_path, monkeypatch):
    v2 = tmp_path / "unified"
    make_tree(str(v2), {"cgroup.controllers": "hugetlb"})
    cs = tmp_path / "cpuset"
    mem = tmp_path / "memory"
    make_tree(str(cs), {"cpuset.mems": "0", "cpuset.cpus": "0-1"})
    make_tree(str(mem), {"job/x": ""})
    FakeKernel(monkeypatch, ["cpuset.cpus", "cpuset.mems",
                             "memory.limit_in_bytes",
                             "memory.memsw.limit_in_bytes", "cgroup.procs"])
    mi = write(tmp_path / "mountinfo",
               "30 1 0:26 / %s rw - cgroup2 cgroup2 rw\n"
               "31 1 0:27 / %s rw - cgroup cgroup rw,cpuset\n"
               "32 1 0:28 / %s rw - cgroup cgroup rw,memory\n"
               % (v2, cs, mem))
    pc = write(tmp_path / "cgroup",
               "4:memory:/job\n3:cpuset:/\n0::/\n")
    part, notes = cgroup.probe(2, 1 << 30, "hb-test", [0, 1],
                               mountinfo=mi, proc_cgroup=pc)
    assert part is not None, notes
    assert part.method == "cgroup-v1"
    assert "lacks the cpuset,memory controllers" in notes
    assert (cs / "hb-test" / "cpuset.cpus").read_text() == "0-1"
    # memory: a child of the runner's own cgroup, not of the root.
    assert (mem / "job" / "hb-test" / "memory.limit_in_bytes").read_text() \
        == str(1 << 30)
    assert (mem / "job" / "hb-test" / "memory.memsw.limit_in_bytes") \
        .read_text() == str(1 << 30)
    part.join(7)
    assert (cs / "hb-test" / "cgroup.procs").read_text() == "7"
    assert (mem / "job" / "hb-test" / "cgroup.procs").read_text() == "7"


def test_nothing_usable_gives_one_line(tmp_path):
    mi = write(tmp_path / "mountinfo",
               "22 1 0:5 / /proc rw - proc proc rw\n")
    pc = write(tmp_path / "cgroup", "0::/\n")
    part, why = cgroup.probe(1, 1 << 29, "hb-test", [0], mountinfo=mi,
                             proc_cgroup=pc)
    assert part is None
    assert why == "no cgroup v2 mount; no cgroup v1 hierarchy with cpuset,memory"
