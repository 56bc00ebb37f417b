"""Load a show file: read it, its patch and its audio headers, and compile every song, reporting all problems."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import yaml

from showcontrol.audio.files import audio_length
from showcontrol.codec import msc
from showcontrol.errors import AudioFileError, Problem, ShowFileError
from showcontrol.load.patch_file import DEFAULT_PATCH, load_patch
from showcontrol.load.profile_actions import expand
from showcontrol.load.reader import AnyKey, Fields, Node, Reader, compose_file, suggestion
from showcontrol.model.patch import MAIN_CLICK, OUTPUT_TYPES, MidiOutput, Patch
from showcontrol.model.position import BarBeat, SectionOffset
from showcontrol.model.profile import Profile
from showcontrol.model.show import (
    MIDI_KINDS,
    Action,
    ClickFeed,
    ClickSettings,
    CountIn,
    Cue,
    GuideCalls,
    Lyric,
    Meter,
    MidiAction,
    MqttAction,
    OscAction,
    Section,
    Show,
    Song,
    TempoChange,
    TimecodeSettings,
    Track,
    default_groups,
)
from showcontrol.timeline.compile import compile_song
from showcontrol.timeline.events import Timeline
from showcontrol.timeline.sync import SyncStreams, with_sync
from showcontrol.timeline.tempo import Rate
from showcontrol.timeline.timecode import RATES, parse_label

SHOW_KEYS = ("version", "show", "patch", "ticks_per_beat", "demo", "songs")
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
)
TEMPO_KEYS = ("bar", "bpm", "meter", "groups", "beat_unit", "ramp_bars")
TRACK_KEYS = ("audio", "first_downbeat", "at", "bpm", "beat_unit", "gain_db", "enter", "leave", "fade", "notes")
CLICK_KEYS = ("enabled", "level_db", "subdivide", "accents", "calls")
CUE_KEYS = ("at", "name", "once", "notes", "osc", "midi", "mqtt")
LYRIC_KEYS = ("at", "text", "breath", "performer")
OSC_KEYS = ("to", "address", "args")
MIDI_KEYS = ("to", "channel", "note_on", "note_off", "cc", "program", "msc")
MSC_KEYS = ("command", "cue", "list", "path", "device", "format", "macro", "control", "value", "timecode")
MSC_EXAMPLE = "e.g. msc: {command: go, cue: 12.5, list: 1}"
MQTT_KEYS = ("to", "topic", "payload", "qos", "retain")
ACTION_TYPE = {OscAction: "osc", MidiAction: "midi", MqttAction: "mqtt"}

_SONG_ID = re.compile(r"^[A-Za-z0-9][\w.-]*$")
_SECTION_NAME = re.compile(r"^[A-Za-z_][\w-]*$")
_METER = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
_OSC_ADDRESS = re.compile(r"^/[^\s#*,?\[\]{}]*$")
TEMPO_EXAMPLE = "tempo: [{bar: 1, bpm: 120, meter: 4/4}]"


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
    reader = Reader(path)
    root = compose_file(path, "show file")
    top = reader.fields(root, "the show file", SHOW_KEYS, required=("version", "songs"))
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
    song_nodes = reader.items(songs_node, "songs") if songs_node is not None else []
    profiles = {name: out.profile for name, out in patch.outputs.items() if out.profile is not None}
    songs = [song for node in song_nodes if (song := _song(reader, node, profiles))]
    if isinstance(songs_node, yaml.SequenceNode) and not song_nodes:
        reader.problem(songs_node, "the show has no songs", "add at least one entry under songs:")
    seen: dict[str, Song] = {}
    for song in songs:
        if song.id in seen:
            reader.problems.append(
                Problem(song.mark, f"song id {song.id!r} is used twice", f"give each song its own id; the first is at {seen[song.id].mark}")
            )
        seen.setdefault(song.id, song)
    _check_outputs(reader, songs, patch)
    _warn_routes(reader, songs, patch, root)

    problems = [*patch_problems, *reader.problems]
    timelines: dict[str, Timeline] = {}
    for song in songs:  # compile even when other things are wrong, so one report lists everything
        if not song.tempo:
            continue
        frames: list[int] = []
        for track in song.tracks if with_audio else ():
            try:
                frames.append(audio_length(track.audio, rate))
            except AudioFileError as error:
                problems.append(Problem(track.mark, str(error), "give the path relative to the show file; WAV, FLAC, OGG and MP3 load"))
        if len(frames) < len(song.tracks) and (with_audio or song.end is None):
            continue
        try:
            timelines[song.id] = _compile(song, ticks, rate, frames if with_audio else None, patch, device_rate if realtime_timecode else None)
        except ShowFileError as error:
            problems.extend(error.problems)
    if problems:
        unique = dict.fromkeys(problems)  # a tempo map can be reported by the reader and the compiler alike
        raise ShowFileError(sorted(unique, key=lambda p: (p.mark.path != str(path), p.mark.path, p.mark.line, p.mark.col)))
    show = Show(path, title, patch, ticks, tuple(songs), demo)
    return LoadedShow(show, device_rate, timelines, (*patch_warnings, *reader.warnings), speed, keep_pitch, realtime_timecode)


def compile_at_speed(loaded: LoadedShow, song_id: str, speed: Fraction) -> Timeline:
    """One song of a loaded show compiled again for another rehearsal tempo, from the model in memory (the
    show file may be mid-edit on disk); raises ShowFileError or AudioFileError if its tracks went away."""
    song, rate = loaded.show.song(song_id), Fraction(loaded.sample_rate) / speed
    frames = [audio_length(track.audio, rate) for track in song.tracks]
    realtime = loaded.sample_rate if loaded.realtime_timecode else None
    return _compile(song, loaded.show.ticks_per_beat, rate if speed != 1 else loaded.sample_rate, frames, loaded.show.patch, realtime)


def _compile(song: Song, ticks: int, rate: Rate, frames: list[int] | None, patch: Patch, timecode_rate: int | None) -> Timeline:
    """A song's timeline at `rate`, with MIDI clock and MTC; timecode counts at `timecode_rate` if given
    (real time at a rehearsal tempo) instead of following the song."""
    compiled = compile_song(song, ticks, rate, frames)
    if timecode_rate is not None and compiled.ltc is not None and rate != timecode_rate:
        compiled = replace(compiled, ltc=replace(compiled.ltc, clock_rate=timecode_rate))
    return with_sync(compiled, sync_streams(patch))


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
        path = reader.path.parent / (reader.text(node, "patch") or "")
    patch_reader = Reader(path)
    try:
        patch = load_patch(path, patch_reader)
    except ShowFileError as error:
        if node is not None and override is None and not path.exists():
            return (
                DEFAULT_PATCH,
                [Problem(reader.mark(node), f"patch file {path} not found", "give its path relative to the show file")],
                [],
            )
        return DEFAULT_PATCH, list(error.problems), []
    return patch or DEFAULT_PATCH, patch_reader.problems, patch_reader.warnings


def _song(reader: Reader, node: Node, profiles: Mapping[str, Profile]) -> Song | None:
    fields = reader.fields(node, "song", SONG_KEYS, required=("id", "tempo"))
    if fields is None:
        return None
    song_id = reader.text(n, "song id") if (n := fields.get("id")) is not None else None
    if song_id is not None and not _SONG_ID.match(song_id):
        reader.problem(
            fields.get("id") or node,
            f"song id {song_id!r} has spaces or symbols",
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
    tempo = _tempo(reader, n) if (n := fields.get("tempo")) is not None else ()
    count_in = _count_in(reader, n) if (n := fields.get("count_in")) is not None else CountIn()
    sections = _sections(reader, n) if (n := fields.get("sections")) is not None else ()
    names = [section.name for section in sections]
    click, click_fields = (
        _click(reader, n, ClickSettings(), "click", names, ("feeds",))
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
        lyrics=tuple(lyric for item in _items(reader, fields, "lyrics") if (lyric := _lyric(reader, item))),
        cues=tuple(cue for item in _items(reader, fields, "cues") if (cue := _cue(reader, item, profiles))),
        mark=reader.mark(node),
        click_feeds=_click_feeds(reader, feeds_node, click, count_in, names) if feeds_node is not None else (),
    )
    if not tracks and song.end is None and song_id is not None and "tracks" not in fields:
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
        unit = _beat_unit(reader, u) if (u := fields.get("beat_unit")) is not None else Fraction(1, 4)
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
    )


def _items(reader: Reader, fields: Fields, key: str) -> list[Node]:
    node = fields.get(key)
    return reader.items(node, key) if node is not None else []


def _tempo(reader: Reader, node: Node) -> tuple[TempoChange, ...]:
    entries = reader.items(node, "tempo")
    if not entries and isinstance(node, yaml.SequenceNode):
        reader.problem(node, "the tempo map is empty", f"add at least one entry: {TEMPO_EXAMPLE}")
    changes: list[TempoChange] = []
    bpm: Fraction | None = None
    meter = Meter(4, 4, (1, 1, 1, 1))
    for entry in entries:
        fields = reader.fields(entry, "tempo entry", TEMPO_KEYS, required=("bar",))
        if fields is None:
            continue
        bar = reader.integer(n, "tempo bar", 1, 99999) if (n := fields.get("bar")) is not None else None
        if (n := fields.get("meter")) is not None:
            meter = _meter(reader, n, fields.get("groups")) or meter
        elif (n := fields.get("groups")) is not None:
            meter = _meter_groups(reader, n, meter.numerator, meter.denominator) or meter
        beat_unit = _beat_unit(reader, n) if (n := fields.get("beat_unit")) is not None else Fraction(1, 4)
        if (n := fields.get("bpm")) is not None:
            value = reader.number(n, "bpm", 10, 500, "120")
            bpm = value * beat_unit * 4 if value is not None and beat_unit is not None else bpm
        elif not changes:
            reader.problem(entry, "the first tempo entry has no bpm", "add bpm: ..., e.g. {bar: 1, bpm: 120, meter: 4/4}")
        ramp = (reader.integer(n, "ramp_bars", 1, 999) or 0) if (n := fields.get("ramp_bars")) is not None else 0
        if bar is not None and bpm is not None:
            changes.append(TempoChange(bar, bpm, meter, ramp, reader.mark(entry)))
    return tuple(changes)


def _meter(reader: Reader, node: Node, groups_node: Node | None) -> Meter | None:
    text = str(node.value) if isinstance(node, yaml.ScalarNode) else ""
    match = _METER.match(text)
    if not match:
        reader.problem(node, f"meter {text or 'value'!r} is not a time signature", "write it like 4/4, 6/8 or 7/8")
        return None
    numerator, denominator = int(match.group(1)), int(match.group(2))
    if not 1 <= numerator <= 32:
        reader.problem(node, f"meter {text}: a bar needs 1 to 32 beats, not {numerator}", "e.g. 4/4")
        return None
    if denominator not in (1, 2, 4, 8, 16, 32):
        reader.problem(node, f"meter {text}: the note value {denominator} is not a power of two", "use 2, 4, 8 or 16, e.g. 7/8")
        return None
    if groups_node is not None:
        return _meter_groups(reader, groups_node, numerator, denominator)
    return Meter(numerator, denominator, default_groups(numerator, denominator))


def _meter_groups(reader: Reader, node: Node, numerator: int, denominator: int) -> Meter | None:
    groups = [g for item in reader.items(node, "groups") if (g := reader.integer(item, "group size", 1, 32)) is not None]
    if sum(groups) != numerator:
        reader.problem(
            node, f"groups add up to {sum(groups)}, but {numerator}/{denominator} has {numerator} beats", "e.g. groups: [2, 2, 3] for 7/8"
        )
        return None
    return Meter(numerator, denominator, tuple(groups))


def _beat_unit(reader: Reader, node: Node) -> Fraction | None:
    try:
        unit = Fraction(str(node.value)) if isinstance(node, yaml.ScalarNode) else None
    except (ValueError, ZeroDivisionError):
        unit = None
    if unit is None or unit <= 0 or unit > 2 or unit.denominator & (unit.denominator - 1):
        reader.problem(
            node,
            f"beat_unit {getattr(node, 'value', '')!r} is not a note value",
            "write 1/4 (quarter, the default), 1/8, 3/8 (dotted quarter) or 1/2",
        )
        return None
    return unit


def _sections(reader: Reader, node: Node) -> tuple[Section, ...]:
    fields = reader.fields(node, "sections", allowed=AnyKey())
    sections = []
    for name, (key_node, value_node) in fields.values.items() if fields else ():
        if not _SECTION_NAME.match(name):
            reader.problem(
                key_node, f"section name {name!r} cannot be used in positions", "start with a letter; use letters, digits, '-' and '_'"
            )
        bar = reader.integer(value_node, f"section {name!r} bar", -99, 99999)
        if bar is not None:
            sections.append(Section(name, bar, reader.mark(key_node)))
    return tuple(sections)


def _count_in(reader: Reader, node: Node) -> CountIn:
    if isinstance(node, yaml.ScalarNode):
        return CountIn(reader.integer(node, "count_in bars", 0, 8) or 0)
    fields = reader.fields(node, "count_in", ("bars", "voice"))
    if fields is None:
        return CountIn()
    bars = (reader.integer(n, "count_in bars", 0, 8) or 0) if (n := fields.get("bars")) is not None else 1
    voice = bool(reader.boolean(n, "count_in voice")) if (n := fields.get("voice")) is not None else False
    return CountIn(bars, voice)


def _click(
    reader: Reader, node: Node, base: ClickSettings, what: str, sections: Sequence[str], extra: tuple[str, ...] = ()
) -> tuple[ClickSettings, Fields | None]:
    """A click's settings over `base` (a performer's feed starts from the song's click); and its fields, for `extra` keys."""
    if isinstance(node, yaml.ScalarNode):
        return replace(base, enabled=bool(reader.boolean(node, what))), None
    fields = reader.fields(node, what, (*CLICK_KEYS, *extra))
    if fields is None:
        return base, None
    settings = ClickSettings(
        enabled=bool(reader.boolean(n, f"{what} enabled")) if (n := fields.get("enabled")) is not None else base.enabled,
        level_db=float(reader.number(n, f"{what} level_db", -60, 0, "-6") or -6)
        if (n := fields.get("level_db")) is not None
        else base.level_db,
        subdivide=(reader.integer(n, f"{what} subdivide", 1, 4) or 1) if (n := fields.get("subdivide")) is not None else base.subdivide,
        accents=_accents(reader, n, what) if (n := fields.get("accents")) is not None else base.accents,
        calls=_calls(reader, n, what, sections) if (n := fields.get("calls")) is not None else base.calls,
    )
    return settings, fields


def _accents(reader: Reader, node: Node, what: str) -> tuple[int, ...]:
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    return tuple(b for item in items if (b := reader.integer(item, f"{what} accented beat", 1, 32)) is not None)


def _calls(reader: Reader, node: Node, what: str, sections: Sequence[str]) -> GuideCalls | None:
    """`calls: true`, or `{beats: 8, words: {verse2: second verse}}`: a spoken call before each section."""
    if isinstance(node, yaml.ScalarNode):
        return GuideCalls() if reader.boolean(node, f"{what} calls") else None
    fields = reader.fields(node, f"{what} calls", ("beats", "words"))
    if fields is None:
        return None
    beats = reader.integer(n, "calls beats", 1, 32) if (n := fields.get("beats")) is not None else None
    words: dict[str, str] = {}
    if (n := fields.get("words")) is not None and (given := reader.fields(n, "calls words", AnyKey())) is not None:
        for name, (key_node, value) in given.values.items():
            if name not in sections:
                reader.problem(key_node, f"calls words for {name!r}: the song has no such section", suggestion(name, sections))
            elif text := reader.text(value, f"call for {name!r}"):
                words[name] = text
    return GuideCalls(beats, words)


def _click_feeds(reader: Reader, node: Node, click: ClickSettings, count_in: CountIn, sections: Sequence[str]) -> tuple[ClickFeed, ...]:
    """Performers' own earpiece feeds, by name; each starts from the song's click and count-in."""
    fields = reader.fields(node, "click feeds", AnyKey())
    feeds = []
    for name, (key_node, value) in fields.values.items() if fields else ():
        if not _SECTION_NAME.match(name):
            reader.problem(key_node, f"click feed name {name!r} has spaces or symbols", "use letters, digits, '-' and '_', e.g. dancer-a")
            continue
        settings, feed_fields = _click(reader, value, click, f"click feed {name!r}", sections, ("count_in",))
        own = feed_fields.get("count_in") if feed_fields is not None else None
        feeds.append(ClickFeed(name, settings, _count_in(reader, own) if own is not None else count_in, reader.mark(key_node)))
    return tuple(feeds)


def _timecode(reader: Reader, node: Node) -> TimecodeSettings | None:
    fields = reader.fields(node, "timecode", ("rate", "start", "level_db"), required=("rate",))
    if fields is None or (rate_node := fields.get("rate")) is None:
        return None
    rate_name = str(rate_node.value).lower() if isinstance(rate_node, yaml.ScalarNode) else ""
    if rate_name not in RATES:
        hint = (
            "29.97 is only supported as drop-frame: write 29.97df" if rate_name in ("29.97", "29.97ndf") else suggestion(rate_name, RATES)
        )
        reader.problem(rate_node, f"timecode rate {rate_name or 'value'!r} is not supported", hint)
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


def _cue(reader: Reader, node: Node, profiles: Mapping[str, Profile]) -> Cue | None:
    fields = reader.fields(node, "cue", (*CUE_KEYS, *profiles), required=("at",))
    if fields is None or "at" not in fields:
        return None
    at = reader.position(fields.get("at") or node, "cue at")
    name = (reader.text(n, "cue name") if (n := fields.get("name")) is not None else None) or ""
    once = bool(reader.boolean(n, "once")) if (n := fields.get("once")) is not None else False
    actions: list[Action] = []
    for kind, read in (("osc", _osc), ("midi", _midi), ("mqtt", _mqtt)):
        if (value := fields.get(kind)) is None:
            continue
        for action_node in value.value if isinstance(value, yaml.SequenceNode) else [value]:
            if (action := read(reader, action_node)) is not None:
                actions.append(action)
    for output, profile in profiles.items():
        if (value := fields.get(output)) is None:
            continue
        for action_node in value.value if isinstance(value, yaml.SequenceNode) else [value]:
            expanded = expand(reader, output, profile, action_node)
            if expanded is not None and (action := READERS[profile.kind](reader, expanded)) is not None:
                actions.append(action)
    misspelt = isinstance(node, yaml.MappingNode) and len(node.value) > len(fields.values)  # already reported
    if not misspelt and not any(kind in fields for kind in ("osc", "midi", "mqtt", *profiles)):
        hint = f"add osc:, midi: or mqtt: with what to send{', or a profile action such as ' + next(iter(profiles)) + ': ...' if profiles else ''}"
        reader.problem(node, "this cue does nothing", hint)
    if at is None:
        return None
    return Cue(at, tuple(actions), name, once, reader.mark(node))


def _target(reader: Reader, fields: Fields) -> str | None:
    node = fields.get("to")
    return reader.text(node, "to") if node is not None else None


def _osc(reader: Reader, node: Node) -> OscAction | None:
    fields = reader.fields(node, "osc action", OSC_KEYS, required=("to", "address"))
    if fields is None or "address" not in fields:
        return None
    address = reader.text(fields.get("address") or node, "OSC address")
    if address is not None and not _OSC_ADDRESS.match(address):
        reader.problem(
            fields.get("address") or node,
            f"OSC address {address!r} is not valid",
            "start with '/', no spaces or # * , ? [ ] { }, e.g. /eos/cue/1/5/fire",
        )
    args: list[int | float | str | bool] = []
    if (n := fields.get("args")) is not None:
        for item in n.value if isinstance(n, yaml.SequenceNode) else [n]:
            value = reader.plain(item)
            if isinstance(value, int | float | str | bool):
                args.append(value)
            else:
                reader.problem(item, f"OSC argument {value!r} is not a number, text or true/false", "e.g. args: [1, 0.5, go]")
    target = _target(reader, fields)
    if target is None or address is None:
        return None
    return OscAction(target, address, tuple(args), reader.mark(node))


def _midi(reader: Reader, node: Node) -> MidiAction | None:
    fields = reader.fields(node, "midi action", MIDI_KEYS, required=("to",))
    if fields is None:
        return None
    channel = (reader.integer(n, "MIDI channel", 1, 16) or 1) if (n := fields.get("channel")) is not None else 1
    given = [key for key in ("note_on", "note_off", "cc", "program", "msc") if key in fields]
    if len(given) != 1:
        reader.problem(
            node,
            f"a midi action sends one message, found {len(given) or 'none'}",
            "use one of note_on: [60, 100], note_off: 60, cc: [7, 100], program: 5, msc: {command: go, cue: 1}",
        )
        return None
    key = given[0]
    if key == "msc":
        sysex = _msc(reader, fields.values["msc"][1])
        target = _target(reader, fields)
        return MidiAction(target, "sysex", channel, sysex, reader.mark(node)) if target and sysex else None
    value = fields.get(key)
    assert value is not None
    kind = {"note_on": "note_on", "note_off": "note_off", "cc": "control_change", "program": "program_change"}[key]
    assert kind in MIDI_KINDS
    items = value.value if isinstance(value, yaml.SequenceNode) else [value]
    expected = 1 if key == "program" else 2
    if len(items) not in ((1,) if key == "program" else (1, 2) if key.startswith("note") else (2,)):
        reader.problem(
            value, f"{key} takes {expected} number{'s' if expected > 1 else ''}", "e.g. note_on: [60, 100], cc: [7, 100], program: 5"
        )
        return None
    data = [reader.integer(item, f"{key} value", 0, 127) for item in items]
    if any(d is None for d in data):
        return None
    numbers = tuple(d for d in data if d is not None)
    if key.startswith("note") and len(numbers) == 1:
        numbers = (numbers[0], 100 if key == "note_on" else 0)
    target = _target(reader, fields)
    return MidiAction(target, kind, channel, numbers, reader.mark(node)) if target else None


def _msc(reader: Reader, node: Node) -> tuple[int, ...] | None:
    """A MIDI Show Control message, checked by the encoder itself so the show file and the wire agree."""
    fields = reader.fields(node, "msc message", MSC_KEYS, required=("command",))
    if fields is None or "command" not in fields:
        return None
    texts = {
        key: reader.text(n, f"msc {key}")
        for key in ("command", "cue", "list", "path", "format", "timecode")
        if (n := fields.get(key)) is not None
    }
    numbers = {
        key: reader.integer(n, f"msc {key}", 0, high)
        for key, high in (("device", 127), ("macro", 127), ("control", 16383), ("value", 16383))
        if (n := fields.get(key)) is not None
    }
    if None in texts.values() or None in numbers.values():
        return None
    command = str(texts["command"]).lower().replace(" ", "_").replace("-", "_")
    if command not in msc.COMMANDS:
        hint = suggestion(command, msc.COMMANDS) or f"one of {', '.join(msc.COMMANDS)}"
        reader.problem(fields.values["command"][1], f"unknown MSC command {texts['command']!r}", hint)
        return None
    timecode = None
    if "timecode" in texts:
        parts = re.fullmatch(r"(\d{1,2}):(\d{2}):(\d{2})[:;.](\d{2})(?:\.(\d{1,2}))?", str(texts["timecode"]))
        if parts is None:
            reader.problem(
                fields.values["timecode"][1], f"msc timecode {texts['timecode']!r} is not HH:MM:SS:FF", "e.g. timecode: 01:00:10:00"
            )
            return None
        timecode = tuple(int(g or 0) for g in parts.groups())
    try:
        message = msc.msc(
            command,
            cue=texts.get("cue"),
            cue_list=texts.get("list"),
            cue_path=texts.get("path"),
            device_id=msc.ALL_CALL if numbers.get("device") is None else int(numbers["device"] or 0),
            command_format=str(texts.get("format", "lighting")).lower().replace(" ", "_"),
            timecode=timecode,
            control=numbers.get("control"),
            value=numbers.get("value"),
            macro=numbers.get("macro"),
        )
    except ValueError as error:
        reader.problem(node, str(error), MSC_EXAMPLE)
        return None
    return tuple(message)


def _mqtt(reader: Reader, node: Node) -> MqttAction | None:
    fields = reader.fields(node, "mqtt action", MQTT_KEYS, required=("to", "topic"))
    if fields is None or "topic" not in fields:
        return None
    topic = reader.text(fields.get("topic") or node, "MQTT topic")
    if topic is not None and (set(topic) & {"+", "#", "\0"} or len(topic.encode()) > 65535):
        reader.problem(
            fields.get("topic") or node,
            f"MQTT topic {topic!r} contains a wildcard",
            "publish to a concrete topic, e.g. fx/confetti; + and # are for subscribing",
        )
    payload = reader.payload(n) if (n := fields.get("payload")) is not None else ""
    qos = reader.integer(n, "qos", 0, 2) if (n := fields.get("qos")) is not None else 0
    retain = bool(reader.boolean(n, "retain")) if (n := fields.get("retain")) is not None else False
    target = _target(reader, fields)
    if target is None or topic is None:
        return None
    return MqttAction(target, topic, payload, qos or 0, retain, reader.mark(node))


def _check_outputs(reader: Reader, songs: list[Song], patch: Patch) -> None:
    """Every action's `to` must be an output of the patch, of the action's type."""
    for song in songs:
        for cue in song.cues:
            for action in cue.actions:
                kind = ACTION_TYPE[type(action)]
                output = patch.outputs.get(action.output)
                if output is None:
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


def _warn_routes(reader: Reader, songs: list[Song], patch: Patch, root: Node) -> None:
    routes = patch.audio.routes
    if any(s.click.enabled for s in songs) and not routes.get("click"):
        reader.warn(
            root, "the patch routes no channel for the click, so performers hear none", "add routes: {click: N} to the patch's audio"
        )
    named = {f.feed: f for song in songs for f in song.click_feeds}
    for feed, spec in named.items():
        if not routes.get(feed):
            reader.warnings.append(
                Problem(
                    spec.mark,
                    f"click feed {spec.name!r} has no channel in the patch, so {spec.name} would hear nothing",
                    f"add routes: {{clicks: {{{spec.name}: N}}}} to the patch's audio",
                )
            )
    for feed in routes:
        if feed.startswith(f"{MAIN_CLICK}:") and feed not in named:
            reader.warn(
                root, f"the patch routes a click feed {feed.split(':', 1)[1]!r} that no song has", "add it under a song's click: feeds:"
            )
    if any(s.timecode for s in songs) and not routes.get("ltc"):
        reader.warn(root, "songs have timecode but the patch routes no channel for LTC", "add routes: {ltc: N} to the patch's audio")


READERS: dict[str, Callable[[Reader, Node], Action | None]] = {"osc": _osc, "midi": _midi, "mqtt": _mqtt}
