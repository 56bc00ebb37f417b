"""What every output shares: counters, health, and the contract with the dispatcher.

`send` is called on the dispatcher thread at the event's deadline and must return at once: fast
outputs (UDP, MIDI) do one non-blocking call, slow ones (MQTT) hand the message to their own thread.
A failure is counted, logged once per change of health and retried by the output itself; it never
raises into the dispatcher and never delays another output.

The seam is a template, as mido's `BaseOutput.send` -> `_send`: `send` keeps the books once for every
output (nothing to send on -> dropped; an exception -> an error, the output marked down; sent counted),
and a subclass writes `_send` for its one device, with the message type it prepared (`OutputOf[bytes]`).
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from showcontrol.codec.monitor import SetSong
from showcontrol.timeline.events import Event
from showcontrol.timeline.sync import SyncPoint

log = logging.getLogger(__name__)
LATE_NS = 1_000_000  # a message that leaves more than 1 ms after its deadline counts as late


class Health(StrEnum):
    UP = "up"
    CONNECTING = "connecting"
    DOWN = "down"


class Outcome(StrEnum):
    SENT = "sent"  # on the wire (UDP, MIDI, the MQTT cue line)
    QUEUED = "queued"  # handed to the output's own thread, which accounts for it later
    DROPPED = "dropped"  # never sent, on purpose: nothing to send on, a full queue
    ERROR = "error"  # the device refused it


class Result(str):
    """What became of one message at its hand-over: an `outcome` and its `reason`.

    It is also the words that operators and tools read in the show log (`sent`, `queued (down)`,
    `dropped: queue full`, `error: 10.0.0.5:8000: Connection refused`), which is why it is a string:
    the dispatcher and the log take it as they always did."""

    outcome: Outcome
    reason: str

    def __new__(cls, outcome: Outcome, reason: str = "") -> Result:
        if not reason:
            words = outcome.value
        elif outcome is Outcome.QUEUED:
            words = f"queued ({reason})"
        else:
            words = f"{outcome.value}: {reason}"
        result = super().__new__(cls, words)
        result.outcome, result.reason = outcome, reason
        return result


SENT = Result(Outcome.SENT)  # made once: the common results cost the dispatcher no allocation
QUEUED = Result(Outcome.QUEUED)


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


M = TypeVar("M")  # the message an output prepares for an event at load time


class OutputOf(ABC, Generic[M]):
    """A logical output bound to a device; subclasses implement `prepare`, `_send` and `close`."""

    def __init__(self, name: str, latency_ms: float) -> None:
        self.name = name
        self.latency_ms = latency_ms
        self.status = Status()
        self._lock = threading.Lock()

    @abstractmethod
    def prepare(self, event: Event) -> M:
        """Build the wire message for an event once, at load time (so sending costs nothing)."""

    def send(self, message: M, event: Event, due_ns: int) -> Result:
        """Send now, without blocking, and count what became of it; never raises."""
        unavailable = self._unavailable()
        if unavailable is not None:
            return self.count(Result(Outcome.DROPPED, unavailable))
        try:
            result = self._send(message, event, due_ns)
        except Exception as error:  # whatever a device library throws, the dispatcher goes on
            result = Result(Outcome.ERROR, str(error) or type(error).__name__)
        return self.count(result)

    def _send(self, message: M, event: Event, due_ns: int) -> Result:
        """The one method a subclass writes: hand `message` to the device now (exceptions are errors)."""
        raise NotImplementedError(f"{type(self).__name__} sends nothing")

    def _unavailable(self) -> str | None:
        """Why nothing can be sent now (no port, no socket), or None."""
        return None

    def count(self, result: Result) -> Result:
        """The books for one result: sent, dropped, or an error that marks the output down."""
        counters = self.status.counters
        if result.outcome is Outcome.SENT:
            counters.sent += 1
        elif result.outcome is Outcome.DROPPED:
            counters.dropped += 1
        elif result.outcome is Outcome.ERROR:
            counters.errors += 1
            self.mark(Health.DOWN, result.reason)
        return result

    def state(self, event: Event) -> None:
        """Show state (section, lyric, beat, end) for outputs that publish it; most ignore it."""

    def transport(self, state: str, song_id: str, position: str, sync: SyncPoint) -> None:
        """Transport changes (playing, paused, stopped) for outputs that publish or follow them; `sync` is
        where playback (re)starts, for MIDI song position and MTC."""

    def next_song(self, song_id: str, next_song: str | None) -> None:
        """The song open and the set list's next one (None: the last), for outputs that tell performers."""

    def set_list(self, songs: tuple[SetSong, ...]) -> None:
        """The whole set with the playing and the standby song, for outputs that tell remotes and performers."""

    def audio(self, health: str) -> None:
        """The audio device's health (ok, lost, stalled) for outputs that publish it: performers must know
        when the track they follow is not heard."""

    def maintain(self) -> None:
        """Called by the supervisor thread about twice a second: reconnect, keep-alives."""

    def panic(self) -> None:
        """Silence whatever this output left sounding (MIDI all notes off) when the show stops."""

    def close(self) -> None:
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

    def count_error(self, error: str) -> Result:
        return self.count(Result(Outcome.ERROR, error))


Output = OutputOf[Any]  # any output, as the dispatcher and the runner hold them
