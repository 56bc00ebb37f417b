"""MQTT 3.1.1 PUBLISH packets built once, at load time, for the dispatcher to write as they are.

Only QoS 0 and not retained: such a packet has no packet identifier (MQTT 3.1.1, 3.3.2.2), so the same
bytes can be sent at every pass of a loop. paho builds packets only inside its publish, with its own
queue and locks, which is what the cue line (io/mqtt_cue_line.py) exists to skip.
"""

from __future__ import annotations

PUBLISH_QOS0 = 0x30  # packet type 3, no DUP, QoS 0, no RETAIN
MAX_REMAINING_LENGTH = 268_435_455  # four length bytes (MQTT 3.1.1, 2.2.3)


def publish_packet(topic: str, payload: bytes) -> bytes:
    """The whole packet: fixed header, topic as a length-prefixed UTF-8 string, payload."""
    name = topic.encode()
    if len(name) > 0xFFFF:
        raise ValueError(f"MQTT topic of {len(name)} bytes is longer than 65535")
    body = len(name).to_bytes(2, "big") + name + payload
    return bytes((PUBLISH_QOS0,)) + remaining_length(len(body)) + body


def remaining_length(length: int) -> bytes:
    """MQTT's variable-length integer: seven bits a byte, least significant first, high bit = more follow."""
    if not 0 <= length <= MAX_REMAINING_LENGTH:
        raise ValueError(f"MQTT packet body of {length} bytes is out of range")
    encoded = bytearray()
    while True:
        length, digit = length >> 7, length & 0x7F
        encoded.append(digit | (0x80 if length else 0))
        if not length:
            return bytes(encoded)
