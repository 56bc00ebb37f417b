"""MIDI outputs carried by the JACK audio client: each message written into the period's MIDI buffer at the
frame offset of its event, so notes, CC, program changes, MSC, MIDI clock and MTC leave on the sample,
like the click (rtmidi's JACK output puts everything at the start of the next cycle, up to a period late).

The audio thread reads the events of each period from the output's schedule (the compiled dispatch
order, handed over with each tempo version): no hand-over from the dispatcher can be late, not even for
a cue on the very frame playback starts. A period is one or two runs of consecutive song frames (two where a
loop's wrap falls inside it: the end of the pass, then the next pass from the loop's start; or a follow's
hand-over: the end of one song, then the start of the next), each written at its own offset from the
schedule of its own song version (the song playing and the one armed to follow it are both kept). A jump
(a start, a locate, a loop's wrap) is noticed as a run that does not follow the last one of its schedule,
and the schedule is found again at its frame. What the dispatcher
sends is written only where the schedule cannot know it: the state rebuilt before the bar a start plays
from, transport messages and all notes off go at the start of the next period.
"""

from __future__ import annotations

import bisect
import time
from collections import deque
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from showcontrol.engine.plan import Dispatch
from showcontrol.engine.transport import Segment, State
from showcontrol.io.midi import MidiPortOutput, panic_messages, sync_transport_messages
from showcontrol.io.output import Health, Outcome, Result
from showcontrol.model.patch import MidiOutput
from showcontrol.timeline.events import Event
from showcontrol.timeline.sync import SyncPoint

ON_ITS_FRAME = Result(Outcome.SENT, "on its frame")  # the audio client writes it into the period, at its frame
# (offset into the period, first song frame, frames, the schedule's key): consecutive song frames of one song version
SongRun = tuple[int, int, int, Hashable]


def period_runs(segment: Segment, first_device_frame: int, frames: int, schedule: Hashable) -> tuple[SongRun, ...]:
    """The song frames a period played, as the segment the audio callback ended it on says: none while not
    playing; the end of the previous pass, then the loop's start, when a wrap falls inside the period.
    Each run is read from the schedule of `schedule` (its song version's key)."""
    if segment.state is not State.PLAYING:
        return ()
    offset = min(max(segment.device_frame - first_device_frame, 0), frames)  # where the segment began, in this period
    before: tuple[SongRun, ...] = ((0, segment.wrap_from - offset, offset, schedule),) if offset and segment.wrap_from is not None else ()
    return before + (((offset, segment.song_frame_at(first_device_frame + offset), frames - offset, schedule),) if offset < frames else ())


def runs_from(runs: Sequence[SongRun], offset: int) -> tuple[SongRun, ...]:
    """`runs` from `offset` into the period on: a song that follows another in the period starts where that
    one ended, so that the period's events are written in time order."""
    return tuple((max(o, offset), first + max(offset - o, 0), n - max(offset - o, 0), key) for o, first, n, key in runs if o + n > offset)


@dataclass
class _Schedule:
    """One song version's events for this output, by frame, and where the audio thread reads in them."""

    frames_at: list[int] = field(default_factory=list)
    messages: list[tuple[bytes, Event]] = field(default_factory=list)
    cursor: int = 0
    next_frame: int | None = None  # where its next run should start, if nothing jumped


@dataclass
class _TakeStart:
    """The take a GO began, as the audio thread needs it: a take from a later bar plays its count-in over
    the song's own frames before `from_frame` (none of their events go: the rebuilt state stands for them),
    and fires no `once` cue (as the dispatcher skips them)."""

    key: Hashable  # its song version's schedule
    from_frame: int
    in_pre_roll: bool  # before `from_frame` still (the audio thread clears it once a run gets there)

    @property
    def located(self) -> bool:
        return self.from_frame > 0


class JackMidiOutput(MidiPortOutput):
    """A MIDI output port on the showcontrol JACK client, named after the output, connected to the ports
    matching the patch's `port` (none for a virtual one: connect it yourself)."""

    def __init__(self, spec: MidiOutput, sample_rate: int, segment: Callable[[], Segment]) -> None:
        super().__init__(spec)
        self._latency_frames = round(spec.latency_ms * sample_rate / 1000)  # sent this much before its frame
        self._segment = segment  # the transport's, now
        self._at_once: deque[bytes] = deque()  # what goes at the start of the next period
        self._schedules: Mapping[Hashable, _Schedule] = {}  # by song version: replaced whole, never changed in place
        self._once_sent: set[int] = set()
        self._take: _TakeStart | None = None  # the take the last GO began (replaced whole: the audio thread reads it)
        self.port: Any = None  # the JACK port, once the audio client registers it

    def open(self) -> JackMidiOutput:
        self.mark(Health.CONNECTING)  # until the audio client registers our port: a wait, not an error to report
        return self

    @property
    def destination(self) -> str | None:
        """The ports to connect to (part of their name); a virtual port is connected by the user."""
        return None if self.spec.virtual else self.spec.port

    def attached(self, port: Any) -> None:
        """The audio client registered our port."""
        self.port = port
        self.port_name = str(port.name)
        self.mark(Health.UP)

    def schedule(self, key: Hashable, order: Sequence[Dispatch[Any]], keep: Sequence[Hashable] = ()) -> None:
        """This output's events of song version `key`, by frame, beside those of the versions in `keep` (the
        song playing, while the one that follows it is armed); the others are forgotten. Each dispatch holds
        what its own output prepared: for this one, `prepare`'s MIDI bytes."""
        mine = sorted(
            ((item.event.at_frame - self._latency_frames, bytes(item.message), item.event)
             for item in order if item.event.output == self.name and item.message is not None),
            key=lambda entry: entry[0],
        )  # fmt: skip
        schedule = _Schedule([frame for frame, _, _ in mine], [(message, event) for _, message, event in mine])
        kept = {k: self._schedules[k] for k in keep if k in self._schedules and k != key}
        self._schedules = {**kept, key: schedule}  # whole, at once: the audio thread reads the one before or this

    def keep_only(self, keys: Sequence[Hashable]) -> None:
        """Forget the schedules of every version but `keys` (a follow disarmed, or handed over)."""
        self._schedules = {k: v for k, v in self._schedules.items() if k in keys}

    def maintain(self) -> None:
        """The audio client connects the port (see JackDevice.maintain)."""

    def _unavailable(self) -> str | None:
        """Nothing can go before the audio client has registered our port (rtmidi's port is not ours)."""
        return None if self.port is not None else self.status.last_error or "waiting for the JACK audio client"

    @property
    def pending(self) -> bool:
        """Messages still to go at the start of the next period (a state rebuilt, notes off, transport)."""
        return bool(self._at_once)

    def rebuild(self, key: Hashable, song_from_frame: int, dispatches: Sequence[Dispatch[Any]]) -> None:
        """Before a take starts from `song_from_frame` (the runner's, ahead of the transport): this output's
        share of the state rebuilt, to go at the start of the next period, ahead of the take's first event.
        The dispatcher rebuilds only once the take is playing: after its first period was written."""
        self._at_once.extend(bytes(item.message) for item in dispatches if item.event.output == self.name and item.message is not None)
        self._take = _TakeStart(key, song_from_frame, in_pre_roll=song_from_frame > 0)

    def _send(self, message: list[int], event: Event, due_ns: int) -> Result:
        """The dispatcher's: the schedule writes the song's events; only a state rebuilt before the bar
        playback starts from is the dispatcher's to give, unless `rebuild` gave it already."""
        start = self._segment().song_from_frame
        if event.at_frame - self._latency_frames < start and (self._take is None or self._take.from_frame != start):
            self._at_once.append(bytes(message))
        return ON_ITS_FRAME

    def transport(self, state: str, song_id: str, position: str, sync: SyncPoint) -> None:
        if not (self.spec.clock or self.spec.mtc):
            return
        was, self._transport_state = self._transport_state, state
        self._at_once.extend(bytes(m) for m in sync_transport_messages(was, state, sync, clock=self.spec.clock, mtc=self.spec.mtc))

    def panic(self) -> None:
        self._at_once.extend(bytes(message.bytes()) for message in panic_messages())

    def close(self) -> None:
        self._at_once.clear()

    def write_period(self, runs: Sequence[SongRun]) -> None:
        """The audio thread, each period: what is due in the song frames it played, at their offsets (see
        `period_runs`; none while stopped). Never blocks or raises."""
        port = self.port
        if port is None:
            return
        port.clear_buffer()
        try:
            while self._at_once:
                port.write_midi_event(0, self._at_once[0])
                self._at_once.popleft()
            schedules = self._schedules
            if not runs:
                for stopped in schedules.values():
                    stopped.next_frame = None
            for offset, song_frame, count, key in runs:
                if (schedule := schedules.get(key)) is not None:
                    self._write_run(port, schedule, offset, song_frame, count, key)
        except Exception:  # a full buffer (jack.JackError): counted; what is left waits for the next period
            self.status.counters.errors += 1

    def _write_run(self, port: Any, schedule: _Schedule, offset: int, song_frame: int, frames: int, key: Hashable) -> None:
        frames_at, messages = schedule.frames_at, schedule.messages
        if song_frame != schedule.next_frame:  # a start, a locate or a wrap: find the schedule again
            schedule.cursor = bisect.bisect_left(frames_at, song_frame)
        end = schedule.next_frame = song_frame + frames
        take = self._take if self._take is not None and self._take.key == key else None
        pre_roll_until = take.from_frame if take is not None and take.in_pre_roll else None
        no_once = take is not None and take.located
        while schedule.cursor < len(frames_at) and frames_at[schedule.cursor] < end:
            message, event = messages[schedule.cursor]
            if pre_roll_until is not None and frames_at[schedule.cursor] < pre_roll_until:
                pass  # the count-in of a take from a later bar: the rebuilt state went instead
            elif not (event.once and (no_once or id(event) in self._once_sent)):
                port.write_midi_event(offset + frames_at[schedule.cursor] - song_frame, message)
                if event.once:
                    self._once_sent.add(id(event))
            schedule.cursor += 1
        if take is not None and take.in_pre_roll and end > take.from_frame:
            take.in_pre_roll = False  # a loop back before it later plays those bars for real


LAST_MESSAGES_TIMEOUT_S = 0.25  # some periods at any size a patch may ask for; a server gone answers none of them


def send_last_messages(outputs: Sequence[JackMidiOutput], timeout_s: float = LAST_MESSAGES_TIMEOUT_S) -> None:
    """At the end of a run, while the audio client still runs its periods: all notes off on each output,
    waited for until a period has written them (or `timeout_s`), so no synth is left holding a note."""
    for output in outputs:
        output.panic()
    deadline = time.monotonic() + timeout_s
    while any(output.pending for output in outputs) and time.monotonic() < deadline:
        time.sleep(0.005)
