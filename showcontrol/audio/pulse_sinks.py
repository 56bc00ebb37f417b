"""The channel layouts of a PulseAudio or PipeWire server's outputs, from `pactl` (pulseaudio-utils).

SDL does not say how a device's channels are laid out; the server does. Only `devices`, `check` and the
opening of a device ask, never the audio thread. No pactl, no server: an empty answer.
"""

from __future__ import annotations

import json
import shutil
import subprocess

PACTL_TIMEOUT_S = 3.0


def _pactl(*args: str) -> str | None:
    if shutil.which("pactl") is None:
        return None
    try:
        result = subprocess.run(["pactl", *args], capture_output=True, text=True, timeout=PACTL_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout if result.returncode == 0 else None


def sink_layouts() -> dict[str, tuple[str, ...]]:
    """Each output's positions by both its name and its description (SDL may show either)."""
    text = _pactl("-f", "json", "list", "sinks")
    try:
        sinks = json.loads(text) if text else []
    except json.JSONDecodeError:
        return {}
    layouts: dict[str, tuple[str, ...]] = {}
    for sink in sinks if isinstance(sinks, list) else []:
        layout = tuple(p for p in str(sink.get("channel_map", "")).split(",") if p)
        for key in ("name", "description"):
            if isinstance(sink.get(key), str):
                layouts.setdefault(sink[key], layout)
    return layouts


def layout_of(device: str | None) -> tuple[str, tuple[str, ...]] | None:
    """(name, layout) of the output a device name (or None: the default) means, where the server knows it."""
    layouts = sink_layouts()
    name = device if device not in (None, "", "default") else (_pactl("get-default-sink") or "").strip()
    if not name:
        return None
    if name in layouts:
        return name, layouts[name]
    matches = [n for n in layouts if name.lower() in n.lower()]
    return (matches[0], layouts[matches[0]]) if matches else None
