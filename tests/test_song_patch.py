"""Per-song patch differences: a song's own click channel and outputs, in the venue's patch (errors: tests/errors/213-216)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

from showcontrol.cli import main
from showcontrol.load.show_file import load_show
from showcontrol.timeline.events import Kind

PATCH = """
version: 1
audio: {channels: 6, routes: {track: [1, 2], click: 3, ltc: 4}}
outputs:
  lights: {type: osc, host: 127.0.0.1, port: 9000}
songs:
  finale:
    routes: {click: 5, ltc: []}        # the guest drummer's earpiece; no timecode in this one
    outputs:
      pyro: {type: osc, host: 127.0.0.1, port: 9100}
      sync: {type: midi, port: sync, virtual: true, clock: true}
"""

SHOW = """
version: 1
patch: venue.yaml
songs:
  - id: opener
    end: 3.1
    tempo: [{bar: 1, bpm: 120}]
    timecode: {rate: 25}
    cues: [{at: 1.1, osc: {to: lights, address: /go}}]
  - id: finale
    end: 3.1
    tempo: [{bar: 1, bpm: 120}]
    timecode: {rate: 25}
    cues: [{at: 2.1, osc: {to: pyro, address: /fire}}, {at: 2.1, osc: {to: lights, address: /go}}]
"""


def _show(show_dir, patch: str = PATCH, show: str = SHOW) -> Path:
    show_dir("venue.yaml", patch)
    return show_dir("show.yaml", show)


def test_each_song_sees_its_own_routes_and_outputs_and_the_run_opens_them_all(show_dir) -> None:
    loaded = load_show(_show(show_dir))
    assert list(loaded.show.patch.outputs) == ["lights", "pyro", "sync"]  # the union: opened once, kept across songs
    opener, finale = loaded.patch_for("opener"), loaded.patch_for("finale")
    assert (list(opener.outputs), list(finale.outputs)) == (["lights"], ["lights", "pyro", "sync"])
    assert dict(opener.audio.routes) == {"track": (0, 1), "click": (2,), "ltc": (3,)}
    assert dict(finale.audio.routes) == {"track": (0, 1), "click": (4,), "ltc": ()}
    assert finale.audio.sample_rate == opener.audio.sample_rate and finale.audio.channels == 6
    assert loaded.patch_for("not-a-song").outputs.keys() == opener.outputs.keys()


def test_an_output_only_one_song_has_carries_its_midi_clock_only_in_that_song(show_dir) -> None:
    loaded = load_show(_show(show_dir))
    clock_outputs = {song: {e.output for e in loaded.timelines[song].of_kind(Kind.SYNC)} for song in ("opener", "finale")}
    assert clock_outputs == {"opener": set(), "finale": {"sync"}}


def test_a_render_plays_each_songs_click_on_its_own_channel(show_dir, tmp_path: Path) -> None:
    show = _show(show_dir)
    energy = {}
    for song in ("opener", "finale"):
        out = tmp_path / f"{song}.wav"
        assert main(["render", str(show), "--song", song, "-o", str(out)]) == 0
        samples, _ = soundfile.read(str(out))
        energy[song] = [round(float(np.abs(samples[:, channel]).max()), 2) > 0 for channel in range(6)]
    assert energy["opener"] == [False, False, True, True, False, False]  # click on 3, LTC on 4 (no audio file: no track)
    assert energy["finale"] == [False, False, False, False, True, False]  # click on 5, no LTC


def test_settings_for_a_song_the_show_does_not_have_are_a_warning_with_the_closest_id(show_dir) -> None:
    loaded = load_show(_show(show_dir, PATCH.replace("  finale:\n", "  finalle:\n"), SHOW.replace("to: pyro", "to: lights")))
    warnings = [str(w) for w in loaded.warnings if "settings for song" in w.message]
    assert warnings == [
        f"{loaded.show.patch.path}:6:3: the patch has settings for song 'finalle', which this show does not have — did you mean 'finale'?"
    ]


def test_check_says_ok_for_a_show_whose_songs_differ_in_the_patch(show_dir, capsys) -> None:
    assert main(["check", str(_show(show_dir))]) == 0
    out = capsys.readouterr().out
    assert "    patch for this song: click 5, ltc none; own outputs: pyro, sync" in out.splitlines() and "OK: 2 song(s)" in out
