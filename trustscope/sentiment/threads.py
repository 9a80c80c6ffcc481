"""Choosing the torch thread count from the machine's load while a training run goes on.

Why: on a shared 2-core machine two intra-op threads trained 4x slower than one once other jobs
held the load above the core count (the threads wait on each other at every barrier), while on a
quiet machine two are ~1.6x faster than one. A long fine-tune sees both, so it re-decides every
few dozen steps from the 1-minute load average minus its own share.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class AdaptiveThreads:
    """Switch between 1 and ``max_threads`` torch threads by the load other processes put on the cores."""

    max_threads: int = 2
    busy_above: float = 1.5  # others' load above this -> 1 thread
    quiet_below: float = 0.7  # others' load below this -> max_threads (hysteresis)
    current: int = 0

    def decide(self, load1: float) -> int:
        """Thread count for the next stretch of steps, given the 1-minute load average."""
        mine = self.current or self.max_threads
        others = max(0.0, load1 - mine)
        if others > self.busy_above:
            return 1
        if others < self.quiet_below:
            return self.max_threads
        return mine

    def update(self, log=None) -> int:
        """Apply :meth:`decide` to torch; logs one line when the count changes."""
        import torch

        n = self.decide(os.getloadavg()[0])
        if n != self.current:
            torch.set_num_threads(n)
            if log is not None and self.current:
                log(f"torch threads {self.current} -> {n} (load {os.getloadavg()[0]:.1f})")
            self.current = n
        return n
