"""Which of a stream's channels reach the device's output of the same number, given the device's layout.

SDL's pulseaudio driver labels a stream of N channels with the first N positions of the WAVEFORMATEXTENSIBLE
order (4 channels: front-left, front-right, front-center, lfe; 8: ... front-left-of-center, front-right-of-
center), and showcontrol opens it with no remixing (audio/device.py). The server then connects each channel
to the device's port of that position; on a device whose positions are all AUX (a Pro Audio profile, a
multichannel interface), by number. So a channel lands on its own output where the device has that channel
and, on a positional device, the same position at the same number; elsewhere it is not heard at all (never
folded into front of house). Pure: layouts are plain position names, as `pactl` gives them.
"""

from __future__ import annotations

SDL_POSITIONS = (
    "front-left",
    "front-right",
    "front-center",
    "lfe",
    "rear-left",
    "rear-right",
    "front-left-of-center",
    "front-right-of-center",
    "rear-center",
    "side-left",
    "side-right",
)


def stream_positions(channels: int) -> tuple[str, ...]:
    """The positions SDL gives a stream of `channels` (mono for one)."""
    return ("mono",) if channels == 1 else SDL_POSITIONS[:channels]


def is_aux(layout: tuple[str, ...]) -> bool:
    return bool(layout) and all(position.startswith("aux") for position in layout)


def undelivered(layout: tuple[str, ...], channels: int) -> tuple[int, ...]:
    """The 1-based channels of a `channels`-channel stream that do not reach the output of their number."""
    if is_aux(layout):
        return tuple(range(len(layout) + 1, channels + 1))
    wanted = stream_positions(channels)
    return tuple(k + 1 for k in range(channels) if k >= len(layout) or k >= len(wanted) or layout[k] != wanted[k])


def one_to_one_up_to(layout: tuple[str, ...]) -> int:
    """The most channels a stream can have with every one landing on its own output of this device."""
    return max((n for n in range(1, len(layout) + 1) if not undelivered(layout, n)), default=0)


def unheard_feeds(layout: tuple[str, ...], routes: dict[str, tuple[int, ...]], channels: int) -> list[str]:
    """The patch's feeds that would not land where it says on this layout: "click on 3", "ltc on 4"."""
    lost = set(undelivered(layout, channels))
    return sorted(f"{feed} on {k + 1}" for feed, chans in routes.items() for k in chans if k + 1 in lost)


def layout_warning(device: str, layout: tuple[str, ...], routes: dict[str, tuple[int, ...]], channels: int) -> str | None:
    """What the operator must know where the patch's feeds would not land where it says, or None."""
    lost = set(undelivered(layout, channels))
    unheard = sorted({k + 1 for chans in routes.values() for k in chans if k + 1 in lost})
    feeds = unheard_feeds(layout, routes, channels)
    if not feeds:
        return None
    ports = ", ".join(f"{k}: PORT" for k in unheard)
    return (
        f"the audio device {device!r} is laid out {','.join(layout)}: a stream of {channels} channels reaches only "
        f"{one_to_one_up_to(layout)} of its outputs 1:1, so {', '.join(feeds)} will not be heard; switch the interface "
        "to its Pro Audio profile (AUX channels), or play through JACK, which is 1:1 by port: set the patch's "
        f"`audio: {{backend: jack, ports: {{{ports}, ...}}}}` with each channel's port as `pw-jack showcontrol devices` "
        "lists it, and run under pw-jack (docs/audio.md)"
    )
