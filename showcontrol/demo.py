"""Synthesised backing tracks for the demo show, so it runs anywhere with no copyrighted audio.

The music is written from the show's own tempo map: drums on its pulses, bass and chords per bar,
and a lead "voice" that sings from each lyric to the next breath mark, so the click, cues, lyrics
and breaths in the demo line up with something audible.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import numpy.typing as npt

from showcontrol.audio.files import write_audio
from showcontrol.errors import Problem, ShowFileError, SourceMark
from showcontrol.load.limits import MAX_DEMO_SECONDS
from showcontrol.load.show_file import load_show
from showcontrol.model.position import BarBeat
from showcontrol.model.show import Song, TempoChange, Track
from showcontrol.timeline.compile import compile_song
from showcontrol.timeline.events import Kind, Timeline

RATE = 44100  # a different rate from the engine's on purpose: the demo exercises resampling
TAIL_SECONDS = 2.0
PROGRESSION = (0, 5, 3, 4)  # scale degrees per bar: I vi IV V
MAJOR = (0, 2, 4, 5, 7, 9, 11)
Signal = npt.NDArray[np.float64]


def make_demo_tracks(show_path: Path) -> list[Path]:
    """Write the missing tracks of a show marked `demo: true`, inside the show's folder only; return the paths
    written. Raises ShowFileError (with the track's line) for a show that is not a demo, a track outside its
    folder, or one too long to synthesise."""
    loaded = load_show(show_path, sample_rate=RATE, with_audio=False)
    if not loaded.show.demo:
        raise ShowFileError(
            [
                Problem(
                    SourceMark(str(show_path), 1, 1),
                    "this show is not a demo (no demo: true)",
                    "its tracks are recordings: give their files",
                )
            ]
        )
    folder = show_path.parent.resolve()
    problems: list[Problem] = []
    wanted: list[tuple[Path, Timeline, int]] = []
    for index, song in enumerate(loaded.show.songs):
        grid = loaded.timelines.get(song.id)
        if grid is None:
            problems.append(
                Problem(song.mark, f"demo song {song.id!r} has no end", "give it end: BAR.BEAT: its track is synthesised that long")
            )
            continue
        for number, track in enumerate(song.tracks):
            if any(track.audio == path for path, _, _ in wanted) or track.audio.exists():
                continue
            if not track.audio.resolve().is_relative_to(folder):
                problems.append(
                    Problem(
                        track.mark,
                        f"{track.audio} is outside the show's folder {folder}",
                        "demo tracks are only written inside it: give a path such as tracks/NAME.flac",
                    )
                )
                continue
            timeline = grid if len(song.tracks) == 1 else _own_timeline(song, track, grid, loaded.show.ticks_per_beat)
            if timeline.end_frame > MAX_DEMO_SECONDS * RATE:
                problems.append(
                    Problem(
                        track.mark,
                        f"a demo track is synthesised for up to {MAX_DEMO_SECONDS} s, and this song is longer",
                        "shorten the song, or give a recording",
                    )
                )
                continue
            wanted.append((track.audio, timeline, 57 + 3 * index + 5 * number))
    if problems:
        raise ShowFileError(problems)
    for path, timeline, key in wanted:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_audio(path, iter([synthesise(timeline, key_midi=key).astype(np.float32)]), RATE, 2, "PCM_16")
    return [path for path, _, _ in wanted]


def _own_timeline(song: Song, track: Track, grid: Timeline, ticks_per_beat: int) -> Timeline:
    """A mashup track as it was recorded: its own tempo from its own downbeat, for as many bars as the song needs."""
    at = track.at if isinstance(track.at, BarBeat) else BarBeat(1)
    last_bar = grid.tempo.position_at(Fraction(grid.end_frame, RATE)).bar
    bpm = track.native_bpm or grid.tempo.quarter_bpm_at(at.bar)
    recorded = replace(
        song,
        tracks=(),
        first_downbeat=track.first_downbeat,
        tempo=(TempoChange(1, bpm, grid.tempo.meter_at(at.bar)),),
        sections=(),
        lyrics=(),
        cues=(),
        end=BarBeat(last_bar - at.bar + 3),
    )
    return compile_song(recorded, ticks_per_beat, RATE, None)


def _tone(freq: float, seconds: float, decay: float, harmonics: int = 1) -> Signal:
    t = np.arange(int(seconds * RATE)) / RATE
    wave = sum(np.sin(2 * np.pi * freq * k * t) / k for k in range(1, harmonics + 1))
    attack = np.minimum(1.0, t / 0.005)
    return np.asarray(wave * attack * np.exp(-t / decay), dtype=np.float64)


def _hz(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def synthesise(timeline: Timeline, key_midi: int) -> Signal:
    tempo = timeline.tempo
    total = timeline.end_frame + int(TAIL_SECONDS * RATE)
    left, right = np.zeros(total), np.zeros(total)
    rng = np.random.default_rng(7)

    def put(signal: Signal, frame: int, pan: float = 0.5, gain: float = 1.0) -> None:
        end = min(total, frame + len(signal))
        if 0 <= frame < end:
            left[frame:end] += gain * (1 - pan) * signal[: end - frame]
            right[frame:end] += gain * pan * signal[: end - frame]

    kick = _tone(55, 0.25, 0.08) * np.exp(-np.arange(int(0.25 * RATE)) / RATE / 0.2)
    snare = rng.normal(0, 1, int(0.18 * RATE)) * np.exp(-np.arange(int(0.18 * RATE)) / RATE / 0.04)
    hat = rng.normal(0, 1, int(0.05 * RATE)) * np.exp(-np.arange(int(0.05 * RATE)) / RATE / 0.01)
    for bar, meter in tempo.bar_starts(1):
        bar_frame = tempo.frame(BarBeat(bar), RATE)
        if bar_frame >= timeline.end_frame:
            break
        next_bar_frame = min(tempo.frame(BarBeat(bar + 1), RATE), timeline.end_frame)
        bar_seconds = (next_bar_frame - bar_frame) / RATE
        root = key_midi + MAJOR[PROGRESSION[(bar - 1) % 4]]
        put(_tone(_hz(root - 12), bar_seconds, 0.6, 3), bar_frame, 0.5, 0.25)
        for third in (0, 2, 4):
            put(_tone(_hz(root + MAJOR[third] - MAJOR[0]), bar_seconds, 1.2, 2), bar_frame, 0.3 + 0.2 * third / 2, 0.05)
        for beat in range(1, meter.numerator + 1):
            frame = tempo.frame(BarBeat(bar, beat), RATE)
            if beat in meter.pulse_beats:
                put(
                    kick if beat == 1 or (len(meter.pulse_beats) == meter.numerator and beat % 2) else snare,
                    frame,
                    0.5,
                    0.5 if beat == 1 else 0.25,
                )
            put(hat, frame, 0.7, 0.08)
    _sing(timeline, put, key_midi)
    peak = max(np.abs(left).max(), np.abs(right).max(), 1e-9)
    mix: Signal = np.stack([left, right], axis=1) * (0.7 / peak)
    return mix


def _sing(timeline: Timeline, put: Callable[[Signal, int, float, float], None], key_midi: int) -> None:
    """A lead tone from each lyric to the next breath mark (or lyric), stepping through the scale."""
    lyrics = timeline.of_kind(Kind.LYRIC)
    stops = sorted(e.at_frame for e in timeline.of_kind(Kind.BREATH, Kind.LYRIC, Kind.END))
    for index, event in enumerate(lyrics):
        end = next((s for s in stops if s > event.at_frame), timeline.end_frame)
        seconds = max(0.1, (end - event.at_frame) / RATE - 0.05)
        note = key_midi + 12 + MAJOR[(index * 2) % 7]
        t = np.arange(int(seconds * RATE)) / RATE
        vibrato = 0.004 * np.sin(2 * np.pi * 5.5 * t)
        phase = 2 * np.pi * np.cumsum(_hz(note) * (1 + vibrato)) / RATE
        envelope = np.minimum(1, t / 0.04) * np.minimum(1, (seconds - t) / 0.08)
        voice = (np.sin(phase) + 0.3 * np.sin(2 * phase) + 0.1 * np.sin(3 * phase)) * envelope
        put(voice, event.at_frame, 0.5, 0.18)
