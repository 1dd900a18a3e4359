"""Benchmark configurations: bench/configs/NAME.ini, parsed and validated.

A configuration names the guest shape (vCPUs, memory), the workloads, how
many repetitions each gets and the workload size.  An optional [lab]
section says how the lab runs them (repetitions, size; defaults 1 and
"lab"): where the host cannot run Linux guests, the virtualized and peer
environments run inside the lab (QEMU TCG), many times slower than the
host, next to a lab bare-metal baseline.  Every problem is reported
as a ConfigError whose message fits on one line and names the file.
"""

import configparser
import os
import re

ENVIRONMENTS = ("bare", "partitioned", "virtualized", "peer")
SIZES = ("lab", "quick", "full")    # lab: smallest, for the lab (TCG)
MAX_REPETITIONS = 1000
MAX_VCPUS = 1024

_CONFIG_KEYS = {"vcpus", "memory", "workloads", "repetitions", "size",
                "environments"}
_WORKLOAD_KEYS = {"repetitions", "size"}
_LAB_KEYS = {"repetitions", "size"}
LAB_DEFAULTS = {"repetitions": 1, "size": "lab"}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_MEM_RE = re.compile(r"^([0-9]+)\s*([KMGT]?)(i?B)?$", re.IGNORECASE)
_MEM_SHIFT = {"": 20, "K": 10, "M": 20, "G": 30, "T": 40}


class ConfigError(Exception):
    """A configuration is unusable; str() is a one-line message."""


class Config:
    """A validated configuration."""

    def __init__(self, name, path, vcpus, memory_bytes, workloads,
                 repetitions, size, environments, per_workload, lab=None):
        self.name = name
        self.path = path
        self.vcpus = vcpus
        self.memory_bytes = memory_bytes
        self.workloads = workloads
        self.repetitions = repetitions
        self.size = size
        self.environments = environments
        self._per_workload = per_workload
        self.lab = dict(lab or LAB_DEFAULTS)

    @property
    def memory_mib(self):
        return self.memory_bytes >> 20

    def repetitions_for(self, workload):
        return self._per_workload.get(workload, {}).get(
            "repetitions", self.repetitions)

    def size_for(self, workload):
        return self._per_workload.get(workload, {}).get("size", self.size)

    def to_json(self):
        return {
            "name": self.name,
            "vcpus": self.vcpus,
            "memory_bytes": self.memory_bytes,
            "size": self.size,
            "repetitions": self.repetitions,
            "workloads": [
                {"name": w, "repetitions": self.repetitions_for(w),
                 "size": self.size_for(w)} for w in self.workloads],
            "environments": list(self.environments),
            "lab": dict(self.lab),
        }


def parse_memory(text):
    """'512M', '1G', '2GiB', '1024' (MiB) -> bytes."""
    m = _MEM_RE.match(text.strip())
    if not m:
        raise ValueError("not a size like 512M or 2G: %r" % text)
    value = int(m.group(1)) << _MEM_SHIFT[m.group(2).upper()]
    if value < (16 << 20):
        raise ValueError("memory below 16 MiB: %r" % text)
    return value


def _int(text, lo, hi, what):
    try:
        value = int(text.strip(), 10)
    except ValueError:
        raise ValueError("%s is not an integer: %r" % (what, text)) from None
    if not lo <= value <= hi:
        raise ValueError("%s must be %d..%d, not %d" % (what, lo, hi, value))
    return value


def _size(text, what):
    value = text.strip()
    if value not in SIZES:
        raise ValueError("%s must be one of %s, not %r"
                         % (what, "/".join(SIZES), value))
    return value


def config_path(configs_dir, name):
    """Where configuration NAME lives, or ConfigError."""
    if not _NAME_RE.match(name):
        raise ConfigError("bad configuration name %r" % name)
    path = os.path.join(configs_dir, name + ".ini")
    if not os.path.isfile(path):
        known = sorted(f[:-4] for f in os.listdir(configs_dir)
                       if f.endswith(".ini")) if os.path.isdir(configs_dir) \
            else []
        raise ConfigError("no configuration %r in %s (known: %s)"
                          % (name, configs_dir, ", ".join(known) or "none"))
    return path


def load(path, known_workloads, name=None):
    """Parse and validate the INI file at PATH.

    known_workloads: names the workload registry offers; any other name in
    the file is an error.
    """
    if name is None:
        name = os.path.basename(path)
        if name.endswith(".ini"):
            name = name[:-4]
    parser = configparser.ConfigParser(interpolation=None,
                                       inline_comment_prefixes=("#", ";"))
    try:
        with open(path, encoding="utf-8") as f:
            parser.read_file(f)
    except OSError as e:
        raise ConfigError("%s: %s" % (path, e.strerror)) from None
    except configparser.Error as e:
        msg = " ".join(str(e).split())
        raise ConfigError("%s: %s" % (path, msg)) from None
    try:
        return _validate(parser, path, name, known_workloads)
    except ValueError as e:
        raise ConfigError("%s: %s" % (path, e)) from None


def _validate(parser, path, name, known_workloads):
    if not _NAME_RE.match(name):
        raise ValueError("bad configuration name %r" % name)
    if not parser.has_section("config"):
        raise ValueError("missing [config] section")
    sec = parser["config"]
    unknown = set(sec.keys()) - _CONFIG_KEYS
    if unknown:
        raise ValueError("[config]: unknown key %s" % sorted(unknown)[0])
    for key in ("vcpus", "memory", "workloads", "repetitions"):
        if key not in sec:
            raise ValueError("[config]: missing key %s" % key)
    vcpus = _int(sec["vcpus"], 1, MAX_VCPUS, "vcpus")
    memory = parse_memory(sec["memory"])
    reps = _int(sec["repetitions"], 1, MAX_REPETITIONS, "repetitions")
    size = _size(sec.get("size", "quick"), "size")
    workloads = sec["workloads"].split()
    if not workloads:
        raise ValueError("[config]: workloads is empty")
    for w in workloads:
        if w not in known_workloads:
            raise ValueError("unknown workload %r (known: %s)"
                             % (w, ", ".join(sorted(known_workloads))))
    if len(set(workloads)) != len(workloads):
        raise ValueError("a workload is listed twice")
    envs = sec.get("environments", " ".join(ENVIRONMENTS)).split()
    for e in envs:
        if e not in ENVIRONMENTS:
            raise ValueError("unknown environment %r (known: %s)"
                             % (e, ", ".join(ENVIRONMENTS)))
    if "bare" not in envs:
        raise ValueError("environments must include bare (the reference)")
    per = {}
    lab = dict(LAB_DEFAULTS)
    for section in parser.sections():
        if section == "config":
            continue
        if section == "lab":
            s = parser[section]
            unknown = set(s.keys()) - _LAB_KEYS
            if unknown:
                raise ValueError("[lab]: unknown key %s" % sorted(unknown)[0])
            if "repetitions" in s:
                lab["repetitions"] = _int(s["repetitions"], 1,
                                          MAX_REPETITIONS,
                                          "[lab] repetitions")
            if "size" in s:
                lab["size"] = _size(s["size"], "[lab] size")
            continue
        if not section.startswith("workload."):
            raise ValueError("unknown section [%s]" % section)
        w = section[len("workload."):]
        if w not in workloads:
            raise ValueError("[%s]: workload %r is not in workloads"
                             % (section, w))
        s = parser[section]
        unknown = set(s.keys()) - _WORKLOAD_KEYS
        if unknown:
            raise ValueError("[%s]: unknown key %s"
                             % (section, sorted(unknown)[0]))
        entry = {}
        if "repetitions" in s:
            entry["repetitions"] = _int(s["repetitions"], 1, MAX_REPETITIONS,
                                        "[%s] repetitions" % section)
        if "size" in s:
            entry["size"] = _size(s["size"], "[%s] size" % section)
        per[w] = entry
    return Config(name, path, vcpus, memory, workloads, reps, size,
                  tuple(e for e in ENVIRONMENTS if e in envs), per, lab)
