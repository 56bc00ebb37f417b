"""Load a show file: read it, its patch and its audio headers, and compile every song, reporting all problems."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import yaml

from showcontrol.audio.files import audio_length
from showcontrol.errors import AudioFileError, Problem, ShowFileError, quoted
from showcontrol.load.click_reader import read_click, read_click_feeds, read_count_in
from showcontrol.load.cue_reader import read_cue
from showcontrol.load.limits import MAX_CUES, MAX_EVENTS, MAX_LYRICS, MAX_SONG_ID, MAX_SONG_SECONDS, MAX_SONGS
from showcontrol.load.patch_file import DEFAULT_PATCH, load_patch
from showcontrol.load.reader import NAME, AnyKey, Fields, Node, Reader, collector_paused, compose_file, suggestion
from showcontrol.load.rights_reader import read_rights
from showcontrol.load.setlist_reader import read_setlist
from showcontrol.load.tempo_reader import read_beat_unit, read_tempo
from showcontrol.model.patch import MAIN_CLICK, OUTPUT_TYPES, MidiOutput, Patch
from showcontrol.model.position import BarBeat, Position, Seconds, SectionOffset
from showcontrol.model.profile import Profile
from showcontrol.model.setlist import Setlist
from showcontrol.model.show import (
    ClickSettings,
    CountIn,
    Lyric,
    MidiAction,
    MqttAction,
    OscAction,
    Section,
    Show,
    Song,
    TimecodeSettings,
    Track,
)
from showcontrol.model.timecode import RATES, parse_label
from showcontrol.timeline.compile import compile_song, feeds
from showcontrol.timeline.events import Kind, Timeline
from showcontrol.timeline.sync import SyncStreams, with_sync
from showcontrol.timeline.tempo import Rate, TempoMap

SHOW_KEYS = ("version", "show", "patch", "ticks_per_beat", "demo", "songs", "setlist")
SONG_KEYS = (
    "id",
    "title",
    "audio",
    "tracks",
    "first_downbeat",
    "end",
    "gain_db",
    "tempo",
    "sections",
    "count_in",
    "click",
    "timecode",
    "lyrics",
    "cues",
    "notes",
    "rights",
)
TRACK_KEYS = ("audio", "first_downbeat", "at", "bpm", "beat_unit", "gain_db", "enter", "leave", "fade", "notes", "rights")
LYRIC_KEYS = ("at", "text", "breath", "performer")
ACTION_TYPE = {OscAction: "osc", MidiAction: "midi", MqttAction: "mqtt"}

_SONG_ID = re.compile(r"^[A-Za-z0-9][\w.-]*$")


@dataclass(frozen=True)
class LoadedShow:
    """A show ready to play: its model, each song compiled at the engine rate, and the warnings found."""

    show: Show
    sample_rate: int  # the audio device's (and a render's) rate
    timelines: Mapping[str, Timeline]
    warnings: tuple[Problem, ...]
    speed: Fraction = Fraction(1)  # playback speed: timelines are compiled at sample_rate / speed
    keep_pitch: bool = False  # a rehearsal tempo (track time-stretched), not film varispeed (track resampled)
    realtime_timecode: bool = False  # at another speed, LTC and MTC still run at their nominal rate

    def patch_for(self, song_id: str) -> Patch:
        """The patch while `song_id` plays: its routes and the outputs it may use (`show.patch.outputs`: all, opened once)."""
        return self.show.patch.for_song(song_id)


def load_show(
    path: Path,
    patch_path: Path | None = None,
    sample_rate: int | None = None,
    *,
    with_audio: bool = True,
    speed: Fraction = Fraction(1),
    keep_pitch: bool = False,
    realtime_timecode: bool = False,
) -> LoadedShow:
    """Load and validate everything; raise ShowFileError with every problem, in file order.

    At a `speed` other than 1 (film pull-up/down, slow-motion playback) every song is compiled at
    sample_rate / speed frames per song second: the track is resampled to that rate (its pitch moves,
    as with varispeed) or, with `keep_pitch`, time-stretched (a rehearsal tempo); click, cues, LTC,
    MTC and MIDI clock land on the scaled frames together.

    With `realtime_timecode`, LTC and MTC keep their nominal rate at another speed (cameras that must
    not see slow timecode), counting from the song's start timecode at song time zero.

    `with_audio=False` skips opening the audio files (songs then need an `end`); the demo-track
    generator uses it to read the tempo maps it synthesises music for.
    """
    with collector_paused():
        return _load_show(path, patch_path, sample_rate, with_audio, speed, keep_pitch, realtime_timecode)


def _load_show(
    path: Path,
    patch_path: Path | None,
    sample_rate: int | None,
    with_audio: bool,
    speed: Fraction,
    keep_pitch: bool,
    realtime_timecode: bool,
) -> LoadedShow:
    reader = Reader(path)
    root = compose_file(path, "show file")
    top = reader.top(root, "a show file", "the show file", SHOW_KEYS, required=("version", "songs"))
    if top is None:
        raise ShowFileError(reader.problems)
    if (version := top.get("version")) is not None:
        reader.version(version)
    title = (reader.text(n, "show") if (n := top.get("show")) is not None else None) or path.stem
    ticks = (reader.integer(n, "ticks_per_beat", 1, 9600) or 480) if (n := top.get("ticks_per_beat")) is not None else 480
    demo = bool(reader.boolean(n, "demo")) if (n := top.get("demo")) is not None else False
    patch, patch_problems, patch_warnings = _patch(reader, top, patch_path)
    device_rate = sample_rate or patch.audio.sample_rate
    rate: Rate = device_rate if speed == 1 else Fraction(device_rate) / speed

    songs_node = top.get("songs")
    song_nodes = _counted(reader, songs_node, "songs", MAX_SONGS) if songs_node is not None else []
    causes = set(patch_problems)  # a patch's problems are the cause of what follows them: reported first
    unread_patch = patch is DEFAULT_PATCH and bool(causes)
    profiles = {name: out.profile for name, out in patch.outputs.items() if out.profile is not None}
    songs = [song for node in song_nodes if (song := _song(reader, node, profiles, bool(patch_problems)))]
    if isinstance(songs_node, yaml.SequenceNode) and not song_nodes:
        reader.problem(songs_node, "the show has no songs", "add at least one entry under songs:")
    seen: dict[str, Song] = {}
    for song in songs:
        if song.id in seen:
            reader.problems.append(
                Problem(song.mark, f"song id {song.id!r} is used twice", f"give each song its own id; the first is at {seen[song.id].mark}")
            )
        seen.setdefault(song.id, song)
    setlist = read_setlist(reader, n, [i for i in seen if i != "?"]) if (n := top.get("setlist")) is not None else Setlist()
    if not unread_patch:  # a patch that could not be read has no outputs to check the cues against
        _check_outputs(reader, songs, patch)
        _warn_unknown_song_patches(reader, patch, list(seen))
    _warn_routes(reader, songs, patch, root)

    problems = [*patch_problems, *reader.problems]
    timelines: dict[str, Timeline] = {}
    events = 0  # estimated before each song compiles, against MAX_EVENTS
    for song in songs:  # compile even when other things are wrong, so one report lists everything
        if not song.tempo or (song.end is None and not song.tracks):  # the reader said why
            continue
        frames: list[int] = []
        for track in song.tracks if with_audio else ():
            if (length := _track_length(track, rate, demo, path, problems)) is not None:
                frames.append(length)
        if len(frames) < len(song.tracks) and (with_audio or song.end is None):
            continue
        if (seconds := _song_seconds(song, ticks, frames, rate)) is not None:
            if (too_long := _length_problem(song, seconds)) is not None:
                problems.append(too_long)
                continue
            song_events = _events(song, seconds)
            events += song_events
            if events > MAX_EVENTS:
                message = (
                    f"the show's timelines would hold more than {MAX_EVENTS:,} beats, clicks and cues (this song about {song_events:,})"
                )
                problems.append(Problem(song.mark, message, "fewer click feeds or subdivisions, shorter songs, or fewer songs per show"))
                continue
        try:
            timelines[song.id] = _compile(
                song, ticks, rate, frames if with_audio else None, patch, device_rate if realtime_timecode else None
            )
        except ShowFileError as error:
            problems.extend(error.problems)
            continue
        problems.extend(_late_breaths(song, timelines[song.id]))
    if problems:
        unique = dict.fromkeys(problems)  # a tempo map can be reported by the reader and the compiler alike
        raise ShowFileError(sorted(unique, key=lambda p: (p not in causes, p.mark.path != str(path), p.mark.path, p.mark.line, p.mark.col)))
    show = Show(path, title, patch, ticks, tuple(songs), demo, setlist)
    return LoadedShow(show, device_rate, timelines, (*patch_warnings, *reader.warnings), speed, keep_pitch, realtime_timecode)


def _track_length(track: Track, rate: Rate, demo: bool, show_path: Path, problems: list[Problem]) -> int | None:
    """A track's length in frames at `rate`, or None with a problem: missing (a demo show says how to make it),
    not audio, over MAX_SONG_SECONDS, or shorter than its own first_downbeat."""
    if demo and not track.audio.exists():
        hint = f"synthesise the demo's tracks with: showcontrol demo {show_path}"
        problems.append(Problem(track.mark, f"{track.audio} does not exist yet", hint))
        return None
    try:
        frames = audio_length(track.audio, rate)
    except AudioFileError as error:
        problems.append(Problem(track.mark, str(error), "give the path relative to the show file; WAV, FLAC, OGG and MP3 load"))
        return None
    seconds = Fraction(frames) / rate
    if seconds > MAX_SONG_SECONDS:
        problems.append(
            Problem(track.mark, f"{track.audio.name} lasts {float(seconds):.0f} s; the limit is {MAX_SONG_SECONDS} s", "split the song")
        )
        return None
    if track.first_downbeat >= seconds:
        problems.append(
            Problem(
                track.mark,
                f"first_downbeat {float(track.first_downbeat):g} s is past the end of {track.audio.name} ({float(seconds):.3f} s)",
                "give the time in seconds where bar 1 sounds in this file",
            )
        )
        return None
    return frames


def _length_problem(song: Song, seconds: float) -> Problem | None:
    if seconds <= MAX_SONG_SECONDS:
        return None
    return Problem(
        song.mark,
        f"song {song.id!r} ends {seconds:,.0f} s in; the limit is {MAX_SONG_SECONDS} s",
        "check end:, the tracks' at: and bpm:, and the tempo map",
    )


def _song_seconds(song: Song, ticks: int, frames: list[int], rate: Rate) -> float | None:
    """Where a song ends, in seconds from bar 1, found from the tempo map without compiling (which walks every
    beat up to the end: `end: 1000000000000.1` on a click-only song, a track placed at bar 9000 or stretched
    to fifty times its length); None when the compiler will say why it cannot be placed."""
    bars = {s.name: s.bar for s in song.sections}
    try:
        tempo = TempoMap(song.tempo, Fraction(0), ticks)
    except ValueError:
        return None  # a tempo map the compiler reports
    if song.end is not None:
        return _seconds_at(song.end, tempo, bars)
    slowest = min(change.quarter_bpm for change in song.tempo)
    longest = 0.0
    for track, length in zip(song.tracks, frames, strict=False):
        start = _seconds_at(track.at, tempo, bars)
        if start is None:
            return None
        stretch = max(1.0, float(track.native_bpm / slowest)) if track.native_bpm else 1.0
        longest = max(longest, start + float(length / rate) * stretch)
    return longest


def _seconds_at(position: Position, tempo: TempoMap, bars: Mapping[str, int]) -> float | None:
    if isinstance(position, Seconds):
        return float(position.seconds)
    if isinstance(position, SectionOffset):
        if position.section not in bars:
            return None
        position = BarBeat(bars[position.section] + position.bar - 1, position.beat, position.tick)
    return float(tempo.seconds(position))


def _events(song: Song, seconds: float) -> int:
    """About how many events a song's timeline holds: its beats (at the fastest tempo) once for monitors and
    once per click subdivision of each feed, its cues and lyrics."""
    beats_per_second = max(change.quarter_bpm / 60 * change.meter.denominator / 4 for change in song.tempo)
    clicks = 1 + sum(click.subdivide for _, click, _ in feeds(song) if click.enabled)
    return int(max(seconds, 0) * beats_per_second * clicks) + len(song.cues) + 2 * len(song.lyrics)


def _late_breaths(song: Song, timeline: Timeline) -> list[Problem]:
    """A breath mark is taken before its line: one at or after the line's start is a mistake."""
    starts = {id(e.payload): e.at_frame for e in timeline.of_kind(Kind.LYRIC)}
    return [
        Problem(
            lyric.mark,
            f"the breath at {lyric.breath} comes after its line starts at {lyric.at}",
            "a breath mark is where the performer breathes before the line: move it earlier",
        )
        for breath in timeline.of_kind(Kind.BREATH)
        if isinstance(lyric := breath.payload, Lyric) and breath.at_frame >= starts.get(id(lyric), breath.at_frame + 1)
    ]


def compile_at_speed(loaded: LoadedShow, song_id: str, speed: Fraction) -> Timeline:
    """One song of a loaded show compiled again for another rehearsal tempo, from the model in memory (the
    show file may be mid-edit on disk); raises ShowFileError or AudioFileError if its tracks went away."""
    song, rate = loaded.show.song(song_id), Fraction(loaded.sample_rate) / speed
    frames = [audio_length(track.audio, rate) for track in song.tracks]
    realtime = loaded.sample_rate if loaded.realtime_timecode else None
    return _compile(song, loaded.show.ticks_per_beat, rate if speed != 1 else loaded.sample_rate, frames, loaded.show.patch, realtime)


def _compile(song: Song, ticks: int, rate: Rate, frames: list[int] | None, patch: Patch, timecode_rate: int | None) -> Timeline:
    """A song's timeline at `rate`, with MIDI clock and MTC (on the outputs the song may use); timecode counts
    at `timecode_rate` if given (real time at a rehearsal tempo) instead of following the song."""
    compiled = compile_song(song, ticks, rate, frames)
    if timecode_rate is not None and compiled.ltc is not None and rate != timecode_rate:
        compiled = replace(compiled, ltc=replace(compiled.ltc, clock_rate=timecode_rate))
    return with_sync(compiled, sync_streams(patch.for_song(song.id)))


def sync_streams(patch: Patch) -> dict[str, SyncStreams]:
    return {
        name: SyncStreams(out.clock, out.mtc)
        for name, out in patch.outputs.items()
        if isinstance(out, MidiOutput) and (out.clock or out.mtc)
    }


def _patch(reader: Reader, top: Fields, override: Path | None) -> tuple[Patch, list[Problem], list[Problem]]:
    node = top.get("patch")
    if override is None and node is None:
        return DEFAULT_PATCH, [], []
    if override is not None:
        path = override
    else:
        assert node is not None
        if (text := reader.text(node, "patch")) is None:
            return DEFAULT_PATCH, [], []
        path = reader.path.parent / text
    patch_reader = Reader(path)
    try:
        patch = load_patch(path, patch_reader)
    except ShowFileError as error:
        if node is not None and override is None and not path.is_file():  # told where the show names it
            what = "not found" if not path.exists() else "is a folder, pipe or device, not a file"
            return DEFAULT_PATCH, [Problem(reader.mark(node), f"patch file {path} {what}", "give its path relative to the show file")], []
        return DEFAULT_PATCH, list(error.problems), []
    return patch or DEFAULT_PATCH, patch_reader.problems, patch_reader.warnings


def _song(reader: Reader, node: Node, profiles: Mapping[str, Profile], patch_unsure: bool) -> Song | None:
    fields = reader.fields(node, "song", SONG_KEYS, required=("id", "tempo"))
    if fields is None:
        return None
    song_id = reader.text(n, "song id") if (n := fields.get("id")) is not None else None
    if song_id is not None and len(song_id) > MAX_SONG_ID:
        reader.problem(
            fields.get("id") or node,
            f"song id is {len(song_id)} characters long; the limit is {MAX_SONG_ID}",
            "shorten it: it names the song's show logs",
        )
        song_id = None
    elif song_id is not None and not _SONG_ID.match(song_id):
        reader.problem(
            fields.get("id") or node,
            f"song id {quoted(song_id)} has spaces or symbols",
            "use letters, digits, '-', '_' and '.', e.g. elastic-heart",
        )
    first_downbeat = (
        reader.number(n, "first_downbeat", 0, 3600, "0.512") if (n := fields.get("first_downbeat")) is not None else Fraction(0)
    )
    tracks: tuple[Track, ...] = ()
    if (n := fields.get("audio")) is not None and (text := reader.text(n, "audio")):
        tracks = (Track(reader.path.parent / text, first_downbeat or Fraction(0), mark=reader.mark(n)),)
    if (n := fields.get("tracks")) is not None:
        if "audio" in fields or "first_downbeat" in fields:
            reader.problem(
                n, "a song with tracks: takes no audio: or first_downbeat: of its own", "give each track its audio and first_downbeat"
            )
        tracks = tuple(track for item in reader.items(n, "tracks") if (track := _track(reader, item)))
    tempo = read_tempo(reader, n) if (n := fields.get("tempo")) is not None else ()
    count_in = read_count_in(reader, n) if (n := fields.get("count_in")) is not None else CountIn()
    sections = _sections(reader, n) if (n := fields.get("sections")) is not None else ()
    names = [section.name for section in sections]
    click, click_fields = (
        read_click(reader, n, ClickSettings(), "click", names, ("feeds",))
        if (n := fields.get("click")) is not None
        else (ClickSettings(), None)
    )
    feeds_node = click_fields.get("feeds") if click_fields is not None else None
    song = Song(
        id=song_id or "?",
        title=(reader.text(n, "title") if (n := fields.get("title")) is not None else None) or song_id or "?",
        tracks=tracks,
        first_downbeat=first_downbeat if first_downbeat is not None and not tracks else Fraction(0),
        end=reader.position(n, "end") if (n := fields.get("end")) is not None else None,
        gain_db=float(reader.number(n, "gain_db", -60, 12, "-3") or 0) if (n := fields.get("gain_db")) is not None else 0.0,
        tempo=tempo,
        sections=sections,
        count_in=count_in,
        click=click,
        timecode=_timecode(reader, n) if (n := fields.get("timecode")) is not None else None,
        lyrics=tuple(lyric for item in _items(reader, fields, "lyrics", MAX_LYRICS) if (lyric := _lyric(reader, item))),
        cues=tuple(cue for item in _items(reader, fields, "cues", MAX_CUES) if (cue := read_cue(reader, item, profiles, patch_unsure))),
        mark=reader.mark(node),
        click_feeds=read_click_feeds(reader, feeds_node, click, count_in, names) if feeds_node is not None else (),
        rights=read_rights(reader, n) if (n := fields.get("rights")) is not None else None,
    )
    if not tracks and "end" not in fields and song_id is not None and "tracks" not in fields:
        reader.problem(node, f"song {song_id!r} has neither audio nor end", "add audio: FILE, or end: BAR.BEAT for a click-only song")
    return song


def _track(reader: Reader, node: Node) -> Track | None:
    """One recording of a mashup: its file, where its downbeat is, the bar it lands on, its tempo, entry and exit."""
    fields = reader.fields(node, "track", TRACK_KEYS, required=("audio",))
    if fields is None or (audio_node := fields.get("audio")) is None or not (text := reader.text(audio_node, "track audio")):
        return None
    at: BarBeat | SectionOffset = BarBeat(1)
    if (n := fields.get("at")) is not None:
        position = reader.position(n, "track at")
        if isinstance(position, BarBeat | SectionOffset):
            at = position
        elif position is not None:
            reader.problem(n, "a track is aligned to a bar, not to seconds", "e.g. at: 9 (its downbeat lands on bar 9)")
    bpm = None
    if (n := fields.get("bpm")) is not None:
        unit = read_beat_unit(reader, u) if (u := fields.get("beat_unit")) is not None else Fraction(1, 4)
        value = reader.number(n, "track bpm", 10, 500, "120")
        bpm = value * unit * 4 if value is not None and unit is not None else None
    number = reader.number
    return Track(
        audio=reader.path.parent / text,
        first_downbeat=(number(n, "first_downbeat", 0, 3600, "0.512") or Fraction(0))
        if (n := fields.get("first_downbeat"))
        else Fraction(0),
        at=at,
        native_bpm=bpm,
        gain_db=float(number(n, "track gain_db", -60, 12, "-3") or 0) if (n := fields.get("gain_db")) is not None else 0.0,
        enter=reader.position(n, "track enter") if (n := fields.get("enter")) is not None else None,
        leave=reader.position(n, "track leave") if (n := fields.get("leave")) is not None else None,
        fade_s=(number(n, "track fade", 0, 30, "0.5") or Fraction(0)) if (n := fields.get("fade")) is not None else Fraction(0),
        mark=reader.mark(node),
        rights=read_rights(reader, n) if (n := fields.get("rights")) is not None else None,
    )


def _items(reader: Reader, fields: Fields, key: str, limit: int) -> list[Node]:
    node = fields.get(key)
    return _counted(reader, node, key, limit) if node is not None else []


def _counted(reader: Reader, node: Node, key: str, limit: int) -> list[Node]:
    items = reader.items(node, key)
    if len(items) > limit:
        reader.problem(node, f"{key} has {len(items):,} entries; the limit is {limit:,}", "split them over more songs or shows")
        return []
    return items


def _sections(reader: Reader, node: Node) -> tuple[Section, ...]:
    fields = reader.fields(node, "sections", allowed=AnyKey())
    sections = []
    for name, (key_node, value_node) in fields.values.items() if fields else ():
        if not NAME.match(name):
            reader.problem(
                key_node, f"section name {name!r} cannot be used in positions", "start with a letter; use letters, digits, '-' and '_'"
            )
        bar = reader.integer(value_node, f"section {name!r} bar", -99, 99999)
        if bar is not None:
            sections.append(Section(name, bar, reader.mark(key_node)))
    return tuple(sections)


def _timecode(reader: Reader, node: Node) -> TimecodeSettings | None:
    fields = reader.fields(node, "timecode", ("rate", "start", "level_db"), required=("rate",))
    if fields is None or (rate_node := fields.get("rate")) is None:
        return None
    rate_name = str(rate_node.value).lower() if isinstance(rate_node, yaml.ScalarNode) else ""
    if rate_name not in RATES:
        hint = (
            "29.97 is only supported as drop-frame: write 29.97df"
            if rate_name in ("29.97", "29.97ndf")
            else suggestion(rate_name[:100], RATES)
        )
        reader.problem(rate_node, f"timecode rate {quoted(rate_name or 'value')} is not supported", hint)
        return None
    rate = RATES[rate_name]
    start_text = reader.text(n, "timecode start") if (n := fields.get("start")) is not None else "00:00:00:00"
    try:
        start = parse_label(start_text or "00:00:00:00", rate)
    except ValueError as error:
        reader.problem(fields.get("start") or node, f"timecode start: {error}", 'e.g. start: "01:00:00:00"')
        return None
    level = float(reader.number(n, "timecode level_db", -60, 0, "-12") or -12) if (n := fields.get("level_db")) is not None else -12.0
    return TimecodeSettings(rate, start, level, reader.mark(node))


def _lyric(reader: Reader, node: Node) -> Lyric | None:
    fields = reader.fields(node, "lyric", LYRIC_KEYS, required=("at", "text"))
    if fields is None or "at" not in fields or "text" not in fields:
        return None
    at = reader.position(fields.get("at") or node, "lyric at")
    text = reader.text(fields.get("text") or node, "lyric text")
    breath = reader.position(n, "breath") if (n := fields.get("breath")) is not None else None
    performer = reader.text(n, "performer") if (n := fields.get("performer")) is not None else None
    if at is None or text is None:
        return None
    return Lyric(at, text, breath, performer, reader.mark(node))


def _check_outputs(reader: Reader, songs: list[Song], whole: Patch) -> None:
    """Every action's `to` must be an output the patch gives its song, of the action's type."""
    for song in songs:
        patch = whole.for_song(song.id)
        for cue in song.cues:
            for action in cue.actions:
                kind = ACTION_TYPE[type(action)]
                output = patch.outputs.get(action.output)
                if output is None and (owner := whole.owner_of(action.output)) is not None:
                    message = f"output {action.output!r} is patched for song {owner!r} only"
                    hint = f"move it from songs: {owner}: outputs: to outputs:, so that every song may send to it (in {whole.path})"
                    reader.problems.append(Problem(action.mark, message, hint))
                elif output is None:
                    message = f"output {action.output!r} is not in the patch {patch.name!r}"
                    reader.problems.append(Problem(action.mark, message, _unpatched_hint(action.output, patch)))
                elif not isinstance(output, OUTPUT_TYPES[kind]):
                    actual = next(name for name, cls in OUTPUT_TYPES.items() if isinstance(output, cls))
                    message = f"output {action.output!r} is a {actual} output, but this action sends {kind}"
                    reader.problems.append(Problem(action.mark, message, f"send {actual} to it, or patch a {kind} output"))


def _unpatched_hint(name: str, patch: Patch) -> str:
    if patch.path is None:
        return "the show names no patch: add patch: ../hardware/YOUR-VENUE.yaml that defines this output"
    if not patch.outputs:
        return f"the patch defines no outputs: add {name} under outputs: in {patch.path}"
    return f"{suggestion(name, patch.outputs)} (outputs are defined in {patch.path})"


def _warn_unknown_song_patches(reader: Reader, patch: Patch, song_ids: list[str]) -> None:
    """A patch may serve several shows, so a song it names that this show lacks is a warning, not an error."""
    for song_id, song_patch in patch.songs.items():
        if song_id not in song_ids:
            message = f"the patch has settings for song {song_id!r}, which this show does not have"
            reader.warnings.append(Problem(song_patch.mark, message, suggestion(song_id[:100], song_ids)))


def _warn_routes(reader: Reader, songs: list[Song], patch: Patch, root: Node) -> None:
    """Feeds that no channel carries while their song plays (each song with its own routes from the patch)."""
    routes = {song.id: patch.for_song(song.id).audio.routes for song in songs}
    if any(s.click.enabled and not routes[s.id].get("click") for s in songs):
        reader.warn(
            root, "the patch routes no channel for the click, so performers hear none", "add routes: {click: N} to the patch's audio"
        )
    named = {f.feed: f for song in songs for f in song.click_feeds}
    for song in songs:
        for spec in song.click_feeds:
            if not routes[song.id].get(spec.feed):
                reader.warnings.append(
                    Problem(
                        spec.mark,
                        f"click feed {spec.name!r} has no channel in the patch, so {spec.name} would hear nothing",
                        f"add routes: {{clicks: {{{spec.name}: N}}}} to the patch's audio",
                    )
                )
    routed = {*patch.audio.routes, *(feed for song in patch.songs.values() for feed in song.routes)}
    for feed in routed:
        if feed.startswith(f"{MAIN_CLICK}:") and feed not in named:
            reader.warn(
                root, f"the patch routes a click feed {feed.split(':', 1)[1]!r} that no song has", "add it under a song's click: feeds:"
            )
    if any(s.timecode and not routes[s.id].get("ltc") for s in songs):
        reader.warn(root, "songs have timecode but the patch routes no channel for LTC", "add routes: {ltc: N} to the patch's audio")
