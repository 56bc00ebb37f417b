"""The dispatcher thread: fires each event at its absolute deadline on the audio clock.

Deadline = when the device requests the event's frame (from the published clock map and transport
segment) + the device's output latency − the output's own latency. It waits on an Event until about a
millisecond before, re-reading segment and clock each time it wakes (so a stop or locate takes effect at
once), then spins the rest, yielding the GIL to the audio callback until its firing window opens
(realtime.FiringWindow), from when the callback waits for the burst instead. It never computes "time
since the last event": error cannot accumulate. Nor does it run ahead of the audio: an event whose frame
the device has not taken within MAX_LEAD_S waits for it (a hung sound server stops the callbacks while
the clock, extrapolated, would carry on).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from showcontrol.audio.clock import ClockMap
from showcontrol.describe import event_record
from showcontrol.engine.plan import STATE_KINDS, Dispatch, start_index, state_rebuild
from showcontrol.engine.transport import Segment, State
from showcontrol.io.output import Output
from showcontrol.realtime import DISPATCHER_PRIORITY, FiringWindow, raise_priority
from showcontrol.showlog import ShowLog
from showcontrol.timeline.events import Kind
from showcontrol.timeline.sync import SyncPoint
from showcontrol.timeline.tempo import Rate

log = logging.getLogger(__name__)

SPIN_NS = 1_000_000  # spin the last millisecond
# Other threads stand aside (FiringWindow) from this long before a deadline until the burst is sent, or
# BURST_NS after the deadline at the latest: a callback arriving then waits at most ~0.6 ms.
GUARD_NS = 300_000
BURST_NS = 300_000
LATE_NS = 1_000_000  # an event sent more than 1 ms after its deadline counts as late
# Show-log records are written this long after the last send, not at once: the network threads hand
# the sends on meanwhile, and would otherwise wait for the GIL while the records are built (MQTT
# hand-over p90 1.0 ms against ~0.2 ms, bench/timing.py).
LOG_AFTER_NS = 3_000_000
# The furthest an event may be fired ahead of the audio the device has taken. Normal callbacks are a
# buffer ahead of the deadline, and SDL's dummy driver lags its own clock by tens of ms on a loaded
# machine (cues keep the clock through that); past this, the audio has stopped, and so do the cues.
MAX_LEAD_S = 0.1
MESSAGE_KINDS = frozenset({Kind.OSC, Kind.MIDI, Kind.MQTT, Kind.SYNC})


@dataclass
class DispatchStats:
    fired: int = 0
    late: int = 0
    max_late_ns: int = 0
    sync_sent: int = 0  # clock ticks and quarter frames sent fine: counted, not logged one by one


@dataclass
class _Cursor:
    """Where the dispatcher is: the segment events are fired by, and what happens after a stop or a loop's end."""

    playing: Segment | None = None
    drain_until: int | None = None  # fire only the events the audio had reached (a stop, or a loop's end)...
    then: Segment | None = None  # ...then carry on with this segment (the loop's next pass), or stop
    begin_frame: int = 0
    located: bool = False  # this take began after the top, or is a loop pass: `once` cues stay disarmed


def _spin_until(deadline_ns: int) -> None:
    """Spin on the clock, letting other threads (the audio callback) take the GIL between turns.

    time.sleep(0) would instead arm a timer and sleep on it each turn: on a VM, spin exits came p50 15 us
    and p99 0.2-1.4 ms after the deadline, against 0.6 us with sched_yield."""
    while time.monotonic_ns() < deadline_ns:
        os.sched_yield()


def _heard_before(item: Dispatch, stop_frame: int) -> bool:
    """Whether an event's frame was in the audio rendered before a stop (the song's end event included)."""
    frame = item.event.at_frame
    return frame < stop_frame or (frame == stop_frame and item.event.kind is Kind.END)


class Dispatcher:
    def __init__(
        self,
        order: tuple[Dispatch, ...],
        prepared: Mapping[int, object],
        outputs: Mapping[str, Output],
        segment: Callable[[], Segment],
        clock: Callable[[], ClockMap | None],
        sync_at: Callable[[int], SyncPoint],
        device_latency_ns: int,
        max_latency_frames: int,
        sample_rate: Rate,
        song_id: str,
        showlog: ShowLog,
        on_locate: Mapping[str, str] | None = None,
        top_frame: int = 0,
        rendered: Callable[[], int] | None = None,
        loop: Callable[[], tuple[int, int] | None] = lambda: None,
        window: FiringWindow | None = None,
        max_lead_frames: int | None = None,
    ) -> None:
        self.order = order
        self.prepared = prepared
        self.outputs = outputs
        self._segment = segment
        self._clock = clock
        self._sync_at = sync_at
        self.device_latency_ns = device_latency_ns
        self.max_latency_frames = max_latency_frames
        self.sample_rate = sample_rate
        self.song_id = song_id
        self.showlog = showlog
        self.on_locate = on_locate or {}
        self.top_frame = top_frame  # where a play from the top begins; a take that begins later was located
        self._rendered = rendered  # device frames the audio callback has filled: the transport has decided up to there
        self._loop = loop  # the song frames the transport loops, once the callback has taken the loop
        self.window = window or FiringWindow()  # shared with the threads that stand aside while it is open
        # Device frames; the timeline's rate stands in where none is given (the same but at rehearsal tempos).
        self.max_lead_frames = round(MAX_LEAD_S * sample_rate) if max_lead_frames is None else max_lead_frames
        self.skipped_once: list[str] = []
        self.draining = False  # after a stop, events still in the device's buffers are being sent
        self.stats = DispatchStats()
        self.realtime = False
        self.next_index = len(order)
        self._unlogged: list[tuple[Dispatch, int, int, str]] = []
        self._fired_ns = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dispatcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Re-read transport and clock now (after a command)."""
        self._wake.set()

    def wait_for_drain(self, timeout_s: float) -> None:
        """Let the events still due from the audio already rendered go out (a quit right after a stop)."""
        deadline = time.monotonic() + timeout_s
        while self.draining and time.monotonic() < deadline:
            time.sleep(0.005)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)
        self._write_log()

    def _run(self) -> None:
        self.realtime = raise_priority(DISPATCHER_PRIORITY)
        generation, previous = -1, State.STOPPED
        cursor = _Cursor()
        while not self._stop.is_set():
            rendered = self._rendered() if self._rendered is not None else None  # read before the segment: never newer than it
            segment, clock = self._segment(), self._clock()
            if segment.generation != generation:
                generation = segment.generation
                if segment.state is State.PLAYING and segment.wrap_from is not None and cursor.playing is not None:
                    cursor.drain_until, cursor.then = segment.wrap_from, segment  # a loop: finish this pass first
                    self.draining = True
                elif segment.state is State.PLAYING and previous is State.PAUSED:
                    already_sent = self.next_index
                    self._start(cursor, segment, new_take=False)
                    # A pause that landed in a buffer the driver was late to render can stop the song just
                    # before a frame whose cue already went out on the clock's word: it is not sent twice.
                    self.next_index = max(self.next_index, already_sent)
                elif segment.state is State.PLAYING:
                    self._start(cursor, segment, new_take=True)
                elif cursor.playing is not None:
                    if cursor.then is not None:  # stopped just after a loop wrapped: the stop is in the new pass
                        self._start(cursor, cursor.then, new_take=False)
                    # The audio up to the stop is still in the device's buffers: its events are still due.
                    cursor.drain_until, cursor.then = segment.song_frame, None
                    self.draining = True
                else:
                    self._announce(segment, segment.song_frame)
                previous = segment.state
            playing = cursor.playing
            if playing is None or clock is None or self.next_index >= len(self.order):
                self._end_pass(cursor)
                self._sleep(0.005)
                continue
            item = self.order[self.next_index]
            if item.event.at_frame < cursor.begin_frame or (cursor.located and item.event.once):
                self.next_index += 1
                continue
            if cursor.drain_until is not None and not _heard_before(item, cursor.drain_until):
                self._end_pass(cursor)
                continue
            device_frame = playing.device_frame_of(item.send_frame)
            if cursor.drain_until is None and self._past_an_undecided_wrap(playing, rendered, item):
                self._sleep(0.001)
                continue
            due_ns = int(clock.time_of_frame(device_frame)) + self.device_latency_ns
            wait_ns = due_ns - time.monotonic_ns()
            if wait_ns > SPIN_NS:
                self.window.close()  # the burst is sent
                sleep_ns = wait_ns - SPIN_NS
                log_in_ns = self._fired_ns + LOG_AFTER_NS - time.monotonic_ns()
                if log_in_ns > 0:
                    sleep_ns = min(sleep_ns, log_in_ns)
                else:
                    self._write_log()
                self._wait(min(sleep_ns / 1e9, 0.05))
                continue  # re-read: the transport or the clock may have moved meanwhile
            if rendered is not None and device_frame - rendered > self.max_lead_frames:
                self._sleep(0.001)  # the audio has stopped short of this event: it waits for the audio
                continue
            _spin_until(due_ns - GUARD_NS)
            self.window.open_until(due_ns + BURST_NS)
            _spin_until(due_ns)
            self._fire(item, due_ns)
            self.next_index += 1

    def _past_an_undecided_wrap(self, playing: Segment, rendered: int | None, item: Dispatch) -> bool:
        """Whether `item` lies at or past the end of a loop the audio callback has not reached yet.

        Only the callback decides, on reaching the loop's end, whether this pass wraps (loop still set) or
        plays on (released), so such an event waits for it. Nothing else waits for the callback: a driver
        that falls behind its own clock (SDL's dummy one stalls for tens of ms on a loaded machine) would
        otherwise hold every cue for the length of each stall (p99 59 ms against 2.5 ms, bench/timing.py).
        """
        loop = self._loop()
        if loop is None or rendered is None:
            return False
        return playing.song_frame_at(rendered) <= loop[1] <= item.event.at_frame

    def _start(self, cursor: _Cursor, segment: Segment, new_take: bool) -> None:
        """Fire by this segment from where it begins; a new take (not a resume) first rebuilds state."""
        cursor.playing, cursor.drain_until, cursor.then = segment, None, None
        self.draining = False
        cursor.begin_frame = max(segment.song_frame, segment.song_from_frame)
        self.next_index = start_index(self.order, cursor.begin_frame, self.max_latency_frames)
        self._announce(segment, cursor.begin_frame)
        if new_take:
            loop_pass = segment.wrap_from is not None
            cursor.located = loop_pass or segment.song_from_frame > self.top_frame
            self._rebuild_state(cursor.begin_frame, cursor.located, report_skips=not loop_pass)

    def _end_pass(self, cursor: _Cursor) -> None:
        """After the last event the audio already played: carry on with a loop's next pass, or announce the
        stop (MIDI Stop after the last clock)."""
        if cursor.playing is None or cursor.drain_until is None:
            return
        if cursor.then is not None:
            self._start(cursor, cursor.then, new_take=True)
            return
        self._announce(self._segment(), cursor.drain_until)
        cursor.playing, cursor.drain_until = None, None
        self.draining = False

    def _rebuild_state(self, begin_frame: int, located: bool, report_skips: bool = True) -> None:
        """Before a located take's audio starts (and on each loop pass): each output's state at that bar;
        `once` cues stay disarmed."""
        if not located:
            return
        now = time.monotonic_ns()
        for item in state_rebuild(self.order, begin_frame, self.on_locate):
            self._fire(item, now, rebuild=True)
        once = [item.event for item in self.order if item.event.once]
        if once and report_skips:
            names = [e.cue_name or f"{e.kind.value} to {e.output} at {e.position.bar}.{e.position.beat}" for e in once]
            self.skipped_once = names
            log.info("not from the top: once cues skipped this take: %s", ", ".join(dict.fromkeys(names)))
            for event in once:
                self.showlog.record({"song": self.song_id, "kind": "skipped", "cue": event.cue_name, "output": event.output,
                                     "song_frame": event.at_frame, "result": "skipped: once cue, take not from the top"})  # fmt: skip
        self._write_log()

    def _sleep(self, seconds: float) -> None:
        self._write_log()
        self._wait(seconds)

    def _wait(self, seconds: float) -> None:
        if self._wake.wait(seconds):
            self._wake.clear()

    def _fire(self, item: Dispatch, due_ns: int, rebuild: bool = False) -> None:
        event = item.event
        if event.kind in STATE_KINDS:
            for listener in self.outputs.values():
                listener.state(event)
            if event.kind is Kind.BEAT:
                return  # beats are only state
        output = self.outputs.get(event.output)
        result = "state"
        if event.kind in MESSAGE_KINDS and output is not None:
            result = output.send(self.prepared[id(item)], event, due_ns)
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
        for item, due_ns, sent_ns, result in self._unlogged:
            record = event_record(item.event, self.sample_rate)
            record.update(
                song=self.song_id,
                scheduled=round(self.showlog.wall_time(due_ns), 6),
                sent=round(self.showlog.wall_time(sent_ns), 6),
                late_ms=round((sent_ns - due_ns) / 1e6, 3),
                result=result,
            )
            self.showlog.record(record)
        self._unlogged.clear()

    def _announce(self, segment: Segment, begin_frame: int) -> None:
        position = str(segment.song_frame)
        sync = self._sync_at(begin_frame)
        for output in self.outputs.values():
            output.transport(segment.state.value, self.song_id, position, sync)
        self.showlog.record({"song": self.song_id, "kind": "transport", "state": segment.state.value, "song_frame": segment.song_frame})
