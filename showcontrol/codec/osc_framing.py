"""OSC over stream transports: OSC 1.0's 32-bit length prefix, and OSC 1.1's SLIP (RFC 1055, double-ended).

Also the NTP timetag of an OSC bundle, which some consoles use to schedule a message for its due time.
"""

from __future__ import annotations

import struct

SLIP_END, SLIP_ESC, SLIP_ESC_END, SLIP_ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD
NTP_EPOCH_OFFSET_S = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01


def frame_length_prefixed(packet: bytes) -> bytes:
    return struct.pack(">I", len(packet)) + packet


def frame_slip(packet: bytes) -> bytes:
    escaped = packet.replace(bytes((SLIP_ESC,)), bytes((SLIP_ESC, SLIP_ESC_ESC))).replace(
        bytes((SLIP_END,)), bytes((SLIP_ESC, SLIP_ESC_END))
    )
    return bytes((SLIP_END,)) + escaped + bytes((SLIP_END,))


class StreamDecoder:
    """Splits a byte stream back into OSC packets (for tests and, later, OSC input over TCP)."""

    def __init__(self, framing: str) -> None:
        if framing not in ("length", "slip"):
            raise ValueError(f"unknown OSC stream framing {framing!r}")
        self.framing = framing
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        return self._length_packets() if self.framing == "length" else self._slip_packets()

    def _length_packets(self) -> list[bytes]:
        packets = []
        while len(self._buffer) >= 4:
            (size,) = struct.unpack(">I", self._buffer[:4])
            if len(self._buffer) < 4 + size:
                break
            packets.append(bytes(self._buffer[4 : 4 + size]))
            del self._buffer[: 4 + size]
        return packets

    def _slip_packets(self) -> list[bytes]:
        packets = []
        while (end := self._buffer.find(SLIP_END)) >= 0:
            raw = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if raw:
                packets.append(
                    raw.replace(bytes((SLIP_ESC, SLIP_ESC_END)), bytes((SLIP_END,))).replace(
                        bytes((SLIP_ESC, SLIP_ESC_ESC)), bytes((SLIP_ESC,))
                    )
                )
        return packets


def ntp_timetag(unix_ns: int) -> int:
    """64-bit NTP time (32.32 fixed point, seconds since 1900) of a Unix time in nanoseconds."""
    seconds, nanos = divmod(unix_ns, 1_000_000_000)
    return (seconds + NTP_EPOCH_OFFSET_S) << 32 | (nanos << 32) // 1_000_000_000


def bundle(packet: bytes, timetag: int) -> bytes:
    """An OSC bundle holding one message, due at `timetag`."""
    return b"#bundle\x00" + struct.pack(">Q", timetag) + struct.pack(">I", len(packet)) + packet
