"""What each remote input did with what it was sent, for the run's end report: commands taken, refused
(answered with an error), and dropped (from an address not allowed, malformed, over the rate limit)."""

from __future__ import annotations

from dataclasses import dataclass

from showcontrol.control.commands import Reply
from showcontrol.control.rate import TOO_MANY


@dataclass
class InputCounts:
    taken: int = 0  # carried out (or answered, for status)
    refused: int = 0  # read, and answered with an error: not possible now, an unknown verb, a wrong token
    not_allowed: int = 0  # dropped unanswered: from an address the patch does not allow
    malformed: int = 0  # not a command the input can read at all
    rate_limited: int = 0  # over the rate limit: answered "too many commands", never applied

    def count(self, reply: Reply) -> None:
        """One command answered by the controller."""
        if reply == TOO_MANY:
            self.rate_limited += 1
        elif reply.ok:
            self.taken += 1
        else:
            self.refused += 1

    @property
    def dropped(self) -> int:
        return self.not_allowed + self.malformed + self.rate_limited

    def text(self) -> str:
        """`taken 3, refused 1, dropped 4 (2 not allowed, 1 malformed, 1 rate-limited)`: the report's words."""
        reasons = ((self.not_allowed, "not allowed"), (self.malformed, "malformed"), (self.rate_limited, "rate-limited"))
        why = ", ".join(f"{n} {reason}" for n, reason in reasons if n)
        return f"taken {self.taken}, refused {self.refused}, dropped {self.dropped}" + (f" ({why})" if why else "")
