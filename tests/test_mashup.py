"""Mashups: several recordings on one tempo grid, rendered through the CLI and checked to the sample."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import BURST_FRAMES, beat_bursts, burst_centroids, run_show_to_the_end, showcontrol

from showcontrol.errors import ShowFileError
from showcontrol.load.show_file import load_show

RATE = 48000
PATCH = "version: 1\naudio: {sample_rate: 48000, channels: 2, routes: {track: [1, 2]}}\n"


def write(path: Path, left: np.ndarray, right: np.ndarray | None = None) -> None:
    data = np.stack([left, left if right is None else right], axis=1).astype(np.float32)
    soundfile.write(str(path), data, RATE, subtype="FLOAT")


def render(tmp_path: Path, song_yaml: str) -> np.ndarray:
    (tmp_path / "patch.yaml").write_text(PATCH)
    show = tmp_path / "show.yaml"
    show.write_text(f"version: 1\npatch: patch.yaml\nsongs:\n{song_yaml}")
    result = showcontrol("render", str(show), "-o", str(tmp_path / "out.wav"), "--subtype", "FLOAT")
    assert result.returncode == 0, result.stderr
    audio, rate = soundfile.read(str(tmp_path / "out.wav"), dtype="float32")
    assert rate == RATE
    return audio


def test_tracks_enter_and_leave_on_their_bars_to_the_sample(tmp_path: Path) -> None:
    """A plays 0.5 from its start and leaves at bar 4; B (0.25 throughout, its downbeat 0.1 s into its file)
    lands on bar 3 and enters there. At 120 BPM 4/4 with A's downbeat 0.3 s in, bar 3 is 4.3 s and bar 4 6.3 s."""
    write(tmp_path / "a.wav", np.full(8 * RATE, 0.5))
    write(tmp_path / "b.wav", np.full(6 * RATE, 0.25))
    audio = render(
        tmp_path,
        "  - id: mash\n    click: false\n    tempo: [{bar: 1, bpm: 120}]\n    tracks:\n"
        "      - {audio: a.wav, first_downbeat: 0.3, leave: 4}\n"
        "      - {audio: b.wav, first_downbeat: 0.1, at: 3, enter: 3}\n",
    )
    bar3, bar4 = round(4.3 * RATE), round(6.3 * RATE)
    left = audio[:, 0]
    assert np.all(left[:bar3] == 0.5)
    assert np.all(left[bar3:bar4] == 0.75)
    b_end = bar3 - round(0.1 * RATE) + 6 * RATE  # B's file ends here; the song ends with it
    assert len(left) == b_end and np.all(left[bar4:] == 0.25)


def test_a_crossfade_is_equal_power_and_centred_on_the_bar(tmp_path: Path) -> None:
    """A on the left leaves at bar 3 and B on the right enters there, with 0.2 s fades: the summed power is
    constant through the crossfade, which begins 0.1 s before the bar and ends 0.1 s after."""
    silence = np.zeros(8 * RATE)
    write(tmp_path / "a.wav", np.full(8 * RATE, 0.5), silence)
    write(tmp_path / "b.wav", silence, np.full(8 * RATE, 0.5))
    audio = render(
        tmp_path,
        "  - id: mash\n    click: false\n    tempo: [{bar: 1, bpm: 120}]\n    tracks:\n"
        "      - {audio: a.wav, leave: 3, fade: 0.2}\n"
        "      - {audio: b.wav, enter: 3, fade: 0.2}\n",
    )
    bar3, half = 4 * RATE, round(0.1 * RATE)
    a, b = audio[:, 0].astype(np.float64), audio[:, 1].astype(np.float64)
    assert np.all(a[: bar3 - half] == 0.5) and np.all(b[: bar3 - half] == 0.0)
    assert np.all(a[bar3 + half :] == 0.0) and np.all(b[bar3 + half :] == 0.5)
    fade = slice(bar3 - half, bar3 + half)
    assert np.allclose(a[fade] ** 2 + b[fade] ** 2, 0.25, atol=1e-6)
    assert np.all(np.diff(a[fade]) <= 0) and np.all(np.diff(b[fade]) >= 0)  # monotone (float32 is flat at the top)


def test_a_track_at_another_tempo_is_stretched_onto_the_grid(tmp_path: Path) -> None:
    """B was recorded at 100 BPM; on the 120 BPM grid each of its beats must fall on a grid beat (Rubber Band
    keeps them within a few ms, not to the sample), all through the song, not only at its ends."""
    write(tmp_path / "b.wav", beat_bursts(16, 100, 0.5, 12.0))
    audio = render(
        tmp_path,
        "  - id: mash\n    click: false\n    end: 5.1\n    tempo: [{bar: 1, bpm: 120}]\n    tracks:\n"
        "      - {audio: b.wav, first_downbeat: 0.5, bpm: 100}\n",
    )
    burst_centre = (BURST_FRAMES - 1) / 2
    downbeat = 0.5 * 100 / 120 * RATE  # song time zero is B's file start, stretched
    expected = [downbeat + beat * 0.5 * RATE + burst_centre * 100 / 120 for beat in range(16)]
    errors_ms = [(f - e) / RATE * 1000 for f, e in zip(burst_centroids(audio[:, 0], expected), expected, strict=True)]
    assert max(abs(e) for e in errors_ms) < 3, errors_ms


@pytest.mark.parametrize(
    ("tracks", "expected"),
    [
        ("      - {audio: a.wav, enter: 5, leave: 3}\n", "track a.wav leaves at 3.1, before it enters at 5.1 — leave after enter"),
        ("      - {audio: a.wav, at: 2.5}\n", "track a.wav at 2.5: bar 2 is in 4/4, so it has beats 1 to 4, not 5"),
        ("      - {audio: a.wav, at: nowhere}\n", "track a.wav: no section named 'nowhere'"),
        ("      - {audio: a.wav, at: 1.5s}\n", "a track is aligned to a bar, not to seconds — e.g. at: 9 (its downbeat lands on bar 9)"),
        ("      - {audio: missing.wav}\n", "missing.wav does not exist"),
    ],
)
def test_bad_tracks_are_reported_with_their_line(tmp_path: Path, tracks: str, expected: str) -> None:
    write(tmp_path / "a.wav", np.zeros(4 * RATE))
    show = tmp_path / "show.yaml"
    show.write_text(f"version: 1\nsongs:\n  - id: mash\n    tempo: [{{bar: 1, bpm: 120}}]\n    tracks:\n{tracks}")
    with pytest.raises(ShowFileError) as caught:
        load_show(show)
    reports = [str(p) for p in caught.value.problems]
    assert any(r.startswith(f"{show}:6:") and expected in r for r in reports), reports


def test_audio_and_tracks_together_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "a.wav", np.zeros(4 * RATE))
    show = tmp_path / "show.yaml"
    show.write_text(
        "version: 1\nsongs:\n  - id: mash\n    audio: a.wav\n    tempo: [{bar: 1, bpm: 120}]\n    tracks:\n      - {audio: a.wav}\n"
    )
    with pytest.raises(ShowFileError) as caught:
        load_show(show)
    assert [str(p) for p in caught.value.problems] == [
        f"{show}:7:7: a song with tracks: takes no audio: or first_downbeat: of its own — give each track its audio and first_downbeat"
    ]


def test_showcontrol_run_plays_the_mashup_to_the_sample(tmp_path: Path) -> None:
    """The same two tracks through `showcontrol run` on SDL's disk driver, which writes exactly what the
    audio callback delivered: B enters 4.3 s (bar 3) after A starts, and A leaves 2 s later (bar 4)."""
    write(tmp_path / "a.wav", np.full(8 * RATE, 0.5))
    write(tmp_path / "b.wav", np.full(6 * RATE, 0.25))
    (tmp_path / "patch.yaml").write_text(PATCH.replace("channels: 2,", "channels: 2, buffer_frames: 256,"))
    show = tmp_path / "show.yaml"
    show.write_text(
        "version: 1\npatch: patch.yaml\nsongs:\n  - id: mash\n    click: false\n    tempo: [{bar: 1, bpm: 120}]\n    tracks:\n"
        "      - {audio: a.wav, first_downbeat: 0.3, leave: 4}\n"
        "      - {audio: b.wav, first_downbeat: 0.1, at: 3, enter: 3}\n"
    )
    played = tmp_path / "played.raw"
    env = {**os.environ, "SDL_DISKAUDIOFILE": str(played), "SDL_DISKAUDIODELAY": "0"}
    result = run_show_to_the_end(show, env=env, driver="disk")
    assert result.returncode == 0, result.stderr
    left = np.fromfile(played, np.float32).reshape(-1, 2)[:, 0]
    start = int(np.flatnonzero(left)[0])  # the device ran silent until the show started
    bar3, bar4 = round(4.3 * RATE), round(6.3 * RATE)
    assert np.all(left[start : start + bar3] == 0.5)
    assert np.all(left[start + bar3 : start + bar4] == 0.75)
    assert np.all(left[start + bar4 : start + bar4 + RATE] == 0.25)
