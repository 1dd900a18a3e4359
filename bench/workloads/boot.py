"""boot: how long a VMM takes from its process start to the guest's init
running the workload, and how much memory the VMM keeps beyond the guest's
RAM.  Each sample boots the standard Linux guest (guests/linux) through
guests/linux/run-workload --stats with the configuration's vCPUs and memory
and runs `true` in it.

init.seconds        VMM process start to the guest's init starting its
                    script (after the guest loaded its modules), on the
                    host's clock, from the timestamped console
vmm_overhead.mib    the VMM's resident memory (smaps Rss) beyond the
                    resident part of the guest's RAM mapping, sampled when
                    the guest's init runs
guest_init.seconds  the guest's own uptime at that moment (kernel start to
                    init), not a headline

Bare metal and the partition have no VMM: boot reports them skipped.
"""

import os

from .base import Metric, Workload, WorkloadError, number, read_json, remove


class Boot(Workload):
    name = "boot"
    description = "VMM start to guest init; VMM memory beyond guest RAM"
    environments = ("virtualized", "peer")
    baselines = {"virtualized": "peer"}     # bare metal boots no VMM

    def __init__(self, ctx):
        super().__init__(ctx)
        self.stats = ctx.cache("boot", "stats-%d.json" % os.getpid())
        self.metrics["init.seconds"] = Metric(
            "s", "lower", headline=True,
            description="VMM process start to the guest's init")
        self.metrics["vmm_overhead.mib"] = Metric(
            "MiB", "lower", headline=True,
            description="VMM resident memory beyond the guest's RAM")
        self.metrics["guest_init.seconds"] = Metric(
            "s", "lower", description="guest uptime when init ran")

    def supports(self, env_name):
        if env_name not in self.environments:
            return "boot measures a VMM starting a guest; %s has no VMM" \
                % env_name.replace("-", " ")
        return None

    def estimate(self, job):
        return 40.0

    def jobs(self):
        return ["true"]

    def parameters(self):
        return {"command": ["true"], "guest": "guests/linux (standard)"}

    def run(self, job, env):
        remove(self.stats)
        done = env.run(["true"], 300, stats=self.stats)
        if done.failure():
            raise WorkloadError(done.failure())
        return parse(read_json(self.stats, "run-workload --stats"))

    def finish(self):
        remove(self.stats)


def parse(doc):
    """run-workload --stats JSON -> {metric: value}."""
    if not isinstance(doc, dict):
        raise WorkloadError("boot figures are not a JSON object")
    ram = number(doc.get("guest_ram_rss_kib"), "guest_ram_rss_kib")
    total = number(doc.get("vmm_rss_kib"), "vmm_rss_kib")
    if ram <= 0 or total < ram:
        raise WorkloadError("boot figures: no guest RAM mapping found in the "
                            "VMM (rss %d KiB, guest RAM %d KiB)"
                            % (total, ram))
    return {
        "init.seconds": number(doc.get("boot_seconds"), "boot_seconds"),
        "vmm_overhead.mib": (total - ram) / 1024.0,
        "guest_init.seconds": number(doc.get("guest_uptime_at_init"),
                                     "guest_uptime_at_init"),
    }
