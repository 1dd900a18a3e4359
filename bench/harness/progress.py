"""One progress line per step on stderr: what runs, what remains."""

import sys
import time


class Progress:
    def __init__(self, total, stream=None, estimate=0.0):
        self.total = total
        self.done = 0
        self.start = time.monotonic()
        self.stream = stream or sys.stderr
        self.estimate_left = estimate   # estimated seconds of steps left
        self.estimate_done = 0.0

    def step(self, workload, job, env_label, rep, reps, estimate=0.0):
        remaining = self.total - self.done
        eta = ""
        if self.estimate_done > 0 and self.estimate_left > 0:
            # Scale the workloads' own estimates by how they fared so far.
            scale = (time.monotonic() - self.start) / self.estimate_done
            eta = ", about %s left" % _fmt(scale * self.estimate_left)
        self.estimate_left = max(0.0, self.estimate_left - estimate)
        self.estimate_done += estimate
        self.stream.write("[%d/%d] %s %s | %s | repetition %d/%d "
                          "(%d more step%s%s)\n"
                          % (self.done + 1, self.total, workload, job,
                             env_label, rep, reps, remaining - 1,
                             "" if remaining - 1 == 1 else "s", eta))
        self.stream.flush()
        self.done += 1

    def note(self, text):
        self.stream.write("bench: %s\n" % text)
        self.stream.flush()


def _fmt(seconds):
    seconds = int(seconds)
    if seconds >= 60:
        return "%dm%02ds" % (seconds // 60, seconds % 60)
    return "%ds" % seconds
