"""Shared helpers: shows written to temporary folders and test audio generated on the fly."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest
import soundfile

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # for the libltc helper


def write_tone(path: Path, seconds: float, rate: int = 48000, channels: int = 2, freq: float = 440.0) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    mono = 0.25 * np.sin(2 * np.pi * freq * t)
    soundfile.write(str(path), np.repeat(mono[:, None], channels, axis=1).astype(np.float32), rate)
    return path


def mostly_at(samples: np.ndarray, hz: float, rate: int = 48000, within_hz: float = 20) -> bool:
    """Whether most of a recording's energy is within `within_hz` of `hz`: a tone, told from clicks, however a
    loaded machine's capture broke it up (dropped buffers jump its phase, and its peak bin off by a few Hz)."""
    spectrum = np.abs(np.fft.rfft(samples)) ** 2
    near = np.abs(np.fft.rfftfreq(len(samples), 1 / rate) - hz) < within_hz
    return bool(spectrum[near].sum() > 0.5 * spectrum.sum())


BURST_FRAMES = 240  # a 5 ms tone burst at 48 kHz: its energy centroid is its centre


def beat_bursts(beats: int, bpm: float, first: float, seconds: float, rate: int = 48000) -> np.ndarray:
    """A recording that is silent but for a short burst starting on each beat from `first` seconds."""
    signal = np.zeros(round(seconds * rate))
    burst = np.sin(2 * np.pi * 1000 * np.arange(BURST_FRAMES) / rate) * np.hanning(BURST_FRAMES)
    for beat in range(beats):
        at = round((first + beat * 60 / bpm) * rate)
        signal[at : at + BURST_FRAMES] += burst
    return signal


def burst_centroids(signal: np.ndarray, expected: list[float], reach: int = 2400) -> list[float]:
    """The energy centroid (in frames) of the burst found within `reach` frames of each expected centre.

    A centroid, not a threshold crossing, because a time-stretch reshapes a burst's rise."""
    energy = signal.astype(np.float64) ** 2
    found = []
    for centre in expected:
        lo = max(0, round(centre) - reach)
        window = energy[lo : round(centre) + reach]
        found.append(lo + float((window * np.arange(len(window))).sum() / window.sum()))
    return found


T = TypeVar("T")


def beat_cue_lines(song: str, bars: int) -> str:
    """A show file's cue lines, one OSC cue on every beat of `bars` 4/4 bars, each saying its song, bar and beat."""
    return "\n".join(
        f"      - {{at: {bar}.{beat}, osc: {{to: lights, address: /cue, args: [{song}, {bar}, {beat}]}}}}"
        for bar in range(1, bars + 1)
        for beat in range(1, 5)
    )


def as_a(kind: type[T], value: object) -> T:
    """`value`, which the test knows to be a `kind`: asserted, so that a reader and the type checker know it too."""
    assert isinstance(value, kind), f"{value!r} is not a {kind.__name__}"
    return value


DEMO = REPO / "cues" / "demo" / "show.yaml"


@pytest.fixture(scope="session")
def demo_show() -> Path:
    """The demo show with its synthesised tracks, made here where setup.sh has not (`check` only says they are missing)."""
    from showcontrol.demo import make_demo_tracks

    make_demo_tracks(DEMO)
    return DEMO


@pytest.fixture
def show_dir(tmp_path: Path):
    """Returns write(name, yaml_text) -> path, writing dedented YAML into a temporary show folder."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


@pytest.fixture
def broker(tmp_path: Path):
    """A real Mosquitto broker on a free loopback port (skipped with the reason where mosquitto is missing)."""
    import shutil

    from peers import Broker

    if shutil.which("mosquitto") is None or shutil.which("mosquitto_sub") is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto mosquitto-clients)")
    running = Broker(tmp_path)
    running.start()
    yield running
    running.kill()


@pytest.fixture(scope="session")
def jack():
    """jackd's dummy backend for MIDI ports; skipped with the reason where it cannot start."""
    from peers import start_jack

    running = start_jack()
    if running is None:
        pytest.skip("jackd (Debian jackd2) is not installed or cannot start here")
    yield running
    running.stop()


@pytest.fixture(scope="session")
def pipewire(tmp_path_factory: pytest.TempPathFactory):
    """A PipeWire sound server with a null sink, for SDL's pulseaudio driver; skipped with the reason where
    it is not installed. Each test gets its pulse server running (a test may kill or hang it)."""
    from peers import start_pipewire

    running = start_pipewire(tmp_path_factory.mktemp("pipewire"))
    if running is None:
        pytest.skip(
            "PipeWire is not installed or cannot start here (apt-get install pipewire pipewire-pulse wireplumber pulseaudio-utils dbus)"
        )
    yield running
    running.stop()


@pytest.fixture
def sound_server(pipewire):
    pipewire.ensure_pulse()
    return pipewire


def start_show(
    show: Path, *args: str, env: dict[str, str] | None = None, driver: str | None = "dummy", log: Path | None = None
) -> subprocess.Popen[str]:
    """`showcontrol run SHOW --headless` in its own process; the show log next to the show (SHOW.jsonl) unless given."""
    command = [sys.executable, "-m", "showcontrol", "run", str(show), "--headless", "--log", str(log or show.with_suffix(".jsonl")), *args]
    command += ["--audio-driver", driver] if driver else []
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)


def run_show_to_the_end(
    show: Path, *args: str, env: dict[str, str] | None = None, driver: str | None = "dummy", log: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`start_show`, waited for: what the show printed and how it exited."""
    process = start_show(show, *args, env=env, driver=driver, log=log)
    out, err = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def showcontrol(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """One `showcontrol` command line, run to the end in its own process."""
    return subprocess.run([sys.executable, "-m", "showcontrol", *args], capture_output=True, text=True, timeout=300, env=env)


# What makes a test slow and real: a peer (broker, JACK, PipeWire), the audio device's own thread, or a process.
PEER_FIXTURES = frozenset({"broker", "secure_broker", "jack", "pipewire", "sound_server", "runner", "running", "dummy_driver"})
PROCESS_HELPERS = frozenset({"showcontrol", "start_show", "run_show_to_the_end", "subprocess", "Broker", "ShowRunner"})


def _calls_a_process(function: object, module: object, depth: int = 2) -> bool:
    """Whether `function`, or a function of its module that it names (`depth` calls deep), starts one."""
    code = getattr(function, "__code__", None)
    if code is None:
        return False
    names = set(code.co_names)
    if PROCESS_HELPERS & names:
        return True
    return depth > 0 and any(_calls_a_process(getattr(module, name, None), module, depth - 1) for name in names)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests that need real peers or processes `peers`, and run the pure, fast ones first."""
    for item in items:
        if PEER_FIXTURES & set(getattr(item, "fixturenames", ())) or _calls_a_process(
            getattr(item, "function", None), getattr(item, "module", None)
        ):
            item.add_marker(pytest.mark.peers)
    items.sort(key=lambda item: item.get_closest_marker("peers") is not None)  # stable: file order kept within each lane
