"""ID3v2.3 tags with chapters, as bytes: what a phone's player shows as a song's chapters and lyrics.

Written here rather than with a tagging library because the one complete Python library (mutagen) is
GPL-2.0-or-later, which an MIT program shipped in commercial productions cannot take on; the few frames a
practice pack needs are small and fully specified:
- ID3 tag version 2.3.0 (id3.org, "ID3 tag version 2.3.0"): the header's size is syncsafe (7 bits a byte),
  frame sizes are plain big-endian; text is UTF-16 with a byte-order mark (encoding 1).
- ID3v2 Chapter Frame Addendum 1.0 (id3.org): CHAP (element id, start and end in ms, byte offsets
  0xFFFFFFFF for "not used", then sub-frames such as TIT2) and one top-level, ordered CTOC listing them.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

UNUSED_OFFSET = 0xFFFFFFFF
UTF16 = b"\x01"


@dataclass(frozen=True, slots=True)
class Chapter:
    title: str
    start_ms: int
    end_ms: int


def syncsafe(value: int) -> bytes:
    """A 28-bit size as four bytes of seven bits each (the tag header's size)."""
    if not 0 <= value < 1 << 28:
        raise ValueError(f"an ID3 tag cannot be {value} bytes long")
    return bytes((value >> shift) & 0x7F for shift in (21, 14, 7, 0))


def _text(value: str) -> bytes:
    return value.encode("utf-16")  # with its byte-order mark


def frame(frame_id: str, body: bytes) -> bytes:
    if len(frame_id) != 4 or not frame_id.isalnum() or not frame_id.isupper():
        raise ValueError(f"{frame_id!r} is not an ID3v2.3 frame id")
    return frame_id.encode("ascii") + struct.pack(">IH", len(body), 0) + body


def text_frame(frame_id: str, value: str) -> bytes:
    """TIT2 (title), TPE1 (artist), TALB (album) ...: encoding, then the text."""
    return frame(frame_id, UTF16 + _text(value))


def lyrics_frame(text: str, language: str = "eng") -> bytes:
    """USLT: unsynchronised lyrics, with an empty content descriptor."""
    return frame("USLT", UTF16 + language.encode("ascii")[:3].ljust(3, b" ") + _text("") + b"\x00\x00" + _text(text))


def chapter_frames(chapters: Sequence[Chapter]) -> bytes:
    """One CTOC (top level, ordered) and a CHAP with a TIT2 title for each chapter."""
    if len(chapters) > 255:
        raise ValueError("a table of contents lists at most 255 chapters")
    ids = [f"ch{index}".encode("ascii") for index in range(len(chapters))]
    toc = b"toc\x00" + bytes([0x03, len(chapters)]) + b"".join(element + b"\x00" for element in ids)
    frames = [frame("CTOC", toc)]
    for element, chapter in zip(ids, chapters, strict=True):
        timing = struct.pack(">IIII", chapter.start_ms, chapter.end_ms, UNUSED_OFFSET, UNUSED_OFFSET)
        frames.append(frame("CHAP", element + b"\x00" + timing + text_frame("TIT2", chapter.title)))
    return b"".join(frames)


def tag(frames: Sequence[bytes]) -> bytes:
    """An ID3v2.3 tag holding `frames`, to put before an MP3's first audio frame."""
    body = b"".join(frames)
    return b"ID3\x03\x00\x00" + syncsafe(len(body)) + body
