"""The key reader's parsing: the bytes a terminal sends in, the keys an operator pressed out.

A terminal sends arrows, function keys and Alt+key as escape sequences (Down is ESC [ B, F5 is ESC [ 1 5 ~,
Alt+p is ESC p) and a paste as one bracketed block (ESC [ 200~ ... ESC [ 201~). Read byte by byte, their letters
and digits would move the show (a `B` breath marker, a paste's `p` pausing it), so each sequence is recognised
whole and dropped, and a paste is dropped whole. Pure: the reader keeps `rest` and `pasting` between reads.
"""

from __future__ import annotations

from dataclasses import dataclass

ESC = 0x1B
PASTE_START = b"\x1b[200~"
PASTE_END = b"\x1b[201~"
CTRL_C = "\x03"


@dataclass(frozen=True)
class Parsed:
    keys: str  # the plain keys, in order (printable ASCII and control characters such as Enter, Backspace, Ctrl-C)
    rest: bytes = b""  # the start of a sequence the bytes end inside: put it before the next bytes read
    pasting: bool = False  # inside a bracketed paste that has not ended yet
    pastes: int = 0  # pastes that began in these bytes (each dropped whole)


def _sequence_end(data: bytes, start: int) -> int | None:
    """Where the escape sequence at `start` ends (exclusive); None if the bytes end before it does."""
    if start + 1 >= len(data):
        return None
    kind = data[start + 1]
    if kind == ord("["):  # CSI: parameters 0x30-0x3F, intermediates 0x20-0x2F, one final byte 0x40-0x7E
        index = start + 2
        while index < len(data) and 0x20 <= data[index] <= 0x3F:
            index += 1
        if index >= len(data):
            return None
        return index + 1 if 0x40 <= data[index] <= 0x7E else index  # malformed: drop what came before the odd byte
    if kind == ord("O"):  # SS3: F1-F4 and the keypad in application mode, one byte after ESC O
        return start + 3 if start + 2 < len(data) else None
    if kind == ESC:  # ESC ESC: the first is a lone Escape key; the second starts again
        return start + 1
    return start + 2  # Alt+key: ESC then the key


def parse_keys(data: bytes, pasting: bool = False, final: bool = False) -> Parsed:
    """The keys in `data`, with every escape sequence and bracketed paste dropped. `final`: no more bytes are
    coming soon (the reader waited), so a sequence left unfinished (a lone Escape key) is dropped too."""
    keys: list[str] = []
    pastes = 0
    index = 0
    while index < len(data):
        if pasting:
            paste_end = data.find(PASTE_END, index)
            if paste_end < 0:
                tail = next((n for n in range(len(PASTE_END) - 1, 0, -1) if data.endswith(PASTE_END[:n])), 0)
                rest = data[len(data) - tail :] if tail and not final else b""
                return Parsed("".join(keys), rest, True, pastes)
            index, pasting = paste_end + len(PASTE_END), False
            continue
        byte = data[index]
        if byte != ESC:
            if byte < 0x80:  # the keys are ASCII; a UTF-8 character typed by mistake is no key
                keys.append(chr(byte))
            index += 1
            continue
        end = _sequence_end(data, index)
        if end is None:
            if final:
                break
            return Parsed("".join(keys), data[index:], False, pastes)
        if data[index:end] == PASTE_START:
            pasting, pastes = True, pastes + 1
        index = end
    return Parsed("".join(keys), b"", pasting, pastes)
