"""The scheduler: which event goes out next and when, decided from the transport and the audio clock.

The dispatcher thread calls `advance` each time it wakes, with what it sees then (the transport's
latest segment, the frames the device has taken, the loop, the clock map and the time), and performs
the effects it gets back, in order: `Announce` a transport change, `Rebuild` a located take's state,
report the `once` cues a take skips (`SkipOnce`), then `Fire` one event at its deadline or `WaitUntil`
a time to ask again. The scheduler performs none of them. Pure: time is an argument, never a clock.

Deadline = when the device requests the frame an event is sent at (its output's latency compensation
already in `Dispatch.send_frame`), plus the device's latency to its output as the device reports it now
(`Seen.latency_frames`: one buffer for SDL, the server's port latency for JACK), plus the patch's
calibration (`output_latency_ms`, in `device_latency_ns`). A `Fire` is only given within
`commit_ns` of its deadline; before that the answer is `WaitUntil`, and the dispatcher asks again, so a
stop or a locate still takes effect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from showcontrol.engine.plan import Dispatch, start_index, state_rebuild
from showcontrol.engine.transport import Segment, State
from showcontrol.timeline.events import Event, Kind

COMMIT_NS = 1_000_000  # a Fire is given this close to its deadline: the dispatcher spins the rest
POLL_NS = 1_000_000  # how soon to ask again while the audio callback has something to decide
IDLE_NS = 5_000_000  # how soon to ask again with nothing to send (stopped, or every event sent)


class FrameClock(Protocol):
    """The audio clock's map (audio/clock.py `ClockMap`): device frame -> monotonic ns it is requested at."""

    def time_of_frame(self, frame: int) -> float: ...

    def stale_at(self, now_ns: float) -> bool:
        """Whether, at `now_ns`, the map no longer tells when the audio plays (its next callback overdue)."""
        ...


@dataclass(frozen=True, slots=True)
class Seen:
    """What the dispatcher saw on waking: `taken` (device frames the audio callback has filled) is read
    before `segment`, so it is never newer than it."""

    segment: Segment
    taken: int
    clock: FrameClock | None
    now_ns: int
    loop: tuple[int, int] | None = None  # the song frames the transport loops, once the callback has taken the loop
    latency_frames: int = 0  # from the device requesting a frame to that frame leaving it, as the device says now


@dataclass(frozen=True, slots=True)
class Announce:
    """Tell every output and the show log the transport's new state; playback (re)starts at `begin_frame`
    (a MIDI song position, MTC), or stopped there."""

    segment: Segment
    begin_frame: int


@dataclass(frozen=True, slots=True)
class Rebuild:
    """Send these now, before a located take's audio: each output's state as at the take's first frame."""

    dispatches: tuple[Dispatch[object], ...]


@dataclass(frozen=True, slots=True)
class SkipOnce:
    """This take is not from the top: its `once` cues stay disarmed (for the show log and the run's report)."""

    events: tuple[Event, ...]


@dataclass(frozen=True, slots=True)
class Fire:
    """Send `dispatch` at `due_ns` (monotonic); it is the scheduler's no more."""

    dispatch: Dispatch[object]
    due_ns: int


@dataclass(frozen=True, slots=True)
class WaitUntil:
    """Nothing to send before `wake_ns` (monotonic): ask again then, or sooner after a command."""

    wake_ns: int


Effect = Announce | Rebuild | SkipOnce | Fire | WaitUntil


@dataclass(frozen=True)
class SchedulerConfig:
    """One take's events and how they map onto the device's time."""

    order: tuple[Dispatch[object], ...]  # engine/plan.py `dispatch_order`
    max_lead_frames: int  # the furthest an event may be fired ahead of the audio the device has taken
    device_latency_ns: int = 0  # what the device's own latency leaves out, to the frame sounding (a calibration)
    max_latency_frames: int = 0  # the largest output latency compensation in `order`
    top_frame: int = 0  # where a take from the top begins; a take that begins later was located
    on_locate: Mapping[str, str] = field(default_factory=dict)  # per output: what a located take rebuilds


def heard_before(item: Dispatch[object], stop_frame: int, wrapping: bool) -> bool:
    """Whether an event's frame was in the audio played before a stop or a loop's wrap.

    A song that stops at its end has played its `end` event's frame; a loop that wraps there has not
    (it plays [start, end) and goes on), so the song does not end at every pass."""
    frame = item.event.at_frame
    return frame < stop_frame or (frame == stop_frame and item.event.kind is Kind.END and not wrapping)


class Scheduler:
    """The dispatcher's decisions: a cursor over the dispatch order, driven by the transport's segments.

    Owned by the dispatcher thread: `advance` is the only method it calls; `draining` may be read anywhere.
    """

    def __init__(self, config: SchedulerConfig, told_generation: int = -1) -> None:
        """`told_generation`: a segment the outputs are not to be told about (a follow armed ahead: its
        transport stands stopped while the song before it plays, and monitors show that one)."""
        self.config = config
        self.next_index = len(config.order)
        self.draining = False  # after a stop, the events still in the device's buffers are being sent
        self._generation = told_generation
        self._previous = State.STOPPED
        self._playing: Segment | None = None  # the segment events are fired by
        self._drain_until: int | None = None  # fire only the events the audio had reached (a stop, or a loop's end)...
        self._then: Segment | None = None  # ...then carry on with this segment (the loop's next pass), or stop
        self._then_until: int | None = None  # ...and drain that pass too, up to this frame (stopped just after a wrap)
        self._begin_frame = 0
        self._located = False  # this take began after the top, or is a loop pass: `once` cues stay disarmed

    def advance(self, seen: Seen) -> list[Effect]:
        """What to do now: effects to perform in order, the last a `Fire` or a `WaitUntil`."""
        effects: list[Effect] = []
        if seen.segment.generation != self._generation:
            self._follow(seen.segment, effects)
            self._previous = seen.segment.state
            self._generation = seen.segment.generation  # last: `caught_up` never sees it before `draining`
        order = self.config.order
        while True:
            playing, clock = self._playing, seen.clock
            if playing is None or clock is None or self.next_index >= len(order):
                if self._end_pass(seen.segment, effects) and self._playing is not None:
                    continue  # a loop's next pass: its first events are due at the wrap itself
                effects.append(WaitUntil(seen.now_ns + IDLE_NS))
                return effects
            item = order[self.next_index]
            if item.event.at_frame < self._begin_frame or (self._located and item.event.once):
                self.next_index += 1
                continue
            if self._drain_until is not None and not heard_before(item, self._drain_until, self._then is not None):
                self._end_pass(seen.segment, effects)
                continue
            device_frame = playing.device_frame_of(item.send_frame)
            if self._drain_until is None and self._past_an_undecided_wrap(playing, seen, item):
                effects.append(WaitUntil(seen.now_ns + POLL_NS))
                return effects
            due_ns = int(clock.time_of_frame(device_frame + seen.latency_frames)) + self.config.device_latency_ns
            if due_ns - seen.now_ns > COMMIT_NS:
                effects.append(WaitUntil(due_ns - COMMIT_NS))  # asked again then: the transport may have moved
                return effects
            if clock.stale_at(seen.now_ns) or device_frame - seen.taken > self.config.max_lead_frames:
                # The audio stopped short of this event, or may have (its callback is overdue): it waits for
                # the callback that says where the audio went, never goes out on the old timeline.
                effects.append(WaitUntil(seen.now_ns + POLL_NS))
                return effects
            self.next_index += 1
            effects.append(Fire(item, due_ns))
            return effects

    def caught_up(self, segment: Segment) -> bool:
        """Whether the last `advance` followed `segment` (the transport's latest) and has nothing left to drain.

        Any thread. `draining` alone is not enough: until the dispatcher's thread wakes up to a stop, it is
        not draining yet, though the audio before the stop (the song's `end`) still has events due."""
        return segment.generation == self._generation and not self.draining

    def _follow(self, segment: Segment, effects: list[Effect]) -> None:
        """A new segment from the audio callback: start, resume, finish a loop's pass, or drain after a stop."""
        if segment.state is State.PLAYING and segment.wrap_from is not None and self._playing is not None:
            self._drain_until, self._then = segment.wrap_from, segment  # a loop: finish this pass first
            self.draining = True
        elif segment.state is State.PLAYING and self._previous is State.PAUSED:
            already_sent = self.next_index
            self._start(segment, effects, new_take=False)
            # A pause that landed in a buffer the driver was late to render can stop the song just before
            # a frame whose cue already went out on the clock's word: it is not sent twice.
            self.next_index = max(self.next_index, already_sent)
        elif segment.state is State.PLAYING:
            self._start(segment, effects, new_take=True)
        elif self._playing is not None:
            # The audio up to the stop is still in the device's buffers: its events are still due.
            if self._then is not None:  # stopped just after a loop wrapped: the pass that ended first, then the new one
                self._then_until = segment.song_frame
            else:
                self._drain_until = segment.song_frame
            self.draining = True
        else:
            effects.append(Announce(segment, segment.song_frame))

    def _past_an_undecided_wrap(self, playing: Segment, seen: Seen, item: Dispatch[object]) -> bool:
        """Whether `item` lies at or past the end of a loop the audio callback has not reached yet.

        Only the callback decides, on reaching the loop's end, whether this pass wraps (loop still set) or
        plays on (released), so such an event waits for it. Nothing else waits for the callback: a driver
        that falls behind its own clock (SDL's dummy one stalls for tens of ms on a loaded machine) would
        otherwise hold every cue for the length of each stall (bench/timing.py).
        """
        return seen.loop is not None and playing.song_frame_at(seen.taken) <= seen.loop[1] <= item.event.at_frame

    def _start(self, segment: Segment, effects: list[Effect], new_take: bool) -> None:
        """Fire by this segment from where it begins; a new take (not a resume) first rebuilds state."""
        self._playing, self._drain_until, self._then, self._then_until = segment, None, None, None
        self.draining = False
        self._begin_frame = max(segment.song_frame, segment.song_from_frame)
        self.next_index = start_index(self.config.order, self._begin_frame, self.config.max_latency_frames)
        effects.append(Announce(segment, self._begin_frame))
        if not new_take:
            return
        loop_pass = segment.wrap_from is not None
        self._located = loop_pass or segment.song_from_frame > self.config.top_frame
        if not self._located:
            return
        effects.append(Rebuild(state_rebuild(self.config.order, self._begin_frame, self.config.on_locate)))
        once = tuple(item.event for item in self.config.order if item.event.once)
        if once and not loop_pass:
            effects.append(SkipOnce(once))

    def _end_pass(self, segment: Segment, effects: list[Effect]) -> bool:
        """After the last event the audio already played: carry on with a loop's next pass, or announce the
        stop (MIDI Stop after the last clock). Whether a drain ended."""
        if self._playing is None or self._drain_until is None:
            return False
        if self._then is not None:
            stop_frame = self._then_until
            self._start(self._then, effects, new_take=True)
            if stop_frame is not None:
                self._drain_until = stop_frame
                self.draining = True
            return True
        effects.append(Announce(segment, self._drain_until))
        self._playing, self._drain_until = None, None
        self.draining = False
        return True
