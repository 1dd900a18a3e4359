"""The lab part's scratch file system (ext4 on a loop device over tmpfs)
and the fio workload's use of it."""

import os

import pytest

from bench.harness import scratchfs
from bench.workloads import fio
from bench.workloads.base import Context


class Cfg:
    vcpus = 1
    memory_bytes = 512 << 20


def ctx(tmp_path, scratch=None):
    return Context(str(tmp_path), str(tmp_path / "build"), Cfg(), "lab", 1,
                   512 << 20, cache_root=str(tmp_path / "cache"),
                   scratch_root=scratch, scratch_kind=scratchfs.DESCRIPTION)


def test_fio_backing_in_cache_without_scratch(tmp_path):
    w = fio.Fio(ctx(tmp_path))
    assert w.backing.startswith(str(tmp_path / "cache") + os.sep)
    assert w.parameters()["backing_fs"] == "cache folder"


def test_fio_backing_on_scratch(tmp_path):
    (tmp_path / "s").mkdir()
    w = fio.Fio(ctx(tmp_path, str(tmp_path / "s")))
    assert w.backing == str(tmp_path / "s" / "fio" /
                            ("backing-%d.dat" % (64 << 20)))
    assert w.parameters()["backing_fs"] == scratchfs.DESCRIPTION


def test_too_small():
    with pytest.raises(ValueError):
        scratchfs.ScratchFS(8)


def test_missing_tmpfs(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("the check after the root check needs root")
    fs = scratchfs.ScratchFS(32, tmpfs=str(tmp_path / "none"))
    assert fs.mount() == "%s is missing" % (tmp_path / "none")
    assert fs.path is None


@pytest.mark.skipif(os.geteuid() != 0, reason="loop mounts need root")
def test_mount_direct_io_unmount(tmp_path):
    fs = scratchfs.ScratchFS(32, tmpfs=str(tmp_path))
    why = fs.mount()
    if why and ("loop" in why or "mount" in why):
        pytest.skip("no loop mounts here: %s" % why)
    assert why is None
    path, image = fs.path, fs.image
    try:
        assert os.path.ismount(path)
        assert os.path.getsize(image) == 32 << 20
        # direct I/O works there (the lab's tmpfs refuses it)
        import mmap
        buf = mmap.mmap(-1, 4096)
        buf.write(b"x" * 4096)
        fd = os.open(os.path.join(path, "f"),
                     os.O_CREAT | os.O_WRONLY | os.O_DIRECT, 0o644)
        try:
            assert os.write(fd, buf) == 4096
        finally:
            os.close(fd)
    finally:
        fs.unmount()
    assert not os.path.exists(path) and not os.path.exists(image)
    fs.unmount()        # twice is harmless
