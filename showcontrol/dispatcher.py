"""The dispatcher thread: asks the scheduler (engine/scheduler.py), waits, sends and records.

Every decision (which event, its deadline on the audio clock, drains, loops, `once`, resumes) is the
scheduler's; this thread only acts on it, with a timing craft of its own. It waits on an Event until
about a millisecond before a deadline and asks again each time it wakes (so a stop or a locate takes
effect at once), then spins the rest, yielding the GIL to the audio callback until its firing window
opens (realtime.FiringWindow), from when the callback waits for the burst instead. It never computes
"time since the last event": every deadline is absolute, so error cannot accumulate. Show-log records
are built after a burst, not during it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from showcontrol.audio.clock import ClockMap
from showcontrol.describe import event_record
from showcontrol.engine.plan import STATE_KINDS, Dispatch
from showcontrol.engine.scheduler import Announce, Effect, Fire, Rebuild, Scheduler, SchedulerConfig, Seen, SkipOnce, WaitUntil
from showcontrol.engine.transport import Transport
from showcontrol.io.output import Output
from showcontrol.realtime import DISPATCHER_PRIORITY, FiringWindow, raise_priority
from showcontrol.showlog import ShowLog
from showcontrol.timeline.events import Event, Kind, Timeline
from showcontrol.timeline.sync import sync_point
from showcontrol.timeline.tempo import Rate

log = logging.getLogger(__name__)

# Other threads stand aside (FiringWindow) from this long before a deadline until the burst is sent, or
# BURST_NS after the deadline at the latest: a callback arriving then waits at most ~0.6 ms.
GUARD_NS = 300_000
BURST_NS = 300_000
LATE_NS = 1_000_000  # an event sent more than 1 ms after its deadline counts as late
# Show-log records are written this long after the last send, not at once: the network threads hand
# the sends on meanwhile, and would otherwise wait for the GIL while the records are built (MQTT
# hand-over p90 1.0 ms against ~0.2 ms, bench/timing.py).
LOG_AFTER_NS = 3_000_000
MAX_WAIT_NS = 50_000_000  # wake at least this often, whatever the scheduler said
# The furthest an event may be fired ahead of the audio the device has taken. Normal callbacks are a
# buffer ahead of the deadline, and SDL's dummy driver lags its own clock by tens of ms on a loaded
# machine (cues keep the clock through that); past this, the audio has stopped, and so do the cues.
MAX_LEAD_S = 0.1
MESSAGE_KINDS = frozenset({Kind.OSC, Kind.MIDI, Kind.MQTT, Kind.SYNC})
FOLLOW_WAIT_S = 1.0  # the longest a song handed over waits for the one before to tell its stop (a stuck output)


@dataclass
class DispatchStats:
    fired: int = 0
    late: int = 0
    max_late_ns: int = 0
    sync_sent: int = 0  # clock ticks and quarter frames sent fine: counted, not logged one by one


class AudioSource(Protocol):
    """The audio device playing now: its clock map and the frames its callback has filled."""

    clock: ClockMap | None
    frames_delivered: int

    @property
    def latency_frames(self) -> int:
        """From the device requesting a frame to that frame leaving it, as the device knows it now."""
        ...


class AudioPort(Protocol):
    """Whatever holds the audio device (audio/link.py `AudioLink`): it replaces a lost device with a new one."""

    @property
    def device(self) -> AudioSource: ...


@dataclass(frozen=True)
class DispatcherConfig:
    """What one take plays: its events, and how their frames map onto the device's time."""

    song_id: str
    timeline: Timeline  # song time in the show log, where a take from the top begins, sync points
    order: tuple[Dispatch[object], ...]  # each with its output's message, prepared before playback
    device_latency_ns: int  # beyond the device's own latency (AudioSource.latency_frames), to the frame sounding
    max_lead_frames: int  # device frames: see MAX_LEAD_S
    max_latency_frames: int = 0  # the largest output latency compensation in `order`
    on_locate: Mapping[str, str] = field(default_factory=dict)  # per output: what a located take rebuilds


@dataclass(frozen=True)
class DispatcherPorts:
    """What the dispatcher reads (the transport, the audio) and acts on (outputs, the show log)."""

    transport: Transport  # the latest segment and loop, as the audio callback took them
    audio: AudioPort
    outputs: Mapping[str, Output]
    showlog: ShowLog
    window: FiringWindow = field(default_factory=FiringWindow)  # shared with the threads that stand aside


def _spin_until(deadline_ns: int) -> None:
    """Spin on the clock, letting other threads (the audio callback) take the GIL between turns.

    time.sleep(0) would instead arm a timer and sleep on it each turn: on a VM, spin exits came p50 15 us
    and p99 0.2-1.4 ms after the deadline, against 0.6 us with sched_yield."""
    while time.monotonic_ns() < deadline_ns:
        os.sched_yield()


class Dispatcher:
    def __init__(self, config: DispatcherConfig, ports: DispatcherPorts, follows: Dispatcher | None = None) -> None:
        """`follows`: the dispatcher of the song that this one's song is armed to follow on the frame. Until this
        transport plays nothing is told (that song is the one playing), and its first word waits for that
        dispatcher to have told its own song's stop, after its last cues: two dispatchers are alive across
        the hand-over, and monitors must never get the song before's "stopped" after this one's "playing"."""
        self.config = config
        self.ports = ports
        self.sample_rate: Rate = config.timeline.sample_rate
        self.scheduler = Scheduler(
            SchedulerConfig(
                config.order,
                config.max_lead_frames,
                config.device_latency_ns,
                config.max_latency_frames,
                config.timeline.start_frame,
                config.on_locate,
            ),
            ports.transport.segment.generation if follows is not None else -1,
        )
        self._follows = follows
        self._told = threading.Condition()
        self._told_generation = -1  # the latest transport segment told to the outputs
        self.skipped_once: list[str] = []
        self.stats = DispatchStats()
        self.realtime = False
        self._unlogged: list[tuple[Dispatch[object], int, int, str]] = []
        self._fired_ns = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dispatcher", daemon=True)

    @property
    def draining(self) -> bool:
        """After a stop, events still in the device's buffers are to be sent: also while this thread has not
        woken up to the stop yet (a loaded machine holds it off for tens of ms; a quit or the next song's
        install that came first lost the song's `end`)."""
        if self._stop.is_set() or not self._thread.is_alive():
            return False
        return not self.scheduler.caught_up(self.ports.transport.segment)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Re-read transport and clock now (after a command)."""
        self._wake.set()

    def wait_for_drain(self, timeout_s: float) -> None:
        """Let the events still due from the audio already rendered go out (a quit right after a stop)."""
        deadline = time.monotonic() + timeout_s
        self.wake()  # to the transport's latest segment now, not at its next deadline
        while self.draining and time.monotonic() < deadline:
            time.sleep(0.005)

    def wait_until_told(self, generation: int, timeout_s: float) -> bool:
        """Until the outputs have been told the transport's segment `generation` (or a later one); whether
        they were within `timeout_s`."""
        self.wake()
        with self._told:
            return self._told.wait_for(lambda: self._told_generation >= generation, timeout_s)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)
        self._write_log()

    def _run(self) -> None:
        self.realtime = raise_priority(DISPATCHER_PRIORITY)
        transport = self.ports.transport
        while not self._stop.is_set():
            device = self.ports.audio.device
            taken = device.frames_delivered  # read before the segment: never newer than it
            # The loop read on both sides of the segment, and one seen on either side counts: between two reads the
            # callback may wrap and then take a release (read after the segment only, the loop's end looked played
            # through), or take a new loop. A loop seen a turn too long only holds its end's events one more turn.
            loop_before = transport.loop
            segment = transport.segment
            loop = loop_before if loop_before is not None else transport.loop
            seen = Seen(segment, taken, device.clock, time.monotonic_ns(), loop, device.latency_frames)
            for effect in self.scheduler.advance(seen):
                self._perform(effect)

    def _perform(self, effect: Effect) -> None:
        if isinstance(effect, Fire):
            _spin_until(effect.due_ns - GUARD_NS)
            self.ports.window.open_until(effect.due_ns + BURST_NS)
            _spin_until(effect.due_ns)
            self._fire(effect.dispatch, effect.due_ns)
        elif isinstance(effect, WaitUntil):
            self._wait_until(effect.wake_ns)
        elif isinstance(effect, Announce):
            self._announce(effect)
        elif isinstance(effect, Rebuild):
            now = time.monotonic_ns()
            for item in effect.dispatches:
                self._fire(item, now, rebuild=True)
            self._write_log()  # before the located take's audio starts
        elif isinstance(effect, SkipOnce):
            self._report_skipped(effect.events)

    def _wait_until(self, wake_ns: int) -> None:
        """Close the firing window (the burst is sent), write the show log once the sends are on their way,
        and sleep until `wake_ns` or a command."""
        self.ports.window.close()
        now = time.monotonic_ns()
        sleep_ns = min(wake_ns - now, MAX_WAIT_NS)
        if self._unlogged:
            log_in_ns = self._fired_ns + LOG_AFTER_NS - now
            if log_in_ns > 0:
                sleep_ns = min(sleep_ns, log_in_ns)
            else:
                self._write_log()
        if sleep_ns > 0 and self._wake.wait(sleep_ns / 1e9):
            self._wake.clear()

    def _fire(self, item: Dispatch[object], due_ns: int, rebuild: bool = False) -> None:
        event = item.event
        if event.kind in STATE_KINDS:
            for listener in self.ports.outputs.values():
                listener.state(event)
            if event.kind is Kind.BEAT:
                return  # beats are only state
        output = self.ports.outputs.get(event.output)
        result = "state"
        if event.kind in MESSAGE_KINDS and output is not None:
            result = output.send(item.message, event, due_ns)
        sent_ns = time.monotonic_ns()
        if sent_ns - due_ns > LATE_NS:
            self.stats.late += 1
            if output is not None and event.kind in MESSAGE_KINDS:
                output.status.counters.late += 1
        self.stats.fired += 1
        self.stats.max_late_ns = max(self.stats.max_late_ns, sent_ns - due_ns)
        if event.kind is Kind.SYNC and result == "sent" and sent_ns - due_ns <= LATE_NS:
            self.stats.sync_sent += 1  # 150 a second: the log keeps only the ones that went wrong
            return
        self._unlogged.append((item, due_ns, sent_ns, f"rebuild: {result}" if rebuild else result))
        self._fired_ns = sent_ns

    def _write_log(self) -> None:
        """Turn fired events into show-log records, off the critical path."""
        showlog = self.ports.showlog
        for item, due_ns, sent_ns, result in self._unlogged:
            record = event_record(item.event, self.sample_rate)
            record.update(
                song=self.config.song_id,
                scheduled=round(showlog.wall_time(due_ns), 6),
                sent=round(showlog.wall_time(sent_ns), 6),
                late_ms=round((sent_ns - due_ns) / 1e6, 3),
                result=result,
            )
            showlog.record(record)
        self._unlogged.clear()

    def _report_skipped(self, once: tuple[Event, ...]) -> None:
        names = [e.cue_name or f"{e.kind.value} to {e.output} at {e.position.bar}.{e.position.beat}" for e in once]
        self.skipped_once = names
        log.info("not from the top: once cues skipped this take: %s", ", ".join(dict.fromkeys(names)))
        for event in once:
            self.ports.showlog.record({"song": self.config.song_id, "kind": "skipped", "cue": event.cue_name, "output": event.output,
                                       "song_frame": event.at_frame, "result": "skipped: once cue, take not from the top"})  # fmt: skip

    def _announce(self, announce: Announce) -> None:
        segment = announce.segment
        before, self._follows = self._follows, None
        if before is not None:  # the song this one follows: its last cues and its stop are told first
            final = before.ports.transport.segment.generation  # that transport's last: the callback ended it before this one played
            if not before.wait_until_told(final, FOLLOW_WAIT_S):
                log.warning("%s: the song before did not tell its stop within %.0f s", self.config.song_id, FOLLOW_WAIT_S)
        sync = sync_point(self.config.timeline, announce.begin_frame)
        for output in self.ports.outputs.values():
            output.transport(segment.state.value, self.config.song_id, str(segment.song_frame), sync)
        with self._told:
            self._told_generation = segment.generation
            self._told.notify_all()
        self.ports.showlog.record(
            {"song": self.config.song_id, "kind": "transport", "state": segment.state.value, "song_frame": segment.song_frame}
        )
