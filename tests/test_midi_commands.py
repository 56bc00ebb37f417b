"""MIDI commands: the MSC decoder (golden bytes), the foot-switch map (pure), and both from a real JACK
MIDI port (jackd's dummy backend) into a running show."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from peers import wait_until
from test_remote_control import write_show

from showcontrol.codec.msc import MscMessage, decode_msc, msc
from showcontrol.control.commands import Go, Locate, Pause, Reply, Resume, SetLoop, Stop
from showcontrol.control.midi_map import command_for
from showcontrol.engine.transport import State

if TYPE_CHECKING:
    import rtmidi

    from showcontrol.app import ShowRunner
from showcontrol.model.inputs import MidiInput, MidiMapping, MidiTrigger


@pytest.mark.parametrize(
    ("hex_bytes", "decoded"),
    [
        ("F0 7F 01 02 01 01 F7", MscMessage(1, "lighting", "go")),
        ("F0 7F 7F 02 01 01 31 32 2E 35 00 31 F7", MscMessage(0x7F, "lighting", "go", "12.5", "1")),
        ("F0 7F 05 02 10 05 33 00 32 00 37 F7", MscMessage(5, "sound", "load", "3", "2", "7")),
        ("F0 7F 01 02 01 02 F7", MscMessage(1, "lighting", "stop")),
        ("F0 7F 01 02 01 03 31 37 F7", MscMessage(1, "lighting", "resume", "17")),
        ("F0 7F 01 02 01 04 01 02 03 04 00 39 F7", MscMessage(1, "lighting", "timed_go", "9")),
        ("F0 7F 01 02 01 0A F7", MscMessage(1, "lighting", "reset")),
    ],
)
def test_msc_decodes_what_a_console_sends(hex_bytes: str, decoded: MscMessage) -> None:
    assert decode_msc(bytes.fromhex(hex_bytes)) == decoded


def test_msc_decodes_what_our_encoder_writes() -> None:
    for command in ("go", "stop", "resume", "load"):
        assert decode_msc(msc(command, cue="12", cue_list="3", device_id=9)) == MscMessage(9, "lighting", command, "12", "3")


@pytest.mark.parametrize(
    "hex_bytes",
    ["F0 7E 01 06 01 F7", "F0 7F 01 02 01 01", "F0 7F 01 02 01 7E F7", "F0 7F 01 02 0F 01 F7", "F0 7F 01 02 01 01 41 F7", "90 3C 64", ""],
)
def test_msc_decoder_rejects_what_is_not_msc(hex_bytes: str) -> None:
    assert decode_msc(bytes.fromhex(hex_bytes)) is None


FOOT = MidiInput(
    "foot",
    (
        MidiMapping(MidiTrigger("note", 36), "go"),
        MidiMapping(MidiTrigger("cc", 64, 1), "stop"),
        MidiMapping(MidiTrigger("program", 3), "locate", ("17",)),
        MidiMapping(MidiTrigger("note", 38, 10), "loop", ("verse",)),
        MidiMapping(MidiTrigger("note", 40), "pause"),
    ),
    msc_device=1,
)


@pytest.mark.parametrize(
    ("hex_bytes", "command"),
    [
        ("90 24 64", Go()),
        ("95 24 01", Go()),  # any channel
        ("90 24 00", None),  # a note off written as a note on
        ("80 24 40", None),
        ("B0 40 7F", Stop()),
        ("B0 40 00", None),  # the pedal's release
        ("B1 40 7F", None),  # channel 2: mapped on channel 1 only
        ("C0 03", Locate(bar=17)),
        ("99 26 64", SetLoop(section="verse")),
        ("90 28 64", Pause()),
        ("F0 7F 01 02 01 01 35 F7", Go(5)),
        ("F0 7F 7F 02 01 01 F7", Go()),  # all-call
        ("F0 7F 02 02 01 01 F7", None),  # another device's GO
        ("F0 7F 01 02 01 02 F7", Stop()),
        ("F0 7F 01 02 01 03 F7", Resume()),
        ("F0 7F 01 02 01 05 39 F7", Locate(bar=9)),
        ("F8", None),
    ],
)
def test_foot_switches_and_msc_map_to_commands(hex_bytes: str, command: object) -> None:
    assert command_for(bytes.fromhex(hex_bytes), FOOT) == command


def test_an_msc_cue_that_is_not_a_bar_is_answered_with_an_error() -> None:
    reply = command_for(msc("go", cue="12.5", device_id=1), FOOT)
    assert isinstance(reply, Reply) and "not a bar number" in reply.text


def drive(runner: ShowRunner, pedal: rtmidi.MidiOut) -> None:
    pedal.send_message([0x90, 36, 100])
    wait_until(lambda: runner.segment.state is State.PLAYING)
    pedal.send_message([0xB0, 64, 127])
    wait_until(lambda: runner.segment.state is State.STOPPED)
    pedal.send_message(list(msc("go", cue="5", device_id=2)))  # not ours
    time.sleep(0.5)
    assert runner.segment.state is State.STOPPED
    pedal.send_message(list(msc("go", cue="5", device_id=1)))
    wait_until(lambda: runner.segment.state is State.PLAYING)
    assert runner.cue_bar == 5


def test_a_foot_switch_and_an_msc_console_on_jack_ports_drive_the_show(jack, tmp_path: Path) -> None:
    import rtmidi

    from showcontrol.app import RunOptions, ShowRunner
    from showcontrol.io.midi_in import MidiCommandInput
    from showcontrol.load.show_file import load_show
    from showcontrol.remote.controller import Controller

    pedal = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="pedalboard")
    pedal.open_virtual_port("footswitch")
    try:
        patch = "inputs:\n  midi: {port: footswitch, map: {note 36: go, cc 64/1: stop}, msc: {device: 1}}\n"
        options = RunOptions("song1", audio_driver="dummy", log_path=tmp_path / "show.jsonl", midi_api="jack")
        with ShowRunner(load_show(write_show(tmp_path, patch)), options) as runner:
            spec = runner.loaded.show.patch.inputs.midi
            assert spec is not None and spec.msc_device == 1
            with MidiCommandInput(spec, Controller(runner).handle, "jack") as midi_in:
                assert midi_in.wait_connected(60)
                drive(runner, pedal)
                wait_until(lambda: midi_in.counts.taken == 3)  # go, stop, and MSC GO 5: nothing refused or dropped
                assert midi_in.counts.text() == "taken 3, refused 0, dropped 0"
    finally:
        pedal.close_port()
        pedal.delete()
    records = [json.loads(line) for line in (tmp_path / "show.jsonl").read_text().splitlines()]
    commands = [(r["command"], r.get("args", {}), r["source"]) for r in records if r.get("kind") == "command"]
    assert [c[:2] for c in commands] == [("go", {}), ("stop", {}), ("go", {"bar": "5"})]
    assert all(source.startswith("midi:") and "footswitch" in source for _, _, source in commands)
