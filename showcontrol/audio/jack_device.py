"""The JACK backend: the show's JACK client (through the JACK-Client package, MIT, cffi; beside it only
audio/jack_server.py, which asks the server for `devices`, and audio/jack_latency.py, libjack's latency API).

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

import logging
import os
import threading
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol, TypeVar

import numpy as np

from showcontrol.audio.clock import ClockMap, DelayLockedLoop
from showcontrol.audio.device import AudioDeviceError, Render
from showcontrol.audio.jack_calls import ServerSilent, within
from showcontrol.audio.jack_latency import LATENCY_SETTLE_S, PlaybackLatency
from showcontrol.model.patch import MAIN_CLICK
from showcontrol.realtime import FiringWindow

log = logging.getLogger(__name__)
T = TypeVar("T")
CLIENT_NAME = "showcontrol"
OPEN_WITHIN_S = 5.0  # a server that has not let us in, or not taken us into its graph, by then is stopped or hung
FRAME_TIME_WRAP = 1 << 32  # JACK's frame time is a jack_nframes_t (32 bits: a day at 48 kHz)
CONNECT_WITHIN_S = 2.0  # connections the audio watch makes: past this it goes on watching (and reporting) without them
# Devices whose client PipeWire's JACK still runs after they closed (JackDevice.__exit__): kept from the collector
# until the process ends, as libjack calls their callbacks until then and JACK-Client's __del__ would close the client.
_RUN_TO_THE_END: list[JackDevice] = []


def _port_named(client: Any, name: str) -> str | None:
    """The port `name` (or alias) finds in the graph the client sees, by its own name; None if not there."""
    try:
        return str(client.get_port_by_name(name).name)
    except Exception:  # jack.JackError: no such port (yet)
        return None


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


def _open_client(jack: Any) -> Any:
    """Our client, or why not: a server that has not let us in within OPEN_WITHIN_S is stopped or hung
    (a client it lets in later is closed at once; the audio watch retries every few seconds)."""

    def close_late(client: object) -> None:
        if isinstance(client, jack.Client):
            client.close()

    try:
        return within(lambda: jack.Client(CLIENT_NAME, no_start_server=True), OPEN_WITHIN_S, late=close_late)
    except ServerSilent as silent:
        raise AudioDeviceError(f"{silent}: restart it") from None
    except jack.JackError as error:
        raise AudioDeviceError(f"no JACK server to play on ({error}); start jackd, or PipeWire with pw-jack") from None


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
        self.xruns = 0  # the server's xrun callbacks: on jackd, ours or the device's; PipeWire's JACK says only the device's
        self.missed_frames = 0  # frames of cycles our callback never ran for (the cycle's frame time jumped past them): gaps of ours
        self._cycle_end: int | None = None  # the frame time the next cycle starts at, if none is missed
        self.name = ""
        self.buffer_frames = 0
        self._client: object | None = None
        self._ports: list[object] = []
        self._dll: DelayLockedLoop | None = None
        self._mix = np.zeros((0, channels), np.float32)
        self._shut_down = threading.Event()
        self._started = False
        self._given_up = False  # a call went unanswered: the client is closed when (if) the server answers it
        self._connecting = threading.Lock()  # held by the audio watch's connections (on a thread of their own)
        self._on_pipewire = False  # PipeWire's JACK (pw-jack), whose deactivation cancels the process thread
        self._released = False  # closed by us: the process callback plays silence (PipeWire's, until the process ends)
        self.left_running = False  # still active on PipeWire's JACK: the process must end without teardown (os._exit)
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
        ports = self._ask(lambda: [client.midi_outports.register(writer.name) for writer in writers])  # type: ignore[attr-defined]
        for writer, port in zip(writers, ports, strict=True):
            writer.attached(port)
            self._midi.append((writer, port))

    def __enter__(self) -> JackDevice:
        try:
            import jack
        except OSError as error:  # the package loads libjack when imported
            raise AudioDeviceError(f"no JACK library here ({error}): apt-get install libjack-jackd2-0 (or pipewire-jack)") from None
        os.environ.setdefault("JACK_NO_START_SERVER", "1")  # a show never starts a server of its own by surprise
        client = _open_client(jack)
        self._client = client
        self._on_pipewire = "PipeWire" in jack.version_string()
        if (rate := client.samplerate) != self.sample_rate:
            self._close()
            raise AudioDeviceError(
                f"the JACK server runs at {rate} Hz, the patch at {self.sample_rate} Hz: set audio.sample_rate: {rate} "
                f"(or start the server with -r {self.sample_rate})"
            )
        self.name = f"JACK {client.name}"
        self.buffer_frames = client.blocksize
        self._dll = DelayLockedLoop(self.sample_rate, self.buffer_frames)
        self._mix = np.zeros((self.buffer_frames, self.channels), np.float32)
        ports = self._ask(lambda: [client.outports.register(name) for name in self._names])
        self._ports = ports
        self._latency = PlaybackLatency(client, [ports[c].name for c in self._latency_channels], self.buffer_frames)
        client.set_process_callback(self._process)
        client.set_shutdown_callback(lambda _status, _reason: self._shut_down.set())
        client.set_xrun_callback(self._on_xrun)
        return self

    def start(self) -> None:
        """Join the server's graph (or AudioDeviceError), connect, and wait for the latency."""
        client = self._client
        assert client is not None
        self._ask(client.activate)  # type: ignore[attr-defined]
        self._started = True
        self.maintain()
        self._warn_unconnected(client)
        if self._latency is not None and self._destinations:
            self._latency.settle(LATENCY_SETTLE_S)

    def _warn_unconnected(self, client: Any) -> None:
        """Say which audio ports play to nothing as the show starts: a destination misspelt or not there
        yet (connected when it appears), or no destination in the patch at all (connected by hand)."""
        if not self._destinations:
            log.warning(
                "JACK: the patch lists no destination ports (audio.ports): %s play to nothing until connected by hand "
                "(jack_connect, qjackctl) or listed there",
                ", ".join(repr(name) for name in self._names),
            )
            return
        for channel, destinations in self._destinations.items():
            for destination in destinations:
                if _port_named(client, destination) is None:
                    log.warning(
                        "JACK: %r, the patch's destination for %r, is not there (yet): connected when it appears; "
                        "`showcontrol devices` lists the server's ports",
                        destination,
                        self._names[channel],
                    )

    def _ask(self, call: Callable[[], T]) -> T:
        """`call` on the server within OPEN_WITHIN_S (audio/jack_calls.py); a refusal is an AudioDeviceError.
        One it has not answered by then gives this device up, and its client is closed once it does."""
        import jack

        try:
            return within(call, OPEN_WITHIN_S, late=self._answered_too_late)
        except ServerSilent as silent:
            if silent.within_s is not None:  # asked: the late answer's handler closes the client, not __exit__
                self._given_up = True
                if self._on_pipewire:  # activated late, PipeWire's JACK would run it: no teardown may wait on it (_close)
                    self.left_running = True
                    _RUN_TO_THE_END.append(self)
            raise AudioDeviceError(f"{silent}: restart it") from None
        except jack.JackError as error:
            raise AudioDeviceError(f"the JACK server refused the show's client ({error}): see the server's log, or restart it") from None

    def _answered_too_late(self, _outcome: object) -> None:
        """A call the server answered after it was given up: nobody plays this client (its process callback
        plays silence), so it is closed (or, on PipeWire's JACK, left running to the end: see _close)."""
        self._released = True
        self._close()

    def maintain(self) -> None:
        """Connect each port to its destinations where they are (again): called by the audio watch. The graph
        is read locally; only a missing connection asks the server, within CONNECT_WITHIN_S."""
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
        missing = []
        for port, destinations in wanted:
            connected = {p.name for p in port.connections}  # type: ignore[attr-defined]
            for destination in destinations:
                if destination in connected:
                    continue
                there = _port_named(client, destination)  # by its name or an alias, as jack_connect finds it
                if there is not None and there not in connected:
                    missing.append((port.name, there))  # type: ignore[attr-defined]
        if missing:
            try:
                within(lambda: self._connect(client, missing), CONNECT_WITHIN_S)
            except ServerSilent as silent:
                log.debug("JACK: not connected (%s)", silent)

    def _connect(self, client: Any, missing: Sequence[tuple[str, str]]) -> None:
        with self._connecting:  # the client is not closed under a connection being made
            for port, destination in missing:
                try:
                    client.connect(port, destination)
                    log.info("JACK: %s connected to %s", port, destination)
                except Exception as error:  # jack.JackError: the destination went again meanwhile
                    log.debug("JACK: %s not connected to %s: %s", port, destination, error)

    @property
    def gone(self) -> bool:
        """Whether the JACK server shut down under the show (killed, restarted)."""
        return self._shut_down.is_set()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        """Deactivate and close the client (see _close)."""
        if not self._given_up:  # else closed when the server answers, by _answered_too_late
            self._close()

    def _close(self) -> None:
        """Deactivate and close the client; but one that PipeWire's JACK still runs is left to play silence
        until the process ends (`left_running`): its deactivation pthread_cancels the thread of our process
        callback wherever that thread is, and in Python it is often waiting for the GIL; cancelled there, it
        dies holding the GIL's mutex and pw-jack's own process lock, and every thread of the process hangs
        (seen: the main thread waiting for the GIL, libjack's loop for that lock, jack_deactivate for the loop)."""
        client = self._client
        if client is None or self.left_running:
            return
        self._released = True
        if self._started and self._on_pipewire and not self.gone:
            self.left_running = True
            _RUN_TO_THE_END.append(self)
            log.debug("JACK: PipeWire's client left to the end of the process (its deactivation would cancel our callback's thread)")
            return
        self._client = None
        with self._connecting:  # never under a connection the audio watch is making
            try:
                if not self.gone:
                    client.deactivate()  # type: ignore[attr-defined]  # jackd takes us out of its graph before it stops the thread
                client.close()  # type: ignore[attr-defined]
            except Exception as failure:  # a server that died takes the client with it
                log.debug("JACK client close: %s", failure)

    def _on_xrun(self, _delayed_usecs: float) -> None:
        """libjack's notification thread, once per period the server reports late: counted, nothing more."""
        self.xruns += 1

    def _process(self, frames: int) -> None:
        """JACK's thread: fill every port, never raise, never block, never log. A period that is a multiple
        of the patch's (PipeWire raises its quantum when another client asks for more) is rendered as that
        many blocks of the patch's size, each with its own clock observation; any other is silence, counted."""
        now = time.monotonic_ns()
        client, dll = self._client, self._dll
        if client is None or dll is None:
            return
        if self._released or not self._started:  # closed by us (run on by PipeWire's JACK until the process ends), or not ours yet
            for port in self._ports:
                port.get_array().fill(0.0)  # type: ignore[attr-defined]
            for writer, _ in self._midi:
                writer.write_period(())  # what is still to go (all notes off), then nothing
            return
        if self._window is not None and self._window.closes_ns > now:
            self._window.stand_aside(frames * 250_000_000 // self.sample_rate)
        cycle_start_ns = now - client.frames_since_cycle_start * 1_000_000_000 // self.sample_rate  # type: ignore[attr-defined]
        cycle_frame = client.last_frame_time  # type: ignore[attr-defined]
        if self._cycle_end is not None and 0 < (skipped := (cycle_frame - self._cycle_end) % FRAME_TIME_WRAP) < FRAME_TIME_WRAP // 2:
            self.missed_frames += skipped  # a jump forward (a cycle run again, as jackd may after a stall, is a step back)
        self._cycle_end = cycle_frame + frames
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
