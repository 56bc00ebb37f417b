"""The status snapshot: plain values from a timeline and the console's input, messages that go when they stop
being true, the keys that work now, and one snapshot of a real runner on the dummy audio driver."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from peers import free_port

from showcontrol.app import RunOptions, ShowRunner
from showcontrol.app.version import Preparation
from showcontrol.load.show_file import load_show
from showcontrol.model.position import BarBeat
from showcontrol.status import (
    QUIT_AGAIN,
    AudioStatus,
    Cueing,
    KeyHelp,
    Level,
    Message,
    NextCue,
    OperatorInput,
    OutputHealth,
    keys_now,
    now_playing,
    snapshot,
    standby_messages,
    still_true,
    tempo_messages,
    typing_text,
)


def small_show(folder: Path) -> Path:
    """120 BPM 4/4 at 48 kHz: a bar is 2 s (96000 frames); cues at 2.1 and 3.3, sections at 1 and 3, LTC on."""
    (folder / "patch.yaml").write_text(
        "version: 1\naudio: {sample_rate: 48000, channels: 2, routes: {ltc: [2]}}\noutputs:\n"
        f"  lights: {{type: osc, host: 127.0.0.1, port: {free_port(2)}}}\n"
        f"  monitors: {{type: mqtt, host: 127.0.0.1, port: {free_port()}, topic_prefix: t/}}\n"
    )
    show = folder / "show.yaml"
    show.write_text(
        "version: 1\npatch: patch.yaml\nsongs:\n  - id: s\n    title: Slow Burn\n    end: 9.1\n"
        "    tempo: [{bar: 1, bpm: 120}]\n    sections: {intro: 1, chorus: 3}\n"
        "    timecode: {rate: 25, start: '01:00:00:00'}\n"
        "    cues:\n      - {at: 2.1, name: blue wash, osc: {to: lights, address: /go}}\n"
        "      - {at: 3.3, osc: {to: lights, address: /eos/cue/2}}\n"
    )
    return show


@pytest.fixture(scope="module")
def cueing(tmp_path_factory: pytest.TempPathFactory) -> Cueing:
    loaded = load_show(small_show(tmp_path_factory.mktemp("status")))
    return Cueing.of(loaded.timelines["s"])


def test_now_playing_reads_the_position_in_the_operators_terms(cueing: Cueing) -> None:
    frame = 2 * 96000 + 24000  # bar 3, beat 2
    playing = now_playing(cueing, "s", "Slow Burn", "playing", frame, BarBeat(1), Fraction(3, 4), Fraction(1), (3, 4))
    assert (playing.bar, playing.beat, playing.section) == (3, 2, "chorus")
    assert playing.elapsed_s == 4.5 and playing.remaining_s == 16 - 4.5  # the song ends at 9.1: 16 s
    assert playing.timecode == "01:00:04:12"  # 4.5 s at 25 fps
    assert (playing.tempo_percent, playing.speed, playing.loop, playing.cued_bar) == (75, 1, (3, 4), 1)
    assert now_playing(cueing, "s", "", "stopped", 0, BarBeat(1), Fraction(1), Fraction(1), None).section == "intro"


def test_next_cues_count_down_from_the_frame_given(cueing: Cueing) -> None:
    assert cueing.next_cues(0) == [NextCue("blue wash", "lights", "2.1", 2.0), NextCue("/eos/cue/2", "lights", "3.3", 5.0)]
    assert cueing.next_cues(96000) == [NextCue("blue wash", "lights", "2.1", 0.0), NextCue("/eos/cue/2", "lights", "3.3", 3.0)]
    assert cueing.next_cues(96001, count=1) == [NextCue("/eos/cue/2", "lights", "3.3", 3 - 1 / 48000)]
    assert cueing.next_cues(10**7) == []


def test_messages_go_when_they_stop_being_true() -> None:
    said = [Message("press q again", Level.QUESTION, until=13.0), Message("cue marker 1 at 3.1", until=20.0), Message("stretching")]
    assert still_true(said, 12.9) == tuple(said)
    assert still_true(said, 13.0) == tuple(said[1:])  # the question's 3 s are over
    assert still_true(said, 25.0) == (said[2],)  # one true while its cause lasts stays
    assert still_true([Message(str(n), until=100) for n in range(10)], 0, keep=3) == tuple(Message(str(n), until=100) for n in (7, 8, 9))


def test_a_tempo_job_says_its_progress_then_ready_until_it_plays() -> None:
    job = Preparation("s", Fraction(3, 4), started=100.0, estimate_s=10.0)
    assert tempo_messages(job, Fraction(1), 104.0) == [Message("75 %: stretching ~40 %")]
    job.version = object()  # type: ignore[assignment]  # made ready: any version will do for the words
    assert tempo_messages(job, Fraction(1), 104.0) == [Message("75 % ready: space plays it")]
    assert tempo_messages(job, Fraction(3, 4), 104.0) == []  # playing it: no longer news
    failed = Preparation("s", Fraction(6, 5), 0.0, 1.0, error="disk full")
    assert tempo_messages(failed, Fraction(1), 5.0) == [Message("120 % failed: disk full", Level.ERROR)]
    assert tempo_messages(None, Fraction(1), 5.0) == []


def test_the_standby_song_being_made_ready_says_so_while_it_is() -> None:
    job = Preparation("ballad", Fraction(1), started=10.0, estimate_s=2.0)
    assert standby_messages(job, "ballad", 11.0) == [Message("ballad: making ready ~50 %")]
    assert standby_messages(job, "opener", 11.0) == []  # another song was chosen since
    job.error = "disk gone"
    assert standby_messages(job, "ballad", 11.0) == []  # done (the error is the log's, and GO says it)
    assert standby_messages(None, None, 11.0) == []


def test_the_set_keys_show_only_in_a_set_and_s_only_while_stopped() -> None:
    assert KeyHelp(">/< NN#", "standby song") in keys_now("stopped", OperatorInput(), True, False, has_set=True)
    playing = keys_now("playing", OperatorInput(), True, False, has_set=True)
    assert KeyHelp(">/< NN#", "song after this") in playing and all(k.keys != "s" for k in playing)
    assert all(k.keys != ">/< NN#" for k in keys_now("stopped", OperatorInput(), True, False))
    assert KeyHelp("#", "song 3") in keys_now("stopped", OperatorInput(typed="3"), False, False, has_set=True)


def test_the_keys_are_those_that_work_now() -> None:
    stopped = keys_now("stopped", OperatorInput(), has_sections=True, has_take=False)
    assert stopped[0] == KeyHelp("space", "go") and KeyHelp("q", "quit") in stopped
    assert all(k.keys not in ("p", "g/x", "n") for k in stopped)  # nothing to pause, no take to mark
    playing = keys_now("playing", OperatorInput(), has_sections=False, has_take=True)
    assert playing[:2] == (KeyHelp("space", "stop"), KeyHelp("p", "pause")) and KeyHelp("q", "quit (twice)") in playing
    assert KeyHelp("g/x", "take good/no good") in playing and KeyHelp("n", "note on take") in playing
    assert all(k.keys != "s" for k in playing)  # a song without sections
    assert KeyHelp("q", "again: quit") in keys_now("playing", OperatorInput(quit_until=9), False, False, asking=True)
    assert KeyHelp("p", "resume") in keys_now("paused", OperatorInput(), False, False)
    typed = keys_now("stopped", OperatorInput(typed="12"), False, False)
    assert KeyHelp("⏎", "locate bar 12") in typed and KeyHelp("%", "tempo 12 %") in typed
    noting = keys_now("playing", OperatorInput(note="cam 2"), False, True)
    assert [k.keys for k in noting] == ["type", "⏎", "⌫ on empty"]  # while typing a note, letters are the note's


def test_at_the_end_of_the_set_space_is_not_offered() -> None:
    done = keys_now("stopped", OperatorInput(), False, False, has_set=True, set_done=True)
    assert all(k.keys != "space" for k in done) and KeyHelp(">/< NN#", "standby song") in done


def test_a_message_said_twice_is_shown_once() -> None:
    said = [Message("output x is down: gone", Level.WARNING), Message("a"), Message("output x is down: gone", Level.WARNING, 99.0)]
    assert [m.text for m in still_true(said, 10.0)] == ["a", "output x is down: gone"]


def test_what_is_being_typed_is_shown() -> None:
    assert typing_text(OperatorInput()) == ""
    assert typing_text(OperatorInput(typed="12")) == "bar 12_"
    assert typing_text(OperatorInput(typed="12", note="")) == "note: _"


def test_a_snapshot_of_a_real_runner_on_the_dummy_driver(tmp_path: Path) -> None:
    options = RunOptions("s", audio_driver="dummy", log_path=tmp_path / "show.jsonl")
    with ShowRunner(load_show(small_show(tmp_path)), options) as runner:
        runner.locate(2)
        status = snapshot(runner, 50.0, OperatorInput(quit_until=60.0), [Message("old", until=49.0), Message("fresh", until=51.0)])
    assert status.playing.song_id == "s" and status.playing.title == "Slow Burn" and status.playing.state == "stopped"
    assert status.next_cues[0] == NextCue("blue wash", "lights", "2.1", 0.0)  # stopped: counted from the cued bar
    assert [(e.index, e.song_id, e.playing, e.standby) for e in status.set_list] == [(1, "s", False, True)]
    assert [o.name for o in status.outputs] == ["lights", "monitors"]
    assert isinstance(status.outputs[0], OutputHealth)
    assert status.audio == AudioStatus("silent", "SILENT (no device)", "dummy", status.audio.device) and not status.audio.ok
    assert status.trouble
    assert status.messages[0].text == "audio SILENT (no device): nothing is heard"  # why, while it is so
    assert status.messages[1].text.startswith("output monitors is down: broker 127.0.0.1:")
    assert [m.text for m in status.messages][2:] == ["fresh"]  # stopped: q quits at once, nothing to ask
    assert QUIT_AGAIN not in [m.text for m in status.messages]
    assert status.takes.count == 0 and status.takes.path.endswith("takes.jsonl") and status.takes.last is None
