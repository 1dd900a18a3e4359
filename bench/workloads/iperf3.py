"""iperf3: TCP throughput with 1 and 4 streams in both directions, between
the workload side and an iperf3 server in a network namespace that the
harness creates and joins to the host through a veth pair.

The same command runs everywhere: one shell running the four iperf3
clients in turn against the server's address, each client's JSON
followed by a marker line with its exit status.  Bare metal and the
partition reach the server through the veth pair; a guest gets a NIC on
a tap inside the server's namespace (run-workload --net), routed to the
server's address, so it too talks to the server over one virtual link.
Sizes: lab (2-second tests), quick, full."""

import os
import shutil
import subprocess
import time

from . import netns
from .base import Metric, Workload, WorkloadError, json_from, number

SIZES = {"lab": (2, 1), "quick": (3, 1), "full": (20, 2)}  # seconds, omitted
MARK = "==iperf3-exit"
STREAMS = (1, 4)
DIRECTIONS = (("send", []), ("recv", ["-R"]))
PORT = 5201


class Iperf3(Workload):
    name = "iperf3"
    description = "iperf3 TCP into a network namespace (veth, or a guest's tap)"

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

    def parameters(self):
        p = {"seconds": self.seconds, "omit_seconds": self.omit,
             "port": PORT}
        if self.net:
            p.update(self.net.describe())
        return p

    def prepare(self):
        self.net = netns.Pair("hb%d" % os.getpid())
        self.net.create(self.ctx.build)
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
        return len(self._jobs) * (self.seconds + self.omit + 1.0)

    def jobs(self):
        return ["all"]

    def argv(self):
        """One shell command running every test in turn."""
        script = []
        for job, (n, flags) in self._jobs.items():
            script.append(
                "iperf3 -c %s -p %d -t %d -O %d -P %d -J --connect-timeout "
                "5000 %s; echo; echo '%s %s' $?" % (
                    self.net.ns_addr, PORT, self.seconds, self.omit, n,
                    " ".join(flags), MARK, job))
        return ["sh", "-c", "\n".join(script)]

    def run(self, job, env):
        if self.server.poll() is not None:
            raise WorkloadError("iperf3 server is gone (status %d)"
                                % self.server.returncode)
        env.use_netns(self.net.ns)
        done = env.run(self.argv(),
                       len(self._jobs) * (self.seconds + self.omit + 20) + 60)
        # iperf3 -J exits 0 even when the connection is refused: the JSON's
        # error key is what tells (parse_all checks it first).
        out = parse_all(self._jobs, done.stdout)
        problem = done.failure()
        if problem:
            raise WorkloadError(problem)
        return out

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


def parse_all(specs, text):
    """The output of argv()'s script -> {metric: value}: each job's JSON
    followed by its marker line; every job of SPECS exactly once."""
    out, seen, body = {}, [], []
    for line in text.splitlines():
        if line.startswith(MARK + " "):
            words = line.split()
            if len(words) != 3 or words[1] not in specs:
                raise WorkloadError("iperf3: bad marker line %r" % line)
            job, status = words[1], words[2]
            chunk = "\n".join(body).strip()
            body = []
            doc = json_from(chunk, "iperf3 " + job) if chunk else None
            if isinstance(doc, dict) and doc.get("error"):
                raise WorkloadError("iperf3 %s: %s" % (job, doc["error"]))
            if status != "0":
                raise WorkloadError("iperf3 %s exited with status %s"
                                    % (job, status))
            out.update(parse(job, specs[job][0], doc))
            seen.append(job)
        else:
            body.append(line)
    if sorted(seen) != sorted(specs):
        raise WorkloadError("iperf3 ran %s, expected %s"
                            % (",".join(seen) or "nothing", ",".join(specs)))
    return out


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
