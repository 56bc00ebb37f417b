"""Device profiles: what a console's short actions (`lights: {cue: 12}`) mean on the wire, as data.

A profile is read from YAML (hardware/profiles/*.yaml); adding a console needs no Python. Each action
is a template of an ordinary osc, midi or mqtt action whose strings may hold `{name}` or `{name:02d}`
fields, filled from the cue's parameters and the action's defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ProfileAction:
    name: str
    template: Mapping[str, Any]  # the keys of an osc, midi or mqtt action, without `to`
    defaults: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)  # each parameter's type: number, integer, level, name, text


@dataclass(frozen=True)
class Keepalive:
    """A message some consoles need repeated to keep talking to us (X32/M32 `/xremote`, every < 10 s)."""

    address: str
    every_s: float


@dataclass(frozen=True)
class Profile:
    name: str
    kind: str  # osc, midi or mqtt: the output type it drives
    path: Path
    description: str = ""
    port: int | None = None  # default port (UDP for OSC)
    tcp_port: int | None = None  # default port for OSC over TCP
    keepalive: Keepalive | None = None
    actions: Mapping[str, ProfileAction] = field(default_factory=dict)
    on_locate: str = "none"  # the default for outputs using this profile (see OscOutput.on_locate)
