"""The lab part of a benchmark run, for hosts whose /dev/kvm cannot run a
stock Linux guest (this project's kvm_pvm).

The runner runs bare metal and the partition on the host as usual, then
boots the lab once (guests/lab/run-in-lab) and runs inside it

    bench/run --lab-part -c CONFIG -e ENVS -w WORKLOADS -r N -s SIZE ...

which runs the same workload code in the lab's own bare metal (lab-bare,
the baseline of the lab rows), under hyve (virtualized) and under QEMU
with KVM (peer), with the configuration's [lab] repetitions and size, and
writes an ordinary result file to the lab's results share.  merge() then
folds its environments into the host's result: the lab's virtualized and
peer rows are compared with lab-bare, never with the host's bare metal.
Workloads that have no guest side (exits, ipi: they measure hyve against
the KVM floor on the host's own /dev/kvm) do not run in the lab.
"""

import json
import os
import re
import subprocess
import sys
import time

from . import lab

LAB_BARE = "lab-bare"
LAB_TIMEOUT = 2 * 3600      # the whole lab boot; each guest has its own
PREREQ_TIMEOUT = 3600
# The lines of the lab's console relayed: the lab part's progress and
# notes, run-in-lab's own (not the kernel's).
PROGRESS = re.compile(r"^(\[\d+/\d+\] |bench: |lab: )")


def lab_workloads(workloads, lab_envs):
    """-> ([names that run in the lab], {name: why not}).  Decided by the
    environments a workload has, not by supports(): what a guest needs
    (the buildworld image) is built only for the workloads chosen here, and
    the lab part asks supports() itself."""
    run, skip = [], {}
    for name, w in workloads:
        if any(e in w.environments for e in lab_envs):
            run.append(name)
        else:
            skip[name] = ("%s has no guest side; it does not run in the lab"
                          % name)
    return run, skip


def prerequisites(repo, build, names, note):
    """Build what the lab needs but cannot write itself (the build folder
    is read-only there): the Linux guest, and the buildworld image when
    buildworld runs.  -> None, or a one-line reason."""
    steps = [[os.path.join(repo, "guests/linux/build-linux-guest"), build]]
    if "buildworld" in names:
        steps.append([os.path.join(repo,
                                   "guests/linux/build-buildworld-image"),
                      build])
    for argv in steps:
        note("building %s" % os.path.relpath(argv[0], repo))
        try:
            done = subprocess.run(argv, cwd=repo, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True,
                                  timeout=PREREQ_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            return "%s timed out" % os.path.basename(argv[0])
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["failed"])[-1]
            return "%s: %s" % (os.path.basename(argv[0]), tail)
    return None


def command(repo, build, cfg, envs, names, reps, size, outdir):
    inner = ["/usr/bin/python3", os.path.join(repo, "bench", "run"),
             "--lab-part", "-c", cfg.path, "-e", ",".join(envs),
             "-w", ",".join(names), "-r", str(reps), "-s", size,
             "-o", os.path.join(outdir, "result"),
             "--cache", os.path.join(outdir, "cache"), "-B", build, "-q"]
    return [os.path.join(repo, lab.RUN_IN_LAB), "-v", "-t", str(LAB_TIMEOUT),
            "-m", str(lab.lab_memory_mib(cfg)),
            "-C", repo, "-o", outdir,       # run-in-lab's one lab CPU
            "--"] + inner


def run(repo, build, argv, note):
    """Run the lab; relay its progress lines.  -> (status, seconds)."""
    t0 = time.monotonic()
    env = dict(os.environ, BUILD=build)
    proc = subprocess.Popen(argv, cwd=repo, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors="replace",
                            start_new_session=True)
    try:
        for line in proc.stdout:
            line = line.rstrip("\r\n")
            if PROGRESS.match(line):
                sys.stderr.write("lab | %s\n" % line)
                sys.stderr.flush()
        proc.wait()
    except BaseException:
        proc.terminate()    # run-in-lab stops QEMU on TERM
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        raise
    return proc.returncode, time.monotonic() - t0


def load_inner(outdir):
    """The lab part's result file, or (None, why)."""
    folder = os.path.join(outdir, "result")
    try:
        files = sorted(f for f in os.listdir(folder) if f.endswith(".json"))
    except OSError:
        files = []
    if len(files) != 1:
        return None, "the lab part wrote %d result files" % len(files)
    try:
        with open(os.path.join(folder, files[0]), encoding="utf-8") as f:
            return json.load(f), None
    except (OSError, ValueError) as e:
        return None, "the lab part's result is unreadable: %s" % e


def merge(doc, inner, lab_envs, skipped, meta):
    """Fold the lab part INNER into DOC.  LAB_ENVS: the guest environments
    that ran in the lab; SKIPPED: {workload: why it did not run there}."""
    names = [LAB_BARE] + list(lab_envs)
    doc["lab"] = meta
    for name in lab_envs:
        doc["environments"][name]["baseline"] = LAB_BARE
    if inner is not None:
        meta["host"] = inner.get("host")
        meta["warnings"] = inner.get("warnings", [])
        for name in names:
            e = inner.get("environments", {}).get(name)
            if e is not None:
                doc["environments"][name] = dict(e, details=dict(
                    e.get("details", {}), where="lab"))
                if name != LAB_BARE:
                    doc["environments"][name]["baseline"] = LAB_BARE
    else:
        doc["environments"][LAB_BARE] = {
            "label": "lab bare metal", "status": "skipped",
            "reason": meta["reason"], "details": {"where": "lab"}}
    for wname, w in doc["workloads"].items():
        iw = (inner or {}).get("workloads", {}).get(wname)
        for name in names:
            if name in w["environments"]:
                continue    # exits reports its own virtualized figures
            if wname in skipped:
                e = {"status": "skipped", "reason": skipped[wname]}
            elif iw is None:
                e = {"status": "failed", "reason": meta.get("reason") or
                     "the lab part did not run %s" % wname}
            elif iw["environments"].get(name):
                e = iw["environments"][name]
            elif iw["status"] == "skipped":
                e = {"status": "skipped", "reason": iw.get("reason") or
                     "skipped in the lab"}
            else:
                e = {"status": "failed", "reason": "no lab figures"}
            w["environments"][name] = e
        if iw is not None:
            for m, mm in iw.get("metrics", {}).items():
                w["metrics"].setdefault(m, mm)
            w["lab"] = {"size": iw.get("size"),
                        "repetitions": iw.get("repetitions")}
            if iw.get("parameters"):
                w["lab"]["parameters"] = iw["parameters"]
        states = [e["status"] for e in w["environments"].values()]
        if "failed" in states or "ok" in states:
            w["status"] = "failed" if "failed" in states else "ok"
            if w["status"] == "ok":
                w.pop("reason", None)
        else:
            w["status"] = "skipped"
            w.setdefault("reason", "no environment could run it")
