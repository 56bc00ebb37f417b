"""What a channel of a multichannel file holds, roughly: a rendered show's mix carries the track beside a click
and LTC, which must not be analysed as music. Pure numpy; only to warn, never to decide silently."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FRAME_SECONDS = 0.01
SILENT_RMS = 1e-4  # -80 dBFS
LTC_CREST = 1.5  # LTC is a square wave: its peak is barely above its RMS, frame after frame
LTC_CROSSINGS_PER_SECOND = (1500.0, 5500.0)  # 80 bits a frame at 24-30 fps, biphase: one or two crossings a bit
CLICK_ACTIVE = 0.3  # a click sounds less than this share of the time ...
CLICK_BURST_SECONDS = 0.08  # ... in bursts this short at most (their median) ...
CLICK_BURSTS = 8  # ... and at least this many of them


def _frames(channel: npt.NDArray[np.float32], rate: int) -> npt.NDArray[np.float64]:
    size = max(1, int(rate * FRAME_SECONDS))
    count = len(channel) // size
    return channel[: count * size].astype(np.float64).reshape(count, size)


def channel_kind(channel: npt.NDArray[np.float32], rate: int) -> str | None:
    """ "silent", "LTC", "a click", or None (anything else: music, as far as this can tell)."""
    frames = _frames(channel, rate)
    if len(frames) == 0:
        return "silent"
    rms = np.sqrt(np.mean(frames**2, axis=1))
    sounding = rms > SILENT_RMS
    if not sounding.any():
        return "silent"
    heard = frames[sounding]
    crest = float(np.median(np.abs(heard).max(axis=1) / rms[sounding]))
    crossings = float(np.mean(np.abs(np.diff(np.signbit(heard), axis=1)).sum(axis=1))) / FRAME_SECONDS
    if crest < LTC_CREST and LTC_CROSSINGS_PER_SECOND[0] <= crossings <= LTC_CROSSINGS_PER_SECOND[1]:
        return "LTC"
    active = rms > 0.05 * rms.max()
    edges = np.flatnonzero(np.diff(np.concatenate([[0], active.astype(np.int8), [0]])))
    bursts = (edges[1::2] - edges[::2]) * FRAME_SECONDS
    if active.mean() < CLICK_ACTIVE and len(bursts) >= CLICK_BURSTS and float(np.median(bursts)) <= CLICK_BURST_SECONDS:
        return "a click"
    return None
