"""The ports' playback latency as the JACK server reports it: the one module that calls libjack through ctypes.

JACK-Client 0.5 binds no latency API, so libjack's `jack_port_get_latency_range` and
`jack_set_latency_callback` are called here, on the library JACK-Client loaded and with a client's handle:
its `_ptr`, the one private attribute of JACK-Client read anywhere. The show's device (audio/jack_device.py)
and `devices` (audio/jack_server.py) read the same figures through it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

log = logging.getLogger(__name__)
PLAYBACK_LATENCY = 1  # jack_latency_callback_mode_t: JackPlaybackLatency
LATENCY_SETTLE_S = 0.5  # at the start, how long the server's latency of the new connections is waited for


class _LatencyRange(ctypes.Structure):
    _fields_ = (("min", ctypes.c_uint32), ("max", ctypes.c_uint32))


_LATENCY_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_void_p)


@functools.cache
def _libjack() -> ctypes.CDLL:
    lib = ctypes.CDLL(ctypes.util.find_library("jack"))  # the one JACK-Client opened: same name, same handle
    lib.jack_port_by_name.restype = ctypes.c_void_p
    lib.jack_port_by_name.argtypes = (ctypes.c_void_p, ctypes.c_char_p)
    lib.jack_port_get_latency_range.restype = None
    lib.jack_port_get_latency_range.argtypes = (ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(_LatencyRange))
    lib.jack_port_connected.argtypes = (ctypes.c_void_p,)
    lib.jack_set_latency_callback.argtypes = (ctypes.c_void_p, _LATENCY_CALLBACK, ctypes.c_void_p)
    return lib


def _handle(client: Any) -> ctypes.c_void_p:
    import cffi

    return ctypes.c_void_p(int(cffi.FFI().cast("uintptr_t", client._ptr)))


def _ports(client: Any, port_names: Iterable[str]) -> list[int | None]:
    handle = _handle(client)
    return [_libjack().jack_port_by_name(handle, name.encode()) for name in port_names]


def _playback_range(port: int) -> tuple[int, int]:
    latency = _LatencyRange()
    _libjack().jack_port_get_latency_range(port, PLAYBACK_LATENCY, ctypes.byref(latency))
    return int(latency.min), int(latency.max)


def playback_ranges(client: Any, port_names: Sequence[str]) -> dict[str, tuple[int, int]]:
    """Each named port's playback latency range (min, max frames) as the server reports it; a port gone is left out."""
    return {name: _playback_range(port) for name, port in zip(port_names, _ports(client, port_names), strict=True) if port}


def cue_latency_frames(ranges: Iterable[tuple[int, int]], fallback_frames: int) -> int:
    """What cues wait for audio written in a cycle to leave: the top of the largest range (a port may reach the
    interface later than another; the track must be heard with its cue), or `fallback_frames` where none."""
    return max((top for _, top in ranges), default=fallback_frames)


class PlaybackLatency:
    """The server's playback latency of some of our output ports, in frames, read again after each of JACK's
    latency callbacks (which come once the server has recomputed our ports'). The callback runs on a thread
    of libjack's (of PipeWire's, under pw-jack) that may hold the library's locks: it only marks the figure
    stale, and `refresh`, on the audio watch's thread, reads it. Register before the client is activated."""

    def __init__(self, client: Any, port_names: Sequence[str], fallback_frames: int) -> None:
        lib = _libjack()
        self._ports = _ports(client, port_names)
        self._fallback = fallback_frames
        self.frames = fallback_frames
        self._stale = threading.Event()
        self._callback = _LATENCY_CALLBACK(self._on_latency)  # kept: libjack holds only its address
        if lib.jack_set_latency_callback(_handle(client), self._callback, None) != 0:
            log.warning("JACK: no latency callback; assuming one period (%d frames) to the interface", fallback_frames)

    def read(self) -> int:
        """The largest playback latency of the ports that are connected (none connected: one period)."""
        connected = [port for port in self._ports if port and _libjack().jack_port_connected(port) > 0]
        return cue_latency_frames((_playback_range(port) for port in connected), self._fallback)

    def refresh(self) -> None:
        """Read the latency again if the server has recomputed it since (the audio watch, every 0.1 s)."""
        if self._stale.is_set():
            self._stale.clear()
            self.frames = self.read()

    def settle(self, within_s: float) -> None:
        """At the start, once the ports are connected: take the figure as soon as the server has called back
        with it (the first cues must not wait for the audio watch); give up after `within_s` (connected nowhere)."""
        deadline = time.monotonic() + within_s
        while self._stale.wait(max(0.0, deadline - time.monotonic())):
            self.refresh()
            if self.frames != self._fallback or time.monotonic() >= deadline:
                return

    def _on_latency(self, mode: int, _arg: object) -> None:
        if mode == PLAYBACK_LATENCY:
            self._stale.set()  # no call back into libjack from its own thread
