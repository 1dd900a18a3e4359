"""iperf3: TCP throughput with 1 and 4 streams in both directions, between
the workload side and an iperf3 server in a network namespace that the
harness creates and joins to the host through a veth pair."""

import os
import shutil
import subprocess
import time

from . import netns
from .base import Metric, Workload, WorkloadError, json_from, number

SIZES = {"quick": (3, 1), "full": (20, 2)}      # seconds, omitted seconds
STREAMS = (1, 4)
DIRECTIONS = (("send", []), ("recv", ["-R"]))
PORT = 5201


class Iperf3(Workload):
    name = "iperf3"
    description = "iperf3 TCP through a veth pair into a network namespace"
    # A guest's NIC must reach the server's namespace; the guest runner
    # (bench/harness/lab.py) has no network attachment yet.
    environments = ("bare", "partitioned")

    def __init__(self, ctx):
        super().__init__(ctx)
        self.seconds, self.omit = SIZES[ctx.size]
        self.net = None
        self.server = None
        self._jobs = {}
        for direction, flags in DIRECTIONS:
            for n in STREAMS:
                job = "tcp-%s-p%d" % (direction, n)
                self._jobs[job] = (n, flags)
                self.metrics[job + ".throughput"] = Metric(
                    "Gbit/s", "higher", headline=True,
                    description="received throughput")
                self.metrics[job + ".retransmits"] = Metric(
                    "count", "lower", description="TCP retransmits")

    def unavailable(self):
        for tool in ("iperf3", "ip"):
            if not shutil.which(tool):
                return "%s is not installed (run ci/install-deps)" % tool
        if os.geteuid() != 0:
            return "creating a network namespace needs root"
        return None

    def supports(self, env_name):
        if env_name in ("virtualized", "peer"):
            return ("iperf3 in a guest needs the guest runner to attach its "
                    "NIC to the server's namespace (not defined yet)")
        return super().supports(env_name)

    def parameters(self):
        p = {"seconds": self.seconds, "omit_seconds": self.omit,
             "port": PORT}
        if self.net:
            p.update(self.net.describe())
        return p

    def prepare(self):
        self.net = netns.Pair("hb%d" % os.getpid())
        self.net.create()
        self.server = subprocess.Popen(
            self.net.exec_argv(["iperf3", "-s", "-B", self.net.ns_addr,
                                "-p", str(PORT)]),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + 10
        while not self.net.listening(PORT):
            if self.server.poll() is not None:
                err = self.server.stderr.read().decode(errors="replace")
                raise WorkloadError("iperf3 server exited: %s"
                                    % (err.strip().splitlines() or ["?"])[-1])
            if time.monotonic() > deadline:
                raise WorkloadError("iperf3 server did not listen in 10 s")
            time.sleep(0.1)

    def estimate(self, job):
        return self.seconds + self.omit + 1.0

    def jobs(self):
        return list(self._jobs)

    def argv(self, job):
        n, flags = self._jobs[job]
        return ["iperf3", "-c", self.net.ns_addr, "-p", str(PORT),
                "-t", str(self.seconds), "-O", str(self.omit),
                "-P", str(n), "-J", "--connect-timeout", "5000"] + flags

    def run(self, job, env):
        if self.server.poll() is not None:
            raise WorkloadError("iperf3 server is gone (status %d)"
                                % self.server.returncode)
        done = env.run(self.argv(job), self.seconds + self.omit + 60)
        # iperf3 -J exits 0 even when the connection is refused: the JSON's
        # error key is what tells.
        doc = json_from(done.stdout, "iperf3") if done.stdout.strip() \
            else None
        if isinstance(doc, dict) and doc.get("error"):
            raise WorkloadError("iperf3: %s" % doc["error"])
        problem = done.failure()
        if problem:
            raise WorkloadError(problem)
        return parse(job, self._jobs[job][0], doc)

    def finish(self):
        if self.server is not None:
            if self.server.poll() is None:
                os.killpg(self.server.pid, 9)
            self.server.wait()
            self.server.stderr.close()
            self.server = None
        if self.net is not None:
            self.net.destroy()
            self.net = None


def parse(job, streams, doc):
    """iperf3 client JSON -> {metric: value}."""
    if not isinstance(doc, dict):
        raise WorkloadError("iperf3 printed no JSON")
    if doc.get("error"):
        raise WorkloadError("iperf3: %s" % doc["error"])
    end = doc.get("end")
    if not isinstance(end, dict):
        raise WorkloadError("iperf3 JSON lacks end")
    received = end.get("sum_received")
    sent = end.get("sum_sent")
    if not isinstance(received, dict) or not isinstance(sent, dict):
        raise WorkloadError("iperf3 JSON lacks sum_received/sum_sent")
    got = doc.get("start", {}).get("test_start", {}).get("num_streams")
    if got != streams:
        raise WorkloadError("iperf3 ran %r streams, expected %d"
                            % (got, streams))
    bps = number(received.get("bits_per_second"), "iperf3 bits_per_second")
    if bps <= 0:
        raise WorkloadError("iperf3 moved no data")
    out = {job + ".throughput": bps / 1e9}
    if "retransmits" in sent:
        out[job + ".retransmits"] = number(sent["retransmits"],
                                           "iperf3 retransmits")
    return out
