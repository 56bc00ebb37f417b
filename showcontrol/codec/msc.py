"""MIDI Show Control (MSC 1.0, the MMA's RP-002): System Exclusive messages that fire cues on consoles.

    F0 7F <device id> 02 <command format> <command> <data> F7

Cue numbers, lists and paths travel as ASCII ("12.5"), separated by 00. Device id 0x7F is all-call;
0x00-0x6F address one device, 0x70-0x7E a group.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

ALL_CALL = 0x7F

COMMAND_FORMATS = {
    "lighting": 0x01,
    "moving_lights": 0x02,
    "color_changers": 0x03,
    "strobes": 0x04,
    "lasers": 0x05,
    "chasers": 0x06,
    "sound": 0x10,
    "music": 0x11,
    "cd_players": 0x12,
    "eprom_playback": 0x13,
    "audio_tape_machines": 0x14,
    "intercoms": 0x15,
    "amplifiers": 0x16,
    "audio_effects": 0x17,
    "equalisers": 0x18,
    "machinery": 0x20,
    "rigging": 0x21,
    "flys": 0x22,
    "lifts": 0x23,
    "turntables": 0x24,
    "trusses": 0x25,
    "robots": 0x26,
    "animation": 0x27,
    "floats": 0x28,
    "breakaways": 0x29,
    "barges": 0x2A,
    "video": 0x30,
    "video_tape_machines": 0x31,
    "video_cassette_machines": 0x32,
    "video_disc_players": 0x33,
    "video_switchers": 0x34,
    "video_effects": 0x35,
    "video_character_generators": 0x36,
    "video_still_stores": 0x37,
    "video_monitors": 0x38,
    "projection": 0x40,
    "film_projectors": 0x41,
    "slide_projectors": 0x42,
    "video_projectors": 0x43,
    "dissolvers": 0x44,
    "shutter_controls": 0x45,
    "process_control": 0x50,
    "hydraulic_oil": 0x51,
    "h2o": 0x52,
    "co2": 0x53,
    "compressed_air": 0x54,
    "natural_gas": 0x55,
    "fog": 0x56,
    "smoke": 0x57,
    "cracked_haze": 0x58,
    "pyro": 0x60,
    "fireworks": 0x61,
    "explosions": 0x62,
    "flame": 0x63,
    "smoke_pots": 0x64,
    "all_types": 0x7F,
}

COMMANDS = {
    "go": 0x01,
    "stop": 0x02,
    "resume": 0x03,
    "timed_go": 0x04,
    "load": 0x05,
    "set": 0x06,
    "fire": 0x07,
    "all_off": 0x08,
    "restore": 0x09,
    "reset": 0x0A,
    "go_off": 0x0B,
}
CUE_COMMANDS = frozenset({"go", "stop", "resume", "timed_go", "load", "go_off"})
"""Commands that take an optional cue number, list and path."""

_CUE_TEXT = re.compile(r"^[0-9]+(\.[0-9]+)*$")


def cue_field(text: str) -> bytes:
    """A cue number, list or path: digits and dots, as ASCII."""
    if not _CUE_TEXT.match(text):
        raise ValueError(f"MSC cue numbers, lists and paths are digits with dots (like 12.5), not {text!r}")
    return text.encode("ascii")


def msc(
    command: str,
    *,
    cue: str | None = None,
    cue_list: str | None = None,
    cue_path: str | None = None,
    device_id: int = ALL_CALL,
    command_format: str = "lighting",
    timecode: Sequence[int] | None = None,
    control: int | None = None,
    value: int | None = None,
    macro: int | None = None,
) -> bytes:
    """One MSC message. `timecode` (hours, minutes, seconds, frames, subframes) is for timed_go and set."""
    if command not in COMMANDS:
        raise ValueError(f"unknown MSC command {command!r}; one of {', '.join(COMMANDS)}")
    if command_format not in COMMAND_FORMATS:
        raise ValueError(f"unknown MSC command format {command_format!r}")
    if not 0 <= device_id <= 0x7F:
        raise ValueError(f"MSC device id is 0-127 (127 = all-call), not {device_id}")
    data = bytearray()
    if command == "timed_go":
        data += _timecode(timecode or (0, 0, 0, 0, 0))
    if command in CUE_COMMANDS:
        if (cue_list is not None and cue is None) or (cue_path is not None and cue_list is None):
            raise ValueError("an MSC cue list needs a cue number, and a cue path needs a list")
        fields = [f for f in (cue, cue_list, cue_path) if f is not None]
        data += b"\x00".join(cue_field(f) for f in fields)
    elif command == "set":
        if control is None or value is None or not 0 <= control < 1 << 14 or not 0 <= value < 1 << 14:
            raise ValueError("MSC set needs a control number and a value, each 0-16383")
        data += bytes((control & 0x7F, control >> 7, value & 0x7F, value >> 7))
        if timecode is not None:
            data += _timecode(timecode)
    elif command == "fire":
        if macro is None or not 0 <= macro <= 0x7F:
            raise ValueError("MSC fire needs a macro number 0-127")
        data.append(macro)
    return bytes((0xF0, 0x7F, device_id, 0x02, COMMAND_FORMATS[command_format], COMMANDS[command])) + bytes(data) + b"\xf7"


def _timecode(fields: Sequence[int]) -> bytes:
    hours, minutes, seconds, frames, subframes = (list(fields) + [0] * 5)[:5]
    return bytes((hours & 0x1F, minutes, seconds, frames, subframes))


@dataclass(frozen=True, slots=True)
class MscMessage:
    """One MSC message as received: who it is for, and the command with its cue fields (text, as sent)."""

    device_id: int
    command_format: str
    command: str
    cue: str | None = None
    cue_list: str | None = None
    cue_path: str | None = None

    def addressed_to(self, device_id: int) -> bool:
        """Whether a device with `device_id` acts on it: its own id or all-call (groups are not ours to join)."""
        return self.device_id in (device_id, ALL_CALL)


_FORMAT_NAMES = {code: name for name, code in COMMAND_FORMATS.items()}
_COMMAND_NAMES = {code: name for name, code in COMMANDS.items()}


def decode_msc(message: bytes) -> MscMessage | None:
    """The MSC message in a whole SysEx (F0 ... F7), or None for anything else: other SysEx, a command
    this codec does not know, cue fields that are not digits and dots. Never raises."""
    if len(message) < 7 or message[:2] != b"\xf0\x7f" or message[3] != 0x02 or message[-1] != 0xF7:
        return None
    device_id, command_format, command, data = message[2], _FORMAT_NAMES.get(message[4]), _COMMAND_NAMES.get(message[5]), message[6:-1]
    if device_id > 0x7F or command_format is None or command is None:
        return None
    if command == "timed_go":
        data = data[5:]
    fields: list[str | None] = [None, None, None]
    if command in CUE_COMMANDS and data:
        parts = data.split(b"\x00")
        if len(parts) > 3 or not all(_CUE_TEXT.match(part.decode("ascii", "replace")) for part in parts):
            return None
        fields[: len(parts)] = [part.decode("ascii") for part in parts]
    return MscMessage(device_id, command_format, command, *fields)
