"""What the operator sees of a running show, as one immutable snapshot: `snapshot(runner, now) -> ShowStatus`.

The screen (ui/screen.py) draws it, and any other view may: it holds plain values only (text, numbers,
flags), never the runner, so a view cannot reach into the show and a snapshot can be built in a test from
plain values. The builder reads the runner once per refresh; its pure parts take plain arguments.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from showcontrol.app import ShowRunner
from showcontrol.app.version import Preparation
from showcontrol.audio.link import AudioHealth, health_text
from showcontrol.beats import timecode_text
from showcontrol.describe import message_text
from showcontrol.engine.transport import State
from showcontrol.io.output import Health, Output
from showcontrol.model.position import BarBeat
from showcontrol.model.show import Section
from showcontrol.takes.record import Take
from showcontrol.timeline.events import Event, Kind, Timeline

NEXT_CUES = 30  # the cues a screen may list; a small one shows fewer
MESSAGES = 6  # the latest messages kept in a snapshot
QUIT_AGAIN = "press q or Ctrl-C again to quit (3 s)"


class Level(StrEnum):
    INFO = "info"
    QUESTION = "question"  # the operator is asked something (quit?) until it stops being true
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Message:
    """A line for the operator, true until `until` (time.monotonic()). None: true while its cause lasts,
    so the builder makes it afresh in every snapshot (a tempo being made ready) and drops it when it is not."""

    text: str
    level: Level = Level.INFO
    until: float | None = None

    def true_at(self, now: float) -> bool:
        return self.until is None or now < self.until


@dataclass(frozen=True, slots=True)
class NowPlaying:
    song_id: str
    title: str
    state: str  # playing, paused, stopped (engine.transport.State's values)
    section: str  # "-" before the first section
    bar: int
    beat: int
    elapsed_s: float  # song seconds at the playhead: negative in a count-in before bar 1
    remaining_s: float
    timecode: str  # "" for a song without LTC/MTC
    tempo_percent: float  # the rehearsal tempo (pitch kept), 100 when none
    speed: float  # a film --speed (pitch follows), 1 when none
    loop: tuple[int, int] | None  # the bars looped, inclusive
    cued_bar: int  # where GO starts
    cued_beat: int = 1


@dataclass(frozen=True, slots=True)
class NextCue:
    name: str  # the cue's name, else what it sends
    output: str
    at: str  # bar.beat
    in_s: float  # seconds until it fires from the playhead (from the cued bar while stopped)


@dataclass(frozen=True, slots=True)
class SetListEntry:
    index: int  # 1-based, as the operator jumps to it
    song_id: str
    title: str
    playing: bool
    standby: bool  # what GO plays next


@dataclass(frozen=True, slots=True)
class OutputHealth:
    name: str
    health: str  # up, connecting, down (io.output.Health's values)
    last_error: str
    sent: int
    errors: int

    @property
    def ok(self) -> bool:
        return self.health == Health.UP


@dataclass(frozen=True, slots=True)
class AudioStatus:
    health: str  # ok, silent, stalled, lost (audio.link.AudioHealth's values)
    text: str  # as the operator reads it: "SILENT (no device)"
    driver: str
    device: str

    @property
    def ok(self) -> bool:
        return self.health == AudioHealth.OK


@dataclass(frozen=True, slots=True)
class LastTake:
    song_id: str
    number: int
    status: str  # open, complete, interrupted, aborted (takes.record.Status's values)
    from_bar: int
    to_bar: int | None
    good: bool | None  # marked good, no good, or not marked
    note: str


@dataclass(frozen=True, slots=True)
class TakeLogStatus:
    path: str  # "" while the take log is not open
    count: int  # takes this run started
    lost: int  # lines the disk did not take
    last: LastTake | None


@dataclass(frozen=True, slots=True)
class KeyHelp:
    keys: str  # as printed: "space", "q", "g/x"
    does: str


@dataclass(frozen=True, slots=True)
class OperatorInput:
    """What the operator is in the middle of at the keys, which the console knows and the runner does not."""

    typed: str = ""  # digits typed so far (Enter locates, % sets a tempo)
    note: str | None = None  # a take note being typed: Enter saves it, Backspace on an empty note drops it
    quit_until: float = 0.0  # a first q (or Ctrl-C) while playing asks again until then


@dataclass(frozen=True, slots=True)
class ShowStatus:
    now: float  # time.monotonic() of the snapshot
    playing: NowPlaying
    next_cues: tuple[NextCue, ...]
    set_list: tuple[SetListEntry, ...]
    outputs: tuple[OutputHealth, ...]
    audio: AudioStatus
    takes: TakeLogStatus
    messages: tuple[Message, ...]  # the latest last, only those still true at `now`
    keys: tuple[KeyHelp, ...]  # the keys that do something now
    typing: str  # what the operator is typing, as shown ("bar 12_", "note: camera 2_"), else ""

    set_done: bool = False  # the set has been played: GO has nothing to play until a song is chosen

    @property
    def trouble(self) -> bool:
        """Whether anything the operator must act on is not ok (the audio or any output)."""
        return not self.audio.ok or any(not output.ok for output in self.outputs)


@dataclass(frozen=True)
class Cueing:
    """A timeline's cues and sections in frame order, so a snapshot costs a few bisects."""

    timeline: Timeline
    cue_frames: tuple[int, ...]
    cues: tuple[Event, ...]
    section_frames: tuple[int, ...]
    sections: tuple[Event, ...]

    @classmethod
    def of(cls, timeline: Timeline) -> Cueing:
        cues = timeline.of_kind(Kind.OSC, Kind.MIDI, Kind.MQTT)
        sections = timeline.of_kind(Kind.SECTION)
        return cls(timeline, tuple(e.at_frame for e in cues), cues, tuple(e.at_frame for e in sections), sections)

    def section_at(self, frame: int) -> str:
        index = bisect.bisect_right(self.section_frames, frame) - 1
        payload = self.sections[index].payload if index >= 0 else None
        return payload.name if isinstance(payload, Section) else "-"

    def next_cues(self, frame: int, count: int = NEXT_CUES) -> list[NextCue]:
        """The `count` cues after `frame`, each with its countdown in the timeline's seconds."""
        index = bisect.bisect_left(self.cue_frames, frame)
        rate = self.timeline.sample_rate
        return [
            NextCue(
                event.cue_name or message_text(event),
                event.output,
                f"{event.position.bar}.{event.position.beat}",
                float(Fraction(event.at_frame - frame, rate)),
            )
            for event in self.cues[index : index + count]
        ]


def snapshot(
    runner: ShowRunner,
    now: float,
    entered: OperatorInput = OperatorInput(),
    messages: Iterable[Message] = (),
    cueing: Cueing | None = None,
) -> ShowStatus:
    """The show as the operator sees it at monotonic `now`: `messages` are the console's (replies, markers),
    kept while true; the quit question and a tempo being made ready are added here. `cueing`: a cache of
    `Cueing.of(runner.timeline)` (built when it is not that timeline's)."""
    timeline = runner.timeline
    if cueing is None or cueing.timeline is not timeline:
        cueing = Cueing.of(timeline)
    state = runner.segment.state
    frame = runner.song_frame_now()
    cued_frame = timeline.tempo.frame(BarBeat(max(runner.cue_bar, 1)), timeline.sample_rate)
    speed = runner.loaded.speed if not runner.loaded.keep_pitch else Fraction(1)
    playing = now_playing(
        cueing, runner.song.id, runner.song.title, state.value, frame, runner.cue_at, runner.tempo, speed, runner.loop_bars
    )
    set_done = runner.standby is None and state is State.STOPPED
    outputs = output_health(runner.outputs)
    audio = AudioStatus(str(runner.link.health), health_text(str(runner.link.health)), runner.driver, runner.device.name)
    said = [
        *trouble_messages(audio, outputs),  # first: kept in view while there is room, never pushing a reply out
        *messages,
        *tempo_messages(runner.tempo_job, runner.tempo, now),
        *standby_messages(runner.standby_job, runner.standby_song, now),
    ]
    asking = now < entered.quit_until and state is not State.STOPPED
    if asking:
        said.append(Message(QUIT_AGAIN, Level.QUESTION, entered.quit_until))
    keeper = runner.takes
    last = keeper.last()
    return ShowStatus(
        now=now,
        playing=playing,
        next_cues=tuple(cueing.next_cues(frame if state is not State.STOPPED else cued_frame)),
        set_list=set_list_of(runner, state is not State.STOPPED),
        outputs=outputs,
        audio=audio,
        takes=TakeLogStatus(str(keeper.path or ""), keeper.count, keeper.log.lost if keeper.log else 0, last_take_of(last)),
        messages=still_true(said, now),
        keys=keys_now(state.value, entered, bool(cueing.sections), last is not None, asking, len(runner.setlist) > 1, set_done),
        typing=typing_text(entered),
        set_done=set_done,
    )


def now_playing(
    cueing: Cueing,
    song_id: str,
    title: str,
    state: str,
    frame: int,
    cued: BarBeat,
    tempo: Fraction,
    speed: Fraction,
    loop: tuple[int, int] | None,
) -> NowPlaying:
    """Where the song is at song `frame`, in the terms an operator reads."""
    timeline = cueing.timeline
    seconds = Fraction(frame, timeline.sample_rate)
    position = timeline.tempo.position_at(seconds)
    return NowPlaying(
        song_id=song_id,
        title=title,
        state=state,
        section=cueing.section_at(frame),
        bar=position.bar,
        beat=position.beat,
        elapsed_s=float(seconds),
        remaining_s=float(Fraction(max(timeline.end_frame - frame, 0), timeline.sample_rate)),
        timecode=timecode_text(timeline, max(frame, 0)),
        tempo_percent=float(tempo) * 100,
        speed=float(speed),
        loop=loop,
        cued_bar=cued.bar,
        cued_beat=cued.beat,
    )


def set_list_of(runner: ShowRunner, playing: bool) -> tuple[SetListEntry, ...]:
    """The run's set: the entry open (playing, or standby while stopped) and the one GO plays next."""
    return tuple(SetListEntry(song.number, song.id, song.title, song.playing, song.standby) for song in runner.set_songs(playing))


def standby_messages(job: Preparation | None, standby: str | None, now: float) -> list[Message]:
    """The standby song being made ready in the background (decoded, compiled), while it is."""
    if job is None or job.done or job.song_id != standby:
        return []
    return [Message(f"{job.song_id}: making ready ~{job.progress(now) * 100:.0f} %")]


def tempo_messages(job: Preparation | None, playing: Fraction, now: float) -> list[Message]:
    """A rehearsal tempo on its way: its progress, that it is ready (until it plays), or why it failed."""
    if job is None or job.tempo == playing:
        return []
    target = f"{float(job.tempo) * 100:g} %"
    if job.error:
        return [Message(f"{target} failed: {job.error}", Level.ERROR)]
    if job.version is None:
        return [Message(f"{target}: stretching ~{job.progress(now) * 100:.0f} %")]
    return [Message(f"{target} ready: space plays it")]


def output_health(outputs: Mapping[str, Output]) -> tuple[OutputHealth, ...]:
    return tuple(
        OutputHealth(name, str(o.status.health), o.status.last_error, o.status.counters.sent, o.status.counters.errors)
        for name, o in outputs.items()
    )


def last_take_of(take: Take | None) -> LastTake | None:
    if take is None:
        return None
    return LastTake(take.song, take.number, str(take.status), take.from_bar, take.to_bar, take.good, take.note)


def trouble_messages(audio: AudioStatus, outputs: Sequence[OutputHealth]) -> list[Message]:
    """What is not ok and why, in words, while it is so (the outputs panel has no room for a whole reason)."""
    said = (
        [] if audio.ok else [Message(f"audio {audio.text}: nothing is heard", Level.ERROR if audio.health != "silent" else Level.WARNING)]
    )
    for output in outputs:
        if not output.ok:
            reason = f": {output.last_error}" if output.last_error else ""
            said.append(Message(f"output {output.name} is {output.health}{reason}", Level.WARNING))
    return said


def still_true(messages: Sequence[Message], now: float, keep: int = MESSAGES) -> tuple[Message, ...]:
    """The latest `keep` messages that are still true at `now`, oldest first, each text once (its latest)."""
    true = [m for m in messages if m.true_at(now)]
    latest = {m.text: n for n, m in enumerate(true)}
    return tuple([m for n, m in enumerate(true) if latest[m.text] == n][-keep:])


def keys_now(
    state: str,
    entered: OperatorInput,
    has_sections: bool,
    has_take: bool,
    asking: bool = False,
    has_set: bool = False,
    set_done: bool = False,
) -> tuple[KeyHelp, ...]:
    """The keys that do something in this state, most used first."""
    if entered.note is not None:
        return (KeyHelp("type", "the take's note"), KeyHelp("⏎", "save it"), KeyHelp("⌫ on empty", "cancel"))
    playing = state != State.STOPPED
    keys = [] if set_done else [KeyHelp("space", "stop" if playing else "go")]
    if playing:
        keys.append(KeyHelp("p", "resume" if state == State.PAUSED else "pause"))
    if entered.typed:
        keys += [KeyHelp("⏎", f"locate bar {entered.typed}"), KeyHelp("%", f"tempo {entered.typed} %")]
        keys += [KeyHelp("#", f"song {entered.typed}")] if has_set else []
        keys.append(KeyHelp("⌫", "undo a digit"))
    else:
        keys.append(KeyHelp("NN⏎", "locate bar"))
    if has_sections and not playing:
        keys.append(KeyHelp("s", "next section"))
    if has_set:
        keys.append(KeyHelp(">/< NN#", "standby song" if not playing else "song after this"))
    keys += [KeyHelp("l", "loop section"), KeyHelp("-/+ NN%", "tempo")]
    if has_take:
        keys += [KeyHelp("g/x", "take good/no good"), KeyHelp("n", "note on take")]
    keys += [KeyHelp("c/y/b", "mark cue/lyric/breath"), KeyHelp("t", "tap tempo")]
    keys.append(KeyHelp("q", "quit" if not playing else "again: quit" if asking else "quit (twice)"))
    return tuple(keys)


def typing_text(entered: OperatorInput) -> str:
    if entered.note is not None:
        return f"note: {entered.note}_"
    return f"bar {entered.typed}_" if entered.typed else ""
