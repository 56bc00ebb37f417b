"""The audio interface, through pygame's SDL2 audio device: the only module that touches pygame audio.

The callback fills every buffer (silence included) through `render`, counts the frames it hands over and
timestamps each call for the delay-locked loop. Pausing and closing go through SDL directly with ctypes,
which releases the GIL: pygame's own pause()/close() hold it while SDL waits for the callback to finish,
and the callback waits for the GIL (a deadlock seen after 7-156 open/close cycles here).
"""

from __future__ import annotations

import ctypes
import glob
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from showcontrol.audio.clock import ClockMap, DelayLockedLoop
from showcontrol.errors import ShowControlError
from showcontrol.realtime import AUDIO_PRIORITY, FiringWindow, raise_priority

log = logging.getLogger(__name__)
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # pygame's greeting would land in the operator's terminal

Render = Callable[[int, npt.NDArray[np.float32]], None]
SDL_INIT_AUDIO = 0x10
SDL_AUDIO_STOPPED = 0  # SDL_GetAudioDeviceStatus of a device that was disconnected (or never started)


class AudioDeviceError(ShowControlError):
    """No usable audio output (driver, device or format)."""


class _AudioSpec(ctypes.Structure):
    _fields_ = [
        ("freq", ctypes.c_int),
        ("format", ctypes.c_uint16),
        ("channels", ctypes.c_uint8),
        ("silence", ctypes.c_uint8),
        ("samples", ctypes.c_uint16),
        ("padding", ctypes.c_uint16),
        ("size", ctypes.c_uint32),
        ("callback", ctypes.c_void_p),
        ("userdata", ctypes.c_void_p),
    ]


def _sdl() -> ctypes.CDLL:
    """pygame's own bundled libSDL2 (the one its AudioDevice uses), or the system's."""
    import pygame

    bundled = sorted(glob.glob(str(Path(pygame.__file__).parent.parent / "pygame.libs" / "libSDL2-2*")))
    lib = ctypes.CDLL(bundled[0] if bundled else "libSDL2-2.0.so.0")
    lib.SDL_GetCurrentAudioDriver.restype = ctypes.c_char_p
    lib.SDL_GetAudioDriver.restype = ctypes.c_char_p
    lib.SDL_GetAudioDeviceName.restype = ctypes.c_char_p
    lib.SDL_GetError.restype = ctypes.c_char_p
    lib.SDL_PauseAudioDevice.argtypes = [ctypes.c_uint32, ctypes.c_int]
    lib.SDL_CloseAudioDevice.argtypes = [ctypes.c_uint32]
    lib.SDL_GetAudioDeviceStatus.argtypes = [ctypes.c_uint32]
    lib.SDL_GetAudioDeviceSpec.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.POINTER(_AudioSpec)]
    return lib


@dataclass(frozen=True)
class OutputDevice:
    name: str
    channels: int | None
    sample_rate: int | None


# Properties of the pulse client SDL opens, which pipewire-pulse gives each of its streams: no remixing, no
# channel mixer. Without them a 4-channel stream (SDL labels it FL,FR,FC,LFE) played into a 4-channel or Pro
# Audio (AUX) device had its click and LTC folded into outputs 1-2, front of house. With them each channel goes
# to the device's port of the same position, or on an AUX device of the same number (see audio/channel_map.py).
# libpulse reads PULSE_PROP when SDL connects (at driver start or at a device's opening), so it stays set for
# the process; PulseAudio itself ignores these properties (it remixes only what the stream's map asks).
NO_REMIX_PROPERTIES = "stream.dont-remix=true channelmix.disable=true"


def start_audio_driver(driver: str | None) -> str:
    """Initialise SDL audio with `driver` (None: SDL's choice); returns the driver in use."""
    lib = _sdl()
    previous = os.environ.get("SDL_AUDIODRIVER")
    if driver:
        os.environ["SDL_AUDIODRIVER"] = driver  # SDL reads it here; put back after, so child processes are not steered
    if NO_REMIX_PROPERTIES not in os.environ.get("PULSE_PROP", ""):  # read when SDL connects, which may be later
        os.environ["PULSE_PROP"] = f"{os.environ.get('PULSE_PROP', '')} {NO_REMIX_PROPERTIES}".strip()
    try:
        if lib.SDL_InitSubSystem(SDL_INIT_AUDIO) != 0:
            raise AudioDeviceError(f"audio driver {driver or 'default'} failed: {lib.SDL_GetError().decode(errors='replace')}")
    finally:
        if previous is None:
            os.environ.pop("SDL_AUDIODRIVER", None)
        else:
            os.environ["SDL_AUDIODRIVER"] = previous
    current = lib.SDL_GetCurrentAudioDriver()
    return current.decode() if current else "none"


def stop_audio_driver() -> None:
    _sdl().SDL_QuitSubSystem(SDL_INIT_AUDIO)


def available_drivers() -> list[str]:
    lib = _sdl()
    return [lib.SDL_GetAudioDriver(i).decode() for i in range(lib.SDL_GetNumAudioDrivers())]


def output_devices() -> list[OutputDevice]:
    """Output devices of the running driver, with their preferred channel count and rate where SDL knows them."""
    lib = _sdl()
    devices = []
    for index in range(max(0, lib.SDL_GetNumAudioDevices(0))):
        name = (lib.SDL_GetAudioDeviceName(index, 0) or b"?").decode(errors="replace")
        spec = _AudioSpec()
        known = lib.SDL_GetAudioDeviceSpec(index, 0, ctypes.byref(spec)) == 0
        devices.append(OutputDevice(name, spec.channels if known and spec.channels else None, spec.freq if known and spec.freq else None))
    return devices


class AudioDevice:
    """An open output device that pulls audio from `render(first_device_frame, out)` and keeps the audio clock.

    Device frames count from `first_frame`: a device reopened during a show carries on the count of the
    one it replaces, so the transport's frame line stays one line."""

    def __init__(
        self,
        device: str | None,
        sample_rate: int,
        channels: int,
        buffer_frames: int,
        render: Render,
        window: FiringWindow | None = None,
        first_frame: int = 0,
        timed_by_the_audio: bool = True,
    ) -> None:
        self.sample_rate = sample_rate
        self.channels = channels
        self.buffer_frames = buffer_frames
        self._render = render
        self._window = window  # the dispatcher's: while it fires, the callback waits (a quarter buffer at most)
        self._stand_aside_ns = buffer_frames * 250_000_000 // sample_rate
        self._requested = device
        self._lib = _sdl()
        self._device: Any = None
        self._dll = DelayLockedLoop(sample_rate, buffer_frames, timed_by_the_audio)
        self.frames_delivered = first_frame
        self.last_callback_ns = 0  # monotonic ns of the latest callback: a hung sound server stops them
        self.clock: ClockMap | None = None
        self.callback_errors = 0
        self.xruns: int | None = None  # SDL does not say when the server ran dry (JACK's device counts them)
        self.missed_frames: int | None = None  # nor which cycles it missed (JACK's device does)
        self.name = ""
        self._started = False
        self._prioritised = False

    def __enter__(self) -> AudioDevice:
        import pygame._sdl2.audio as sdl_audio

        names = list(sdl_audio.get_audio_device_names(False))
        if not names:
            raise AudioDeviceError("the audio driver offers no output device")
        wanted = self._requested
        matches = names if wanted in (None, "", "default") else [n for n in names if wanted.lower() in n.lower()]
        if not matches:
            raise AudioDeviceError(f"no audio output named {wanted!r}; available: {', '.join(names)}")
        self.name = matches[0]
        try:
            self._device = sdl_audio.AudioDevice(
                self.name, False, self.sample_rate, sdl_audio.AUDIO_F32, self.channels, self.buffer_frames, 0, self._callback
            )
        except Exception as error:  # pygame raises its own error type
            raise AudioDeviceError(f"cannot open {self.name!r} at {self.sample_rate} Hz with {self.channels} channels: {error}") from None
        return self

    @property
    def latency_frames(self) -> int:
        """From the callback to its first frame leaving: one buffer (what SDL says; calibrate the rest)."""
        return self.buffer_frames

    def start(self) -> None:
        self._lib.SDL_PauseAudioDevice(self._device.deviceid, 0)
        self._started = True

    @property
    def gone(self) -> bool:
        """Whether SDL has given the started device up (unplugged, sound server gone). SDL then keeps
        calling back on a timer of its own, so the show keeps time, but nothing is heard."""
        return self._started and self._device is not None and self._lib.SDL_GetAudioDeviceStatus(self._device.deviceid) == SDL_AUDIO_STOPPED

    def stop(self) -> None:
        if self._device is not None:
            self._lib.SDL_PauseAudioDevice(self._device.deviceid, 1)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        if self._device is not None:
            self._lib.SDL_PauseAudioDevice(self._device.deviceid, 1)
            self._lib.SDL_CloseAudioDevice(self._device.deviceid)
            self._device = None

    def _callback(self, _device: object, memory: memoryview) -> None:
        """SDL's audio thread: fill the whole buffer, never raise, never block, never log."""
        now = time.monotonic_ns()  # the clock's observation, before any wait
        if self._window is not None and self._window.closes_ns > now:  # mostly shut: no call at all
            self._window.stand_aside(self._stand_aside_ns)
        if not self._prioritised:  # SDL's thread, once: above our helpers, below the dispatcher (realtime.py)
            raise_priority(AUDIO_PRIORITY, warn=False)
            self._prioritised = True
        out = np.frombuffer(memory, dtype=np.float32).reshape(-1, self.channels)
        self._dll.update(self.frames_delivered, now)
        self.clock = self._dll.mapping
        try:
            self._render(self.frames_delivered, out)
        except Exception:
            out.fill(0.0)
            self.callback_errors += 1
        self.frames_delivered += len(out)
        self.last_callback_ns = now
