"""A token bucket per source (pure: time is an argument), so a stuck foot switch or a flooding sender
cannot queue hundreds of GOs and stops while every other input stays answered."""

from __future__ import annotations

from dataclasses import dataclass, field

from showcontrol.control.commands import Reply, error

RATE_PER_S = 10.0  # a person pressing, or a desk firing a cue stack, is far below this
BURST = 10
MAX_SOURCES = 1024  # the buckets of a spoofing flood are forgotten, not kept forever
TOO_MANY: Reply = error(f"too many commands: at most {RATE_PER_S:g} a second from one sender")  # what a command over the limit gets


@dataclass
class RateLimit:
    rate_per_s: float = RATE_PER_S
    burst: int = BURST
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # source -> (tokens, at_s)

    def allow(self, source: str, now_s: float) -> bool:
        """Whether one more command from `source` is taken now."""
        tokens, at_s = self._buckets.get(source, (float(self.burst), now_s))
        tokens = min(float(self.burst), tokens + max(0.0, now_s - at_s) * self.rate_per_s)
        if len(self._buckets) >= MAX_SOURCES and source not in self._buckets:
            self._buckets.clear()
        if tokens < 1:
            self._buckets[source] = (tokens, now_s)
            return False
        self._buckets[source] = (tokens - 1, now_s)
        return True
