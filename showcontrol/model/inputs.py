"""Remote-control inputs a venue's patch enables (each is off unless named): who may send the show commands."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK: tuple[Network, ...] = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


@dataclass(frozen=True, slots=True)
class OscInput:
    """OSC commands on `port` over UDP, TCP or both, from the allowed networks only (loopback by default)."""

    port: int
    transports: tuple[str, ...] = ("udp",)
    allow: tuple[Network, ...] = LOOPBACK
    framing: str = "slip"  # TCP: "slip" (OSC 1.1, what QLab and most desks send) or "length" (OSC 1.0)

    def allows(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.allow)


@dataclass(frozen=True, slots=True)
class MqttInput:
    """Commands on `{prefix}command` through the broker of the MQTT output `output` (its credentials and the
    broker's ACLs are the gate); replies on `{prefix}reply`. With `token_env`, each command must carry that
    environment variable's value as its token (the web remote's PIN)."""

    output: str
    token_env: str | None = None


@dataclass(frozen=True, slots=True)
class MidiTrigger:
    """A note on, a controller pressed (value 64 and up) or a program change, on one channel (1-16) or any."""

    kind: str  # note, cc or program
    number: int
    channel: int | None = None


@dataclass(frozen=True, slots=True)
class MidiMapping:
    trigger: MidiTrigger
    verb: str  # a command as the OSC address space names it: go, stop, locate, ...
    args: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MidiInput:
    """Commands from a MIDI port (by part of its name): foot switches through `mappings`, and MIDI Show
    Control GO/STOP/RESUME/LOAD addressed to `msc_device` (or all-call) when it is set; a cue number is a bar."""

    port: str
    mappings: tuple[MidiMapping, ...] = ()
    msc_device: int | None = None


@dataclass(frozen=True, slots=True)
class Inputs:
    osc: OscInput | None = None
    mqtt: MqttInput | None = None
    midi: MidiInput | None = None
