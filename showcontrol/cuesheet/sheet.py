"""The production's music cue sheet as plain values: its header, and one use per song (per source
recording, in a mashup) and per chosen take, with the rights of what was used and for how long.

Pure: the loaded show and the takes come in; the CSV and PDF edges format what this returns. Fields
follow the US societies' cue sheets (ASCAP/BMI, RapidCue) and DDEX's Cue composite (start time and
duration, ISRC, ISWC, title, use, vocal and visual type): docs/takes-and-cuesheets.md cites them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

from showcontrol.load.show_file import LoadedShow
from showcontrol.model.rights import Rights
from showcontrol.model.show import Song
from showcontrol.model.timecode import count_to_label
from showcontrol.takes.record import Take, chosen, usable
from showcontrol.timeline.events import Timeline


@dataclass(frozen=True, slots=True)
class Header:
    series: str
    episode: str = ""
    episode_number: str = ""
    production: str = ""  # the production number
    date: str = ""  # YYYY-MM-DD
    company: str = ""


@dataclass(frozen=True, slots=True)
class Use:
    """One line of the cue sheet: a work, as recorded, heard from `start_s` to `end_s` of its song."""

    sequence: int
    cue: str  # M01, M02, ...: a mashup's sources share their song's cue number
    song: str
    rights: Rights  # title filled in (the song's, or the track's file name)
    timing_in: str
    timing_out: str
    start_s: float  # seconds into the song (its own time)
    end_s: float
    duration_s: float  # seconds the music was heard, at the tempo it played
    take: str = ""  # the take's id, or "" for the whole show
    mashup: str = ""  # the song's title, when this is one of its several source recordings


@dataclass(frozen=True, slots=True)
class CueSheet:
    header: Header
    uses: tuple[Use, ...]
    notes: tuple[str, ...]  # what the supervisor should check: missing rights, several takes of one song

    @property
    def total_s(self) -> float:
        return sum(use.duration_s for use in self.uses)


@dataclass(frozen=True, slots=True)
class _Span:
    """Part of one song that was heard: [start_s, end_s) in song seconds, `factor` times as fast as recorded."""

    song: Song
    start_s: float
    end_s: float
    factor: float
    take: str


def cue_sheet(loaded: LoadedShow, takes: Sequence[Take] | None, header: Header) -> CueSheet:
    """The cue sheet of the chosen takes (good ones where marked, else every complete take), or of the
    whole show (every song, top to end) without takes."""
    notes: list[str] = []
    spans = _whole_show(loaded) if takes is None else _chosen_spans(loaded, takes, notes)
    uses: list[Use] = []
    for index, span in enumerate(spans, start=1):
        timeline = loaded.timelines[span.song.id]
        for source in _sources(span, timeline, notes):
            uses.append(_use(len(uses) + 1, f"M{index:02d}", span, source, timeline))
    return CueSheet(header, tuple(uses), tuple(dict.fromkeys(notes)))


def _whole_show(loaded: LoadedShow) -> list[_Span]:
    return [
        _Span(s, 0.0, float(Fraction(loaded.timelines[s.id].end_frame) / loaded.timelines[s.id].sample_rate), 1.0, "")
        for s in loaded.show.songs
    ]


def _chosen_spans(loaded: LoadedShow, takes: Sequence[Take], notes: list[str]) -> list[_Span]:
    order = {song.id: index for index, song in enumerate(loaded.show.songs)}
    picked = sorted(chosen(takes), key=lambda t: (order.get(t.song, len(order)), t.started_at))
    notes.extend(
        f"take {t.take_id} is marked good but {t.status}, where it ended is not known: not used" for t in takes if t.good and not usable(t)
    )
    spans = []
    for take in picked:
        if take.song not in order:
            notes.append(f"take {take.take_id}: the show has no song {take.song!r}; left out")
            continue
        if take.to_s is None:
            notes.append(f"take {take.take_id} ({take.status}): where it ended is not known; left out")
            continue
        spans.append(_Span(loaded.show.song(take.song), max(take.from_s, 0.0), take.to_s, take.factor, take.take_id))
    for song, count in _counts(picked).items():
        if count > 1 and not any(t.good for t in picked if t.song == song):
            notes.append(
                f"{song}: {count} complete takes and none marked good, so each is listed; mark the one used (showcontrol takes LOG --good --take ID)"
            )
    if not spans:
        notes.append("no take was chosen: mark takes good, or play them to the end")
    return spans


def _counts(takes: Sequence[Take]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for take in takes:
        counts[take.song] = counts.get(take.song, 0) + 1
    return counts


@dataclass(frozen=True, slots=True)
class _Source:
    rights: Rights
    start_s: float
    end_s: float


def _sources(span: _Span, timeline: Timeline, notes: list[str]) -> list[_Source]:
    """What was heard in the span: the song's own recording, or each mashup track heard during it."""
    song = span.song
    if len(timeline.tracks) <= 1:
        if song.rights is None:
            notes.append(f"{song.id}: no rights in the show file; its line is left blank")
        rights = song.rights or Rights()
        return [_Source(_titled(rights, song.title), span.start_s, span.end_s)]
    sources = []
    rate = timeline.sample_rate
    for placement in timeline.tracks:
        heard_from = placement.origin_frame if placement.enter_frame is None else max(placement.origin_frame, placement.enter_frame)
        heard_to = placement.origin_frame + placement.frames if placement.leave_frame is None else placement.leave_frame
        start = max(span.start_s, float(Fraction(heard_from) / rate))
        end = min(span.end_s, float(Fraction(heard_to) / rate))
        if end <= start:
            continue
        track = placement.track
        if track.rights is None:
            notes.append(f"{song.id}: its track {track.audio.name} has no rights in the show file; its line is left blank")
        rights = (track.rights or Rights()).over(song.rights)
        sources.append(_Source(_titled(rights, track.audio.stem), start, end))
    return sources


def _titled(rights: Rights, title: str) -> Rights:
    if rights.title:
        return rights
    return replace(rights, title=title)


def _use(sequence: int, cue: str, span: _Span, source: _Source, timeline: Timeline) -> Use:
    mashup = span.song.title if len(timeline.tracks) > 1 else ""
    return Use(
        sequence=sequence,
        cue=cue,
        song=span.song.id,
        rights=source.rights,
        timing_in=timing_text(source.start_s, timeline),
        timing_out=timing_text(source.end_s, timeline),
        start_s=round(source.start_s, 3),
        end_s=round(source.end_s, 3),
        duration_s=round((source.end_s - source.start_s) / span.factor, 3),
        take=span.take,
        mashup=mashup,
    )


def timing_text(song_s: float, timeline: Timeline) -> str:
    """Where a use starts or ends: the song's timecode there (what the cameras' audio carries), or, for a
    song without timecode, the time into the song as HH:MM:SS.mmm."""
    ltc = timeline.ltc
    if ltc is not None and ltc.clock_rate is None:
        count = ltc.start_count + math.floor(Fraction(song_s) * ltc.rate.fps + Fraction(1, 10**6))
        return count_to_label(count, ltc.rate).format(ltc.rate.drop)
    hours, rest = divmod(max(song_s, 0.0), 3600)
    return f"{int(hours):02d}:{int(rest // 60):02d}:{rest % 60:06.3f}"


def duration_text(seconds: float) -> str:
    """A cue sheet's duration, MM:SS to the nearest second (HH:MM:SS past an hour)."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


def iso_duration(seconds: float) -> str:
    """ISO 8601 as DDEX's cue records write durations: PT1M4.5S."""
    minutes, rest = divmod(round(seconds, 3), 60)
    text = f"{rest:.3f}".rstrip("0").rstrip(".")
    return f"PT{int(minutes)}M{text}S" if minutes else f"PT{text}S"
