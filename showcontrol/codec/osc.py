"""OSC bytes, built and parsed with python-osc (the only module that imports it): pure, no sockets.

Built: cue messages (at load, so a message the encoder refuses is a load error, never a show-time one),
keep-alives and replies. Parsed: packets that arrive from the network. python-osc's `OscPacket` parses
messages and bundles; its `Dispatcher` is not used, because it sleeps on a bundle's future timetag unless
built with `strict_timing=False` and it swallows parse errors, which we count. Any bytes at all give a
list of messages or `None` (malformed): nothing raises past this module (fuzzed in tests/test_remote_control.py).
"""

from __future__ import annotations

from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from showcontrol.model.show import OscAction


def message(address: str, *args: str | bytes | bool | int | float) -> bytes:
    """One OSC message's datagram."""
    builder = OscMessageBuilder(address=address)
    for arg in args:
        builder.add_arg(arg)
    return bytes(builder.build().dgram)


def encode(action: OscAction) -> bytes:
    return message(action.address, *action.args)


Message = tuple[str, tuple[object, ...]]
MAX_MESSAGES = 64  # a bundle of thousands is a flood, not a console


def parse_packet(data: bytes) -> list[Message] | None:
    """The messages of one packet (a bundle's in order, its timetags ignored: commands act on arrival)."""
    try:
        packet = OscPacket(data)
        messages = [(str(timed.message.address), tuple(timed.message.params)) for timed in packet.messages[:MAX_MESSAGES]]
    except Exception:  # python-osc raises ParseError, and struct, index, unicode and value errors on some bytes
        return None
    return messages


def reply_packet(address: str, text: str) -> bytes:
    """A reply: `address` with one string argument (JSON, as QLab's /reply does)."""
    return message(address, text)
