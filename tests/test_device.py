"""The SDL audio device on the dummy driver: it never hangs on open/close, and the callback counts every frame."""

from __future__ import annotations

import time

import numpy as np
import pytest

from showcontrol.audio.device import AudioDevice, AudioDeviceError, start_audio_driver, stop_audio_driver


@pytest.fixture
def dummy_driver():
    assert start_audio_driver("dummy") == "dummy"
    yield
    stop_audio_driver()


def test_hundreds_of_open_start_stop_close_cycles_never_hang(dummy_driver) -> None:
    started = time.monotonic()
    for cycle in range(300):
        with AudioDevice(None, 48000, 4, 256, lambda frame, out: out.fill(0.25)) as device:
            device.start()
            time.sleep(0.001 if cycle % 4 else 0.012)  # some cycles stop mid-callback, some between callbacks
            device.stop()
    assert time.monotonic() - started < 120


def test_the_callback_fills_whole_buffers_and_keeps_the_clock(dummy_driver) -> None:
    seen: list[tuple[int, int, float]] = []

    def render(first_frame: int, out: np.ndarray) -> None:
        out[:] = np.arange(out.shape[1], dtype=np.float32)
        seen.append((first_frame, len(out), float(out[0, 3])))

    with AudioDevice(None, 48000, 4, 256, render) as device:
        device.start()
        deadline = time.monotonic() + 60  # the dummy driver's pace follows the machine's load; wait for callbacks, not time
        while len(seen) <= 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        device.stop()
        delivered = device.frames_delivered
        clock = device.clock
    assert [first for first, _, _ in seen] == [256 * i for i in range(len(seen))]
    assert all(frames == 256 and channel3 == 3.0 for _, frames, channel3 in seen)
    assert delivered == 256 * len(seen) and len(seen) > 20
    assert clock is not None and clock.n1 - clock.n0 == 256


def test_a_render_error_becomes_silence_and_a_count(dummy_driver) -> None:
    def broken(first_frame: int, out: np.ndarray) -> None:
        raise RuntimeError("bug")

    with AudioDevice(None, 48000, 2, 256, broken) as device:
        device.start()
        deadline = time.monotonic() + 60
        while device.callback_errors == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        device.stop()
    assert device.callback_errors > 0


def test_an_unknown_device_name_is_a_clear_error(dummy_driver) -> None:
    with (
        pytest.raises(AudioDeviceError, match="no audio output named 'Fireface'"),
        AudioDevice("Fireface", 48000, 2, 256, lambda f, o: None),
    ):
        pass
