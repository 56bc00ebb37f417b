"""Offline rendering: the song's multichannel mix and its event trace, written atomically.

Uses the same stems and `mix_block` as live playback, so the file is what the interface would play.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from showcontrol.atomic_write import atomic_path
from showcontrol.audio.click import ClickSounds, render_click, synthesize_hits
from showcontrol.audio.files import Audio, load_spoken_counts, read_audio, write_audio
from showcontrol.audio.ltc import render_ltc
from showcontrol.audio.mix import Block, Stem, entry_exit_envelope, fit_channels, lay_track, mix_block
from showcontrol.audio.speech import speak_all
from showcontrol.describe import event_record
from showcontrol.engine.plan import feed_count_ins, plan_start
from showcontrol.load.show_file import LoadedShow
from showcontrol.model.position import BarBeat
from showcontrol.model.show import Song
from showcontrol.timeline.compile import feeds
from showcontrol.timeline.events import ClickHit, Event, Kind, Timeline
from showcontrol.timeline.start import TOP
from showcontrol.timeline.tempo import Rate
from showcontrol.timeline.tracks import TrackPlacement

log = logging.getLogger(__name__)

BLOCK_FRAMES = 1 << 16
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RenderResult:
    frames: int
    sample_rate: int
    channels: int
    events: int


def click_sounds(sample_rate: int) -> ClickSounds:
    return ClickSounds(sample_rate, synthesize_hits(sample_rate), load_spoken_counts(sample_rate))


def build_stems(
    song: Song, timeline: Timeline, routes: Mapping[str, tuple[int, ...]], sounds: ClickSounds, keep_pitch_at: int | None = None
) -> dict[str, Stem]:
    """Decode the tracks and render click and LTC for the whole song, each only if the patch routes it.

    With `keep_pitch_at` (the device rate) a timeline compiled for another speed gets its tracks
    time-stretched at that rate, pitch kept (rehearsal tempo), instead of resampled (film varispeed).
    """
    start, length = timeline.start_frame, timeline.end_frame - timeline.start_frame
    stems: dict[str, Stem] = {}
    with ThreadPoolExecutor(max_workers=1) as pool:  # libsndfile, soxr and Rubber Band release the GIL: decode while we synthesise
        laying = (
            pool.submit(_tracks, song, timeline, len(routes["track"]), keep_pitch_at) if timeline.tracks and routes.get("track") else None
        )
        stems.update(_synthesised_stems(song, timeline, routes, sounds, start, length))
        if laying is not None:
            stems["track"] = Stem(0, laying.result())
    return stems


def _tracks(song: Song, timeline: Timeline, channels: int, keep_pitch_at: int | None) -> Block:
    """Every track of the song laid on its frames, with its gain, entry and exit: one stem from frame 0."""
    out = np.zeros((timeline.end_frame, channels), np.float32)
    for placement in timeline.tracks:
        audio = fit_channels(_track_audio(placement, timeline, keep_pitch_at), channels)
        envelope = entry_exit_envelope(
            len(audio), placement.origin_frame, placement.enter_frame, placement.leave_frame, placement.fade_frames
        )
        lay_track(out, audio, placement.origin_frame, 10 ** ((song.gain_db + placement.track.gain_db) / 20), envelope)
    return out


def _track_audio(placement: TrackPlacement, timeline: Timeline, keep_pitch_at: int | None) -> Audio:
    """A track decoded at the timeline's rate: resampled (varispeed), or time-stretched where its tempo
    differs from the grid's or a rehearsal tempo asks for it (pitch kept)."""
    path = placement.track.audio
    base_rate, speed = _stretch_plan(placement, timeline, keep_pitch_at)
    if speed == 1:
        return read_audio(path, base_rate)
    from showcontrol.audio.stretch import stretched_track  # pedalboard loads only when a stretch needs it

    started = time.perf_counter()
    log.info("time-stretching %s to %g %% (pitch kept)...", path.name, float(speed) * 100)
    audio, cached = stretched_track(path, base_rate, speed, placement.frames)
    log.info(
        "%s at %g %%: %s in %.1f s",
        path.name,
        float(speed) * 100,
        "from the cache" if cached else "stretched and cached",
        time.perf_counter() - started,
    )
    return audio


def _stretch_plan(placement: TrackPlacement, timeline: Timeline, keep_pitch_at: int | None) -> tuple[Rate, Fraction]:
    """The rate a track is decoded at and the factor it is then stretched by (1: not at all)."""
    if keep_pitch_at is not None and timeline.sample_rate != keep_pitch_at:
        return keep_pitch_at, placement.speed * Fraction(keep_pitch_at) / Fraction(timeline.sample_rate)
    return timeline.sample_rate, placement.speed


def stems_seconds(timeline: Timeline, keep_pitch_at: int | None) -> float:
    """About how long `build_stems` takes for this timeline: the stretches not yet cached dominate."""
    from showcontrol.audio.stretch import is_cached, stretch_seconds

    total = 0.3
    for placement in timeline.tracks:
        base_rate, speed = _stretch_plan(placement, timeline, keep_pitch_at)
        if speed != 1 and not is_cached(placement.track.audio, base_rate, speed):
            total += stretch_seconds(round(placement.frames * speed), 2, float(base_rate), float(speed))
    return total


def _synthesised_stems(
    song: Song, timeline: Timeline, routes: Mapping[str, tuple[int, ...]], sounds: ClickSounds, start: int, length: int
) -> dict[str, Stem]:
    stems: dict[str, Stem] = {}
    clicks = [e for e in timeline.of_kind(Kind.CLICK) if routes.get(e.output)]
    calls = {e.payload.call for e in clicks if isinstance(e.payload, ClickHit) and e.payload.call is not None}
    sounds = replace(sounds, calls=speak_all(calls, sounds.sample_rate)) if calls else sounds
    for feed, click, _ in feeds(song):
        if routes.get(feed):
            samples = np.zeros(length, np.float32)
            render_click((e for e in clicks if e.output == feed), start, samples, sounds, 10 ** (click.level_db / 20))
            stems[feed] = Stem(start, fit_channels(samples[:, None], len(routes[feed])))
    if routes.get("ltc") and timeline.ltc is not None:
        ltc = render_ltc(timeline.ltc, timeline.timecode_rate, start, length)
        stems["ltc"] = Stem(start, fit_channels(ltc[:, None], len(routes["ltc"])))
    return stems


def render_song(
    loaded: LoadedShow,
    song_id: str,
    out_path: Path,
    trace_path: Path | None = None,
    progress: Progress | None = None,
    subtype: str | None = None,
    start: BarBeat = TOP,
    count_in_bars: int | None = None,
) -> RenderResult:
    """The song as `run` would play it from `start` (`timeline.start`): from a later beat, the count-in as
    pre-roll (with LTC under it) and the song from that beat; the trace holds what that take sends."""
    song = loaded.show.song(song_id)
    timeline = loaded.timelines[song_id]
    audio = loaded.patch_for(song_id).audio
    routes = dict(audio.routes)
    sounds = click_sounds(loaded.sample_rate)
    stems = build_stems(song, timeline, routes, sounds, loaded.sample_rate if loaded.keep_pitch else None)
    plan = plan_start(timeline, start, feed_count_ins(song, routes, count_in_bars), sounds)
    first, song_from = plan.start_frame, plan.song_from_frame
    preroll = {**({"ltc": stems["ltc"]} if "ltc" in stems else {}), **plan.count_in}
    total = timeline.end_frame - first

    def blocks() -> Iterator[Block]:
        out = np.zeros((BLOCK_FRAMES, audio.channels), np.float32)
        for offset in range(0, total, BLOCK_FRAMES):
            frames, at = min(BLOCK_FRAMES, total - offset), first + offset
            before = min(max(song_from - at, 0), frames)  # the pre-roll's part of this block
            mix_block(preroll, routes, at, out[:before])
            mix_block(stems, routes, at + before, out[before:frames])
            yield out[:frames]
            if progress:
                progress(offset + frames, total)

    write_audio(out_path, blocks(), loaded.sample_rate, audio.channels, subtype)
    events = (
        timeline.events
        if song_from == timeline.start_frame
        else (*plan.count_in_events, *timeline.between(song_from, timeline.end_frame + 1))
    )
    if trace_path is not None:
        write_trace(trace_path, timeline, events, first)
    return RenderResult(total, loaded.sample_rate, audio.channels, len(events))


def write_trace(path: Path, timeline: Timeline, events: Sequence[Event] | None = None, origin_frame: int | None = None) -> None:
    """JSON lines, one per event (default: the timeline's), frames counted from `origin_frame` (the rendered file's
    first; default: the timeline's start); written atomically."""
    origin = timeline.start_frame if origin_frame is None else origin_frame
    with atomic_path(path) as temporary, temporary.open("w", encoding="utf-8") as file:
        for event in timeline.events if events is None else events:
            file.write(json.dumps(event_record(event, timeline.sample_rate, origin), ensure_ascii=False) + "\n")
        file.flush()
        os.fsync(file.fileno())
