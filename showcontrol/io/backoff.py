"""When to try a device again: the one reconnect policy of every output and of the monitor.

Waits double from a first one up to a longest one, and each is drawn within ±20 % of that, so that the
outputs and monitors that lost one broker or console together do not all knock again in one instant
when it returns (a broker rebooting under forty monitors). Success resets it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

JITTER = 0.2


@dataclass
class Backoff:
    first_s: float
    longest_s: float
    _attempt: int = field(default=0, init=False)
    _random: random.Random = field(default_factory=random.Random, init=False, repr=False)

    def next_s(self) -> float:
        """The wait before the next attempt (each call is one more failed attempt)."""
        wait = min(self.first_s * 2.0 ** min(self._attempt, 32), self.longest_s)
        self._attempt += 1
        return wait * self._random.uniform(1 - JITTER, 1 + JITTER)

    def reset(self) -> None:
        """After a success: the next failure waits the first wait again."""
        self._attempt = 0
