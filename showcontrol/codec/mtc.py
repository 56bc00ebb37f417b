"""MIDI Time Code: quarter-frame messages (F1 0nnn dddd), full-frame SysEx, and a decoder for tests.

Eight quarter frames carry one label, low nibble first: frames, seconds, minutes, hours (with the rate
code in the hours' high bits). A sequence starts on an even frame and carries that frame's label; it
takes two frames to send, so receivers add two frames to what they assemble.
"""

from __future__ import annotations

from collections.abc import Iterable

from showcontrol.model.timecode import Label, TimecodeRate

RATE_CODES = {"23.976": 0, "24": 0, "25": 1, "29.97df": 2, "30": 3}
"""MTC has no 23.976 code: it is sent labelled as 24, as LTC is."""


def rate_code(rate: TimecodeRate) -> int:
    return RATE_CODES[rate.name]


def quarter_frame(piece: int, label: Label, code: int) -> bytes:
    """Quarter frame `piece` (0-7) of `label`."""
    fields = (label.frames, label.seconds, label.minutes, label.hours)
    value = fields[piece // 2]
    nibble = value & 0x0F if piece % 2 == 0 else value >> 4
    if piece == 7:
        nibble = (label.hours >> 4) & 0x01 | code << 1
    return bytes((0xF1, piece << 4 | nibble))


def full_frame(label: Label, code: int, device_id: int = 0x7F) -> bytes:
    """The full-message SysEx a receiver jumps to (sent on every locate, and when stopping)."""
    return bytes((0xF0, 0x7F, device_id, 0x01, 0x01, code << 5 | label.hours, label.minutes, label.seconds, label.frames, 0xF7))


def decode_quarter_frames(messages: Iterable[bytes]) -> list[tuple[Label, int]]:
    """Assemble every complete sequence 0..7 into (label as sent, rate code); anything out of order resets."""
    decoded: list[tuple[Label, int]] = []
    nibbles: list[int] = []
    for message in messages:
        if len(message) != 2 or message[0] != 0xF1:
            continue
        piece, nibble = message[1] >> 4, message[1] & 0x0F
        if piece != len(nibbles):
            nibbles = []
            if piece != 0:
                continue
        nibbles.append(nibble)
        if len(nibbles) == 8:
            frames, seconds, minutes = (nibbles[i] | nibbles[i + 1] << 4 for i in (0, 2, 4))
            hours = nibbles[6] | (nibbles[7] & 0x01) << 4
            decoded.append((Label(hours, minutes, seconds, frames), nibbles[7] >> 1))
            nibbles = []
    return decoded


def decode_full_frame(message: bytes) -> tuple[Label, int]:
    if len(message) != 10 or message[:2] != b"\xf0\x7f" or message[3:5] != b"\x01\x01" or message[-1] != 0xF7:
        raise ValueError(f"not an MTC full-frame message: {message.hex(' ')}")
    return Label(message[5] & 0x1F, message[6], message[7], message[8]), message[5] >> 5
