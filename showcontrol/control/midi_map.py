"""Which command a MIDI message asks for under the patch's MIDI input (pure: bytes in, a command out)."""

from __future__ import annotations

from showcontrol.codec.msc import decode_msc
from showcontrol.control.commands import Command, Go, Locate, Reply, Resume, Stop, error, parse_command
from showcontrol.model.inputs import MidiInput, MidiTrigger

PRESSED = 64  # a controller (a sustain-pedal foot switch) counts as pressed from this value; its release does nothing


def trigger_of(message: bytes) -> MidiTrigger | None:
    """A note on (velocity above 0), a controller pressed, or a program change; None for anything else."""
    if len(message) < 2 or not 0x80 <= message[0] < 0xF0:
        return None
    kind, channel = message[0] & 0xF0, (message[0] & 0x0F) + 1
    if kind == 0x90 and len(message) >= 3 and message[2] > 0:
        return MidiTrigger("note", message[1], channel)
    if kind == 0xB0 and len(message) >= 3 and message[2] >= PRESSED:
        return MidiTrigger("cc", message[1], channel)
    if kind == 0xC0:
        return MidiTrigger("program", message[1], channel)
    return None


def command_for(message: bytes, spec: MidiInput) -> Command | Reply | None:
    """The command `message` maps to, an error reply for an MSC cue we cannot play, or None (not ours)."""
    if message[:1] == b"\xf0":
        return _show_control(message, spec)
    trigger = trigger_of(message)
    if trigger is None:
        return None
    for mapping in spec.mappings:
        wanted = mapping.trigger
        if (wanted.kind, wanted.number) == (trigger.kind, trigger.number) and wanted.channel in (None, trigger.channel):
            return parse_command(mapping.verb, mapping.args)
    return None


def _show_control(message: bytes, spec: MidiInput) -> Command | Reply | None:
    """MSC GO, STOP, RESUME and LOAD for our device id (or all-call); the cue number is a bar for now."""
    decoded = decode_msc(message)
    if spec.msc_device is None or decoded is None or not decoded.addressed_to(spec.msc_device):
        return None
    if decoded.command in ("stop", "all_off"):
        return Stop()
    if decoded.command == "resume":
        return Resume()
    if decoded.command not in ("go", "load"):
        return None
    if decoded.cue is None:
        return Go() if decoded.command == "go" else error("MSC LOAD needs a cue number (a bar)")
    if not decoded.cue.isdigit():
        return error(f"MSC cue {decoded.cue} is not a bar number (whole cues only, for now)")
    return Go(int(decoded.cue)) if decoded.command == "go" else Locate(bar=int(decoded.cue))
