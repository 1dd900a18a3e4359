"""A network namespace joined to the host by a veth pair, for iperf3.

The /30 used is chosen among 10.213.N.0/30 so that it overlaps no address
or route the host already has.  destroy() removes the namespace (which
takes the veth pair with it) and is safe to call more than once.
"""

import ipaddress
import subprocess

from bench.harness import kmod

from .base import WorkloadError

CANDIDATES = [ipaddress.ip_network("10.213.%d.%d/30" % (n // 64, (n % 64) * 4))
              for n in range(0, 256)]


def _ip(args, check=True):
    done = subprocess.run(["ip"] + args, capture_output=True, text=True,
                          timeout=30, check=False)
    if check and done.returncode != 0:
        raise WorkloadError("ip %s: %s" % (" ".join(args),
                                           done.stderr.strip() or "failed"))
    return done


def used_networks():
    nets = []
    for args in (["-4", "-o", "addr", "show"], ["-4", "route", "show",
                                                 "table", "all"]):
        for line in _ip(args).stdout.splitlines():
            for word in line.split():
                if "/" in word or word[:1].isdigit():
                    try:
                        nets.append(ipaddress.ip_network(word, strict=False))
                    except ValueError:
                        pass
    return nets


def pick_network(used):
    for net in CANDIDATES:
        if not any(net.overlaps(u) for u in used if u.prefixlen > 0):
            return net
    raise WorkloadError("no free 10.213.x.x/30 for the iperf3 namespace")


class Pair:
    def __init__(self, tag):
        self.ns = "%s-ns" % tag
        self.host_if = "%sh" % tag
        self.ns_if = "%sn" % tag
        if len(self.host_if) > 15:
            raise WorkloadError("interface name too long: %s" % self.host_if)
        self.net = None
        self.host_addr = self.ns_addr = None
        self.created = False

    def describe(self):
        return {"netns": self.ns, "network": str(self.net),
                "host_addr": self.host_addr, "server_addr": self.ns_addr}

    def create(self, build=None):
        kmod.load("veth", build)   # the lab kernel has it as a module
        self.net = pick_network(used_networks())
        hosts = list(self.net.hosts())
        self.host_addr, self.ns_addr = str(hosts[0]), str(hosts[1])
        prefix = self.net.prefixlen
        _ip(["netns", "add", self.ns])
        self.created = True
        try:
            _ip(["link", "add", self.host_if, "type", "veth", "peer", "name",
                 self.ns_if, "netns", self.ns])
            _ip(["addr", "add", "%s/%d" % (self.host_addr, prefix),
                 "dev", self.host_if])
            _ip(["link", "set", self.host_if, "up"])
            for args in (["addr", "add", "%s/%d" % (self.ns_addr, prefix),
                          "dev", self.ns_if],
                         ["link", "set", self.ns_if, "up"],
                         ["link", "set", "lo", "up"]):
                _ip(["-n", self.ns] + args)
        except WorkloadError:
            self.destroy()
            raise

    def exec_argv(self, argv):
        return ["ip", "netns", "exec", self.ns] + list(argv)

    def listening(self, port):
        done = subprocess.run(self.exec_argv(
            ["ss", "-Hltn", "sport", "=", ":%d" % port]),
            capture_output=True, text=True, timeout=10, check=False)
        return done.returncode == 0 and bool(done.stdout.strip())

    def destroy(self):
        if not self.created:
            return
        _ip(["link", "del", self.host_if], check=False)
        _ip(["netns", "del", self.ns], check=False)
        self.created = False
