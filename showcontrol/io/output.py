"""What every output shares: counters, health, and the contract with the dispatcher.

`send` is called on the dispatcher thread at the event's deadline and must return at once: fast
outputs (UDP, MIDI) do one non-blocking call, slow ones (MQTT) hand the message to their own thread.
A failure is counted, logged once per change of health and retried by the output itself; it never
raises into the dispatcher and never delays another output.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum

from showcontrol.timeline.events import Event
from showcontrol.timeline.sync import SyncPoint

log = logging.getLogger(__name__)
LATE_NS = 1_000_000  # a message that leaves more than 1 ms after its deadline counts as late


class Health(StrEnum):
    UP = "up"
    CONNECTING = "connecting"
    DOWN = "down"


@dataclass
class Counters:
    sent: int = 0
    late: int = 0
    dropped: int = 0
    errors: int = 0


@dataclass
class Status:
    health: Health = Health.CONNECTING
    last_error: str = ""
    counters: Counters = field(default_factory=Counters)


class Output(ABC):
    """A logical output bound to a device; subclasses implement `prepare`, `send` and `close`."""

    def __init__(self, name: str, latency_ms: float) -> None:
        self.name = name
        self.latency_ms = latency_ms
        self.status = Status()
        self._lock = threading.Lock()

    @abstractmethod
    def prepare(self, event: Event) -> object:
        """Build the wire message for an event once, at load time (so sending costs nothing)."""

    @abstractmethod
    def send(self, message: object, event: Event, due_ns: int) -> str:
        """Send now, without blocking; returns the result for the show log ('sent', 'queued', 'error: ...')."""

    def state(self, event: Event) -> None:  # noqa: B027 - optional hook
        """Show state (section, lyric, beat, end) for outputs that publish it; most ignore it."""

    def transport(self, state: str, song_id: str, position: str, sync: SyncPoint) -> None:  # noqa: B027 - optional hook
        """Transport changes (playing, paused, stopped) for outputs that publish or follow them; `sync` is
        where playback (re)starts, for MIDI song position and MTC."""

    def audio(self, health: str) -> None:  # noqa: B027 - optional hook
        """The audio device's health (ok, lost, stalled) for outputs that publish it: performers must know
        when the track they follow is not heard."""

    def maintain(self) -> None:  # noqa: B027 - optional hook
        """Called by the supervisor thread about twice a second: reconnect, keep-alives."""

    def panic(self) -> None:  # noqa: B027 - optional hook
        """Silence whatever this output left sounding (MIDI all notes off) when the show stops."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the device."""

    def mark(self, health: Health, error: str = "") -> None:
        """Record a change of health, logging only transitions (a dead host must not flood the log)."""
        with self._lock:
            changed = health is not self.status.health
            self.status.health = health
            if error:
                self.status.last_error = error
        if changed:
            (log.warning if health is Health.DOWN else log.info)("output %s is %s%s", self.name, health, f": {error}" if error else "")

    def count_error(self, error: str) -> str:
        self.status.counters.errors += 1
        self.mark(Health.DOWN, error)
        return f"error: {error}"
