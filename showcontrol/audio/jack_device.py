"""The JACK backend: the only module that touches JACK (through the JACK-Client package, MIT, cffi).

A JACK client with one output port per patch channel, named after what it carries (`track L`, `click ava`,
`ltc`), connected to the patch's destination ports and connected again whenever one comes back. It takes the
place of the SDL device (audio/device.py) with the same surface, for the audio link. Its clock is the
server's: each period's observation is the time the JACK cycle started, as the server knows it (the
callback's time less `frames_since_cycle_start`, the server's own estimate of how far into the cycle it
is), not the callback's arrival. A server that shuts down (killed, restarted) makes the device `gone`.

A frame written in a cycle leaves the interface the ports' playback latency later (`latency_frames`): as the
server reports it for the ports carrying the track (two periods on jackd in its default asynchronous
mode; on PipeWire the device's own latency, 0 frames into a null sink), re-read whenever the server
recomputes latencies (a connection made or undone, a new quantum).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import threading
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol

import numpy as np

from showcontrol.audio.clock import ClockMap, DelayLockedLoop
from showcontrol.audio.device import AudioDeviceError, Render
from showcontrol.model.patch import MAIN_CLICK
from showcontrol.realtime import FiringWindow

log = logging.getLogger(__name__)
CLIENT_NAME = "showcontrol"


def jack_ports_text() -> str:
    """For `devices`: the running JACK server's audio destinations (what a patch's `ports:` names), or why none."""
    try:
        import jack

        client = jack.Client(f"{CLIENT_NAME}-probe", no_start_server=True)
    except Exception as error:  # no libjack (OSError), no server (jack.JackError)
        return (
            f"JACK: no server ({str(error).strip() or type(error).__name__}); the patch's backend: jack needs jackd, or PipeWire's pw-jack"
        )
    try:
        ports = [p.name for p in client.get_ports(is_audio=True, is_input=True)]
        return f"JACK ({client.samplerate} Hz, period {client.blocksize}): audio destinations {', '.join(ports) or 'none'}"
    finally:
        client.close()


PLAYBACK_LATENCY = 1  # jack_latency_callback_mode_t: JackPlaybackLatency
LATENCY_SETTLE_S = 0.5  # at the start, how long the server's latency of the new connections is waited for


class _LatencyRange(ctypes.Structure):
    _fields_ = (("min", ctypes.c_uint32), ("max", ctypes.c_uint32))


_LATENCY_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_void_p)


class PlaybackLatency:
    """The server's playback latency of some of our output ports, in frames, read again after each of JACK's
    latency callbacks (which come once the server has recomputed our ports'). The callback runs on a thread
    of libjack's (of PipeWire's, under pw-jack) that may hold the library's locks: it only marks the figure
    stale, and `refresh`, on the audio watch's thread, reads it.

    JACK-Client 0.5 binds no latency API, so libjack's `jack_port_get_latency_range` and
    `jack_set_latency_callback` are called through ctypes, on the library JACK-Client loaded and with the
    client's handle: its `_ptr`, the one private attribute of JACK-Client read anywhere. Register before
    the client is activated."""

    def __init__(self, client: Any, port_names: Sequence[str], fallback_frames: int) -> None:
        import cffi

        lib = ctypes.CDLL(ctypes.util.find_library("jack"))  # the one JACK-Client opened: same name, same handle
        lib.jack_port_by_name.restype = ctypes.c_void_p
        lib.jack_port_by_name.argtypes = (ctypes.c_void_p, ctypes.c_char_p)
        lib.jack_port_get_latency_range.restype = None
        lib.jack_port_get_latency_range.argtypes = (ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(_LatencyRange))
        lib.jack_port_connected.argtypes = (ctypes.c_void_p,)
        lib.jack_set_latency_callback.argtypes = (ctypes.c_void_p, _LATENCY_CALLBACK, ctypes.c_void_p)
        self._lib = lib
        handle = ctypes.c_void_p(int(cffi.FFI().cast("uintptr_t", client._ptr)))
        self._ports = [lib.jack_port_by_name(handle, name.encode()) for name in port_names]
        self._fallback = fallback_frames
        self.frames = fallback_frames
        self._stale = threading.Event()
        self._callback = _LATENCY_CALLBACK(self._on_latency)  # kept: libjack holds only its address
        if lib.jack_set_latency_callback(handle, self._callback, None) != 0:
            log.warning("JACK: no latency callback; assuming one period (%d frames) to the interface", fallback_frames)

    def read(self) -> int:
        """The largest playback latency of the ports that are connected (none connected: one period)."""
        latency = _LatencyRange()
        found: list[int] = []
        for port in self._ports:
            if port and self._lib.jack_port_connected(port) > 0:
                self._lib.jack_port_get_latency_range(port, PLAYBACK_LATENCY, ctypes.byref(latency))
                found.append(int(latency.max))
        return max(found, default=self._fallback)

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


class PeriodWriter(Protocol):
    """A MIDI output the audio client carries (io/jack_midi.py): its messages written into each period."""

    name: str

    @property
    def destination(self) -> str | None: ...

    def attached(self, port: Any) -> None: ...

    def write_period(self, runs: Sequence[tuple[int, int, int, Hashable]]) -> None: ...


# The song frames a period played, from its first device frame and length: (offset, song frame, frames, schedule) runs
SongRuns = Callable[[int, int], Sequence[tuple[int, int, int, Hashable]]]


def port_names(routes: Mapping[str, tuple[int, ...]], channels: int) -> list[str]:
    """A name per channel for what it carries: `track L`, `track R`, `click`, `click ava`, `ltc`, `out 5`."""
    carried: list[list[str]] = [[] for _ in range(channels)]
    for feed, chans in routes.items():
        name = feed.replace(f"{MAIN_CLICK}:", f"{MAIN_CLICK} ")
        for index, channel in enumerate(chans):
            side = (" L", " R")[index] if feed == "track" and len(chans) == 2 else f" {index + 1}" if len(chans) > 1 else ""
            if channel < channels:
                carried[channel].append(name + side)
    return [" + ".join(names) if names else f"out {k + 1}" for k, names in enumerate(carried)]


class JackDevice:
    """An output on a JACK server that pulls audio from `render(first_device_frame, out)` and keeps the clock."""

    def __init__(
        self,
        sample_rate: int,
        channels: int,
        routes: Mapping[str, tuple[int, ...]],
        destinations: Mapping[int, tuple[str, ...]],
        render: Render,
        window: FiringWindow | None = None,
        first_frame: int = 0,
    ) -> None:
        self.sample_rate = sample_rate
        self.channels = channels
        self._names = port_names(routes, channels)
        self._destinations = destinations
        self._render = render
        self._window = window
        self.frames_delivered = first_frame
        self.last_callback_ns = 0
        self.clock: ClockMap | None = None
        self.callback_errors = 0
        self.name = ""
        self.buffer_frames = 0
        self._client: object | None = None
        self._ports: list[object] = []
        self._dll: DelayLockedLoop | None = None
        self._mix = np.zeros((0, channels), np.float32)
        self._shut_down = threading.Event()
        self._started = False
        self._midi: list[tuple[PeriodWriter, Any]] = []
        self._song_runs: SongRuns = lambda _first, _frames: ()
        self._latency_channels = [c for c in routes.get("track", ()) if c < channels] or list(range(channels))  # what the audience hears
        self._latency: PlaybackLatency | None = None

    @property
    def latency_frames(self) -> int:
        """Frames from a period's start to its first frame leaving the interface, as the server reports it."""
        return self._latency.frames if self._latency is not None else self.buffer_frames

    def attach_midi(self, writers: Sequence[PeriodWriter], song_runs: SongRuns) -> None:
        """A MIDI port on this client for each writer, written each period at its events' frames."""
        client = self._client
        assert client is not None
        self._song_runs = song_runs
        for writer in writers:
            port = client.midi_outports.register(writer.name)  # type: ignore[attr-defined]
            writer.attached(port)
            self._midi.append((writer, port))

    def __enter__(self) -> JackDevice:
        try:
            import jack
        except OSError as error:  # the package loads libjack when imported
            raise AudioDeviceError(f"no JACK library here ({error}): apt-get install libjack-jackd2-0 (or pipewire-jack)") from None
        os.environ.setdefault("JACK_NO_START_SERVER", "1")  # a show never starts a server of its own by surprise
        try:
            client = jack.Client(CLIENT_NAME, no_start_server=True)
        except jack.JackError as error:
            raise AudioDeviceError(f"no JACK server to play on ({error}); start jackd, or PipeWire with pw-jack") from None
        if client.samplerate != self.sample_rate:
            client.close()
            raise AudioDeviceError(f"the JACK server runs at {client.samplerate} Hz, the patch at {self.sample_rate} Hz: make them agree")
        self._client = client
        self.name = f"JACK {client.name}"
        self.buffer_frames = client.blocksize
        self._dll = DelayLockedLoop(self.sample_rate, self.buffer_frames)
        self._mix = np.zeros((self.buffer_frames, self.channels), np.float32)
        ports = [client.outports.register(name) for name in self._names]
        self._ports = ports
        self._latency = PlaybackLatency(client, [ports[c].name for c in self._latency_channels], self.buffer_frames)
        client.set_process_callback(self._process)
        client.set_shutdown_callback(lambda _status, _reason: self._shut_down.set())
        return self

    def start(self) -> None:
        client = self._client
        assert client is not None
        client.activate()  # type: ignore[attr-defined]
        self._started = True
        self.maintain()
        if self._latency is not None and self._destinations:
            self._latency.settle(LATENCY_SETTLE_S)

    def maintain(self) -> None:
        """Connect each port to its destinations where they are (again): called by the audio watch."""
        client = self._client
        if client is None or self.gone:
            return
        if self._latency is not None:
            self._latency.refresh()
        wanted = [(self._ports[channel], destinations) for channel, destinations in self._destinations.items()]
        for writer, port in self._midi:
            if writer.destination:
                found = client.get_ports(is_midi=True, is_input=True)  # type: ignore[attr-defined]
                wanted.append((port, tuple(p.name for p in found if writer.destination.lower() in p.name.lower())))
        for port, destinations in wanted:
            connected = {p.name for p in port.connections}  # type: ignore[attr-defined]
            for destination in destinations:
                if destination in connected:
                    continue
                try:
                    client.connect(port, destination)  # type: ignore[attr-defined]
                    log.info("JACK: %s connected to %s", port.name, destination)  # type: ignore[attr-defined]
                except Exception as error:  # jack.JackError: the destination is not (yet) there
                    log.debug("JACK: %s not connected to %s: %s", port.name, destination, error)  # type: ignore[attr-defined]

    @property
    def gone(self) -> bool:
        """Whether the JACK server shut down under the show (killed, restarted)."""
        return self._shut_down.is_set()

    def stop(self) -> None:
        if self._client is not None and self._started and not self.gone:
            self._client.deactivate()  # type: ignore[attr-defined]
            self._started = False

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                if not self.gone:
                    client.deactivate()  # type: ignore[attr-defined]
                client.close()  # type: ignore[attr-defined]
            except Exception as failure:  # a server that died takes the client with it
                log.debug("JACK client close: %s", failure)

    def _process(self, frames: int) -> None:
        """JACK's thread: fill every port, never raise, never block, never log. A period that is a multiple
        of the patch's (PipeWire raises its quantum when another client asks for more) is rendered as that
        many blocks of the patch's size, each with its own clock observation; any other is silence, counted."""
        now = time.monotonic_ns()
        client, dll = self._client, self._dll
        if client is None or dll is None:
            return
        if self._window is not None and self._window.closes_ns > now:
            self._window.stand_aside(frames * 250_000_000 // self.sample_rate)
        cycle_start_ns = now - client.frames_since_cycle_start * 1_000_000_000 // self.sample_rate  # type: ignore[attr-defined]
        block = self.buffer_frames
        arrays = [port.get_array() for port in self._ports]  # type: ignore[attr-defined]
        if frames % block:
            for array in arrays:
                array.fill(0.0)
            self.callback_errors += 1
        for start in range(0, frames - frames % block, block):
            dll.update(self.frames_delivered, cycle_start_ns + start * 1_000_000_000 // self.sample_rate)
            self.clock = dll.mapping
            try:
                self._render(self.frames_delivered, self._mix)
            except Exception:
                self._mix.fill(0.0)
                self.callback_errors += 1
            for channel, array in enumerate(arrays):
                array[start : start + block] = self._mix[:, channel]
            self.frames_delivered += block
        if self._midi:
            first = self.frames_delivered - (frames - frames % block)
            runs = self._song_runs(first, frames) if not frames % block else ()
            for writer, _ in self._midi:
                writer.write_period(runs)
        self.last_callback_ns = now
