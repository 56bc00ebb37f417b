"""MIDI beat clock and Song Position Pointer (System Real Time and System Common messages)."""

from __future__ import annotations

CLOCK = b"\xf8"
START = b"\xfa"
CONTINUE = b"\xfb"
STOP = b"\xfc"
CLOCKS_PER_QUARTER = 24
SIXTEENTHS_PER_QUARTER = 4  # SPP counts "MIDI beats": sixteenth notes, 6 clocks each


def song_position(sixteenths: int) -> bytes:
    """F2 lsb msb: where the next Continue resumes, in sixteenths from the start of the song (0-16383)."""
    if not 0 <= sixteenths < 1 << 14:
        raise ValueError(f"a song position is 0-16383 sixteenths, not {sixteenths}")
    return bytes((0xF2, sixteenths & 0x7F, sixteenths >> 7))
