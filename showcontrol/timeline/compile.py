"""Compile a song into its timeline: every position resolved to a frame once, every problem reported."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from fractions import Fraction

from showcontrol.errors import Problem, ShowFileError, SourceMark
from showcontrol.model.patch import MAIN_CLICK
from showcontrol.model.position import BarBeat, Position, Seconds, SectionOffset
from showcontrol.model.show import ClickSettings, CountIn, MidiAction, MqttAction, OscAction, Song
from showcontrol.model.timecode import label_to_count
from showcontrol.timeline.clicks import beat_events, call_events, click_events, count_in_events
from showcontrol.timeline.events import ORDER_AT_SAME_FRAME, Event, Kind, LtcSpec, Timeline
from showcontrol.timeline.tempo import Rate, TempoMap, frame_at, tempo_problems
from showcontrol.timeline.tracks import TrackPlacement, place_track, song_first_downbeat

ACTION_KINDS = {OscAction: Kind.OSC, MidiAction: Kind.MIDI, MqttAction: Kind.MQTT}


class _Unplaceable(ValueError):
    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


class _Resolver:
    """Turns positions into (frame, bar.beat.tick), checking they exist and lie inside the song."""

    def __init__(self, song: Song, tempo: TempoMap, sample_rate: Rate) -> None:
        self.song = song
        self.tempo = tempo
        self.sample_rate = sample_rate
        self.sections = {s.name: s.bar for s in song.sections}
        self.end_frame: int | None = None

    def musical(self, position: Position) -> BarBeat | Seconds:
        if isinstance(position, SectionOffset):
            if position.section not in self.sections:
                close = difflib.get_close_matches(position.section, self.sections, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"sections of this song: {', '.join(self.sections) or 'none'}"
                raise _Unplaceable(f"no section named {position.section!r}", hint)
            return BarBeat(self.sections[position.section] + position.bar - 1, position.beat, position.tick)
        return position

    def place(self, position: Position) -> tuple[int, BarBeat]:
        where = self.musical(position)
        if isinstance(where, Seconds):
            frame = frame_at(where.seconds, self.sample_rate)
            bar_beat = self.tempo.position_at(where.seconds)
        else:
            if reason := self.tempo.check(where):
                raise _Unplaceable(reason, "fix the beat or tick, or move it to the next bar")
            frame = self.tempo.frame(where, self.sample_rate)
            bar_beat = where
        if frame < 0:
            raise _Unplaceable(
                f"{position} is {-frame / self.sample_rate:.3f} s before the start of the audio",
                "use a later position, or a larger first_downbeat if the song really starts later in the file",
            )
        if self.end_frame is not None and frame > self.end_frame:
            raise _Unplaceable(
                f"{position} is at {frame / self.sample_rate:.3f} s, after the song ends at {self.end_frame / self.sample_rate:.3f} s",
                "move it inside the song, or check the tempo map and first_downbeat",
            )
        return frame, bar_beat


def compile_song(song: Song, ticks_per_beat: int, sample_rate: Rate, track_frames: Sequence[int] | None) -> Timeline:
    """Resolve every position of a song and order its events; raise ShowFileError listing all problems.

    `track_frames` are the lengths of the song's decoded tracks at `sample_rate`, unstretched (None
    when the audio is not opened: the song then needs an `end`).
    """
    problems: list[Problem] = []
    aligned = _track_bars(song)
    try:
        tempo = TempoMap(song.tempo, song_first_downbeat(song, aligned, ticks_per_beat), ticks_per_beat)
    except ValueError:
        raise ShowFileError(_tempo_problem(song)) from None
    resolver = _Resolver(song, tempo, sample_rate)
    events: list[Event] = []

    def place(position: Position, mark: SourceMark, what: str) -> tuple[int, BarBeat] | None:
        try:
            return resolver.place(position)
        except _Unplaceable as error:
            problems.append(Problem(mark, f"{what} at {position}: {error}", error.hint))
            return None

    tracks = _place_tracks(song, aligned, tempo, sample_rate, track_frames, place, problems)
    audio_frames = max((t.end_frame for t in tracks), default=0) if tracks else None
    end_frame = audio_frames
    if song.end is not None:
        try:
            end_frame, _ = resolver.place(song.end)
        except _Unplaceable as error:
            problems.append(Problem(song.mark, f"end: {error}", error.hint))
        if audio_frames is not None and end_frame is not None and end_frame > audio_frames:
            problems.append(
                Problem(
                    song.mark,
                    f"end {song.end} is after the audio ends ({audio_frames / sample_rate:.3f} s)",
                    "remove end, or use an earlier one",
                )
            )
    if end_frame is None:
        raise ShowFileError(
            [*problems, Problem(song.mark, f"song {song.id!r} has no audio and no end", "add audio: FILE or end: BAR.BEAT")]
        )
    resolver.end_frame = end_frame

    for section in song.sections:
        if placed := place(BarBeat(section.bar), section.mark, f"section {section.name!r}"):
            events.append(Event(*placed, Kind.SECTION, "", section))
    for lyric in song.lyrics:
        if placed := place(lyric.at, lyric.mark, "lyric"):
            events.append(Event(*placed, Kind.LYRIC, "", lyric))
        if lyric.breath is not None and (placed := place(lyric.breath, lyric.mark, "breath mark")):
            events.append(Event(*placed, Kind.BREATH, "", lyric))
    for cue in song.cues:
        if placed := place(cue.at, cue.mark, f"cue {cue.name!r}" if cue.name else "cue"):
            events.extend(Event(*placed, ACTION_KINDS[type(a)], a.output, a, cue.name, cue.once) for a in cue.actions)

    if problems:
        raise ShowFileError(problems)

    events.extend(beat_events(tempo, sample_rate, end_frame))
    count_in: list[Event] = []
    for feed, click, feed_count_in in feeds(song):
        if click.enabled and click.calls is not None:
            events.extend(call_events(tempo, song.sections, click.calls, sample_rate, feed))
        if click.enabled:
            events.extend(click_events(tempo, click, sample_rate, end_frame, feed))
        count_in.extend(count_in_events(tempo, BarBeat(1), feed_count_in, sample_rate, feed))
    events.extend(count_in)
    events.append(Event(end_frame, tempo.position_at(Fraction(end_frame, sample_rate)), Kind.END, "", None))
    events.sort(key=lambda e: (e.at_frame, ORDER_AT_SAME_FRAME[e.kind]))

    ltc = None
    if song.timecode is not None:
        tc = song.timecode
        ltc = LtcSpec(tc.rate, label_to_count(tc.start, tc.rate), tc.level_db)
    start_frame = min([0, *(e.at_frame for e in count_in)])
    return Timeline(song.id, sample_rate, start_frame, end_frame, tempo, ltc, tuple(events), tracks)


def feeds(song: Song) -> list[tuple[str, ClickSettings, CountIn]]:
    """Every earpiece feed: the song's own click (its count-in sounds even with the click off) and each performer's."""
    return [(MAIN_CLICK, song.click, song.count_in), *((f.feed, f.click, f.count_in) for f in song.click_feeds)]


def _track_bars(song: Song) -> list[BarBeat]:
    """Each track's `at` as a bar.beat (a section name resolved); raises ShowFileError."""
    sections = {s.name: s.bar for s in song.sections}
    bars = []
    for track in song.tracks:
        at = track.at
        if isinstance(at, SectionOffset):
            if at.section not in sections:
                close = difflib.get_close_matches(at.section, sections, n=1)
                hint = f"did you mean {close[0]!r}?" if close else "give a bar number, e.g. at: 9"
                raise ShowFileError([Problem(track.mark, f"track {track.audio.name}: no section named {at.section!r}", hint)])
            at = BarBeat(sections[at.section] + at.bar - 1, at.beat, at.tick)
        bars.append(at)
    return bars


def _place_tracks(
    song: Song,
    aligned: list[BarBeat],
    tempo: TempoMap,
    sample_rate: Rate,
    track_frames: Sequence[int] | None,
    place: Callable[[Position, SourceMark, str], tuple[int, BarBeat] | None],
    problems: list[Problem],
) -> tuple[TrackPlacement, ...]:
    """Every track on the song's frames, its entry and exit checked (leave after enter)."""
    if track_frames is None:
        return ()
    placed = []
    for track, at, frames in zip(song.tracks, aligned, track_frames, strict=True):
        what = f"track {track.audio.name}"
        if reason := tempo.check(at):
            problems.append(Problem(track.mark, f"{what} at {at}: {reason}", "fix the beat, or align the track to a bar"))
            continue
        enter = place(track.enter, track.mark, f"{what} enter") if track.enter is not None else None
        leave = place(track.leave, track.mark, f"{what} leave") if track.leave is not None else None
        if enter is not None and leave is not None and leave[0] <= enter[0]:
            problems.append(Problem(track.mark, f"{what} leaves at {leave[1]}, before it enters at {enter[1]}", "leave after enter"))
            continue
        placed.append(place_track(track, at, tempo, sample_rate, frames, enter and enter[0], leave and leave[0]))
    return tuple(placed)


def _tempo_problem(song: Song) -> list[Problem]:
    return tempo_problems(song.tempo) or [
        Problem(song.mark, f"song {song.id!r} has an empty tempo map", "add tempo: [{bar: 1, bpm: 120, meter: 4/4}]")
    ]
