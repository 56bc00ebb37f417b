"""Golden bytes for the wire codecs: MSC, MTC, MIDI clock and song position, OSC stream framing, MQTT PUBLISH."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message_builder import OscMessageBuilder

from showcontrol.codec.midi_sync import song_position
from showcontrol.codec.mqtt_publish import publish_packet, remaining_length
from showcontrol.codec.msc import msc
from showcontrol.codec.mtc import decode_full_frame, decode_quarter_frames, full_frame, quarter_frame
from showcontrol.codec.osc_framing import StreamDecoder, bundle, frame_length_prefixed, frame_slip, ntp_timetag
from showcontrol.model.timecode import RATES, Label, count_to_label


def hexes(data: bytes) -> str:
    return data.hex(" ").upper()


@pytest.mark.parametrize(
    ("message", "golden"),
    [
        (msc("go", cue="12.5", cue_list="1"), "F0 7F 7F 02 01 01 31 32 2E 35 00 31 F7"),
        (msc("go"), "F0 7F 7F 02 01 01 F7"),
        (msc("go", cue="3", cue_list="2", cue_path="7", device_id=5), "F0 7F 05 02 01 01 33 00 32 00 37 F7"),
        (msc("stop", cue="1"), "F0 7F 7F 02 01 02 31 F7"),
        (msc("resume", command_format="sound"), "F0 7F 7F 02 10 03 F7"),
        (msc("timed_go", cue="4", timecode=(1, 2, 3, 4, 0)), "F0 7F 7F 02 01 04 01 02 03 04 00 34 F7"),
        (msc("load", cue="10", cue_list="1"), "F0 7F 7F 02 01 05 31 30 00 31 F7"),
        (msc("set", control=0x81, value=0x3FFF), "F0 7F 7F 02 01 06 01 01 7F 7F F7"),
        (msc("fire", macro=17), "F0 7F 7F 02 01 07 11 F7"),
        (msc("all_off"), "F0 7F 7F 02 01 08 F7"),
        (msc("restore", command_format="all_types"), "F0 7F 7F 02 7F 09 F7"),
        (msc("reset", device_id=0x70), "F0 7F 70 02 01 0A F7"),
    ],
)
def test_msc_golden_vectors(message: bytes, golden: str) -> None:
    assert hexes(message) == golden


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: msc("go", cue="12a"), "digits with dots"),
        (lambda: msc("jump"), "unknown MSC command"),
        (lambda: msc("go", command_format="confetti"), "command format"),
        (lambda: msc("go", device_id=200), "device id"),
        (lambda: msc("go", cue_list="1"), "needs a cue number"),
        (lambda: msc("fire"), "macro"),
    ],
)
def test_msc_refuses_what_a_console_would_misread(call: Callable[[], object], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        call()


def test_mtc_quarter_frames_golden() -> None:
    label = Label(1, 2, 3, 4)  # 01:02:03:04 at 25 fps (code 1)
    pieces = [hexes(quarter_frame(piece, label, 1)) for piece in range(8)]
    assert pieces == ["F1 04", "F1 10", "F1 23", "F1 30", "F1 42", "F1 50", "F1 61", "F1 72"]
    assert hexes(quarter_frame(7, Label(23, 59, 59, 29), 2)) == "F1 75"  # hours 23 = 0x17: high bit 1, code 2 (29.97df)


def test_mtc_full_frame_golden_and_round_trip() -> None:
    message = full_frame(Label(1, 0, 0, 0), 3)
    assert hexes(message) == "F0 7F 7F 01 01 61 00 00 00 F7"
    assert decode_full_frame(message) == (Label(1, 0, 0, 0), 3)


@pytest.mark.parametrize("rate", ["24", "25", "29.97df", "30"])
def test_mtc_round_trip_through_a_drop_frame_minute(rate: str) -> None:
    spec = RATES[rate]
    code = {"24": 0, "25": 1, "29.97df": 2, "30": 3}[rate]
    start = 10 * 60 * spec.nominal * 59 // 60  # near 00:09:50, so 29.97df crosses the drop at 00:10:00 and non-drop minutes
    labels = [count_to_label(start + 2 * k, spec) for k in range(900)]
    stream = [quarter_frame(piece, label, code) for label in labels for piece in range(8)]
    assert decode_quarter_frames(stream) == [(label, code) for label in labels]


def test_song_position_pointer_golden() -> None:
    assert hexes(song_position(0)) == "F2 00 00"
    assert hexes(song_position(16 * 4)) == "F2 40 00"  # bar 5 of 4/4: 64 sixteenths
    assert hexes(song_position(1000)) == "F2 68 07"
    with pytest.raises(ValueError):
        song_position(1 << 14)


def test_osc_stream_framing_golden_and_round_trip() -> None:
    packet = OscMessageBuilder("/eos/cue/1/12/fire").build().dgram
    assert frame_length_prefixed(packet)[:4] == len(packet).to_bytes(4, "big")
    awkward = b"\x01\xc0\x02\xdb\x03"
    assert hexes(frame_slip(awkward)) == "C0 01 DB DC 02 DB DD 03 C0"
    for framing, frame in (("length", frame_length_prefixed), ("slip", frame_slip)):
        stream = b"".join(frame(p) for p in (packet, awkward, packet))
        decoder = StreamDecoder(framing)
        got = [p for i in range(0, len(stream), 3) for p in decoder.feed(stream[i : i + 3])]  # arrives in pieces
        assert got == [packet, awkward, packet]


def test_an_osc_bundle_carries_its_due_time_as_ntp() -> None:
    unix_ns = 1_700_000_000_250_000_000
    tag = ntp_timetag(unix_ns)
    assert tag >> 32 == 1_700_000_000 + 2_208_988_800 and tag & 0xFFFFFFFF == 1 << 30  # .25 s
    packet = OscMessageBuilder("/go").build().dgram
    parsed = OscBundle(bundle(packet, tag))  # python-osc reads it back
    assert abs(parsed.timestamp - 1_700_000_000.25) < 1e-6 and parsed.num_contents == 1


@pytest.mark.parametrize(
    ("length", "golden"),  # MQTT 3.1.1, table 2.4: the smallest and largest length of each size
    [
        (0, "00"),
        (127, "7f"),
        (128, "8001"),
        (16383, "ff7f"),
        (16384, "808001"),
        (2097151, "ffff7f"),
        (2097152, "80808001"),
        (268435455, "ffffff7f"),
    ],
)
def test_mqtt_remaining_length_golden(length: int, golden: str) -> None:
    assert remaining_length(length).hex() == golden


def test_an_mqtt_publish_packet_is_qos0_unretained_with_its_topic_length_prefixed() -> None:
    assert publish_packet("fx/ü", b"go") == bytes.fromhex("30 09 0005 66782fc3bc 676f")
    with pytest.raises(ValueError, match="out of range"):
        remaining_length(268435456)
