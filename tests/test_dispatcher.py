"""The dispatcher thread on a synthetic audio clock, where the transport can be made to race it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from test_transport_run import wait_until

from showcontrol.audio.clock import ClockMap
from showcontrol.dispatcher import BURST_NS, Dispatcher
from showcontrol.engine.plan import Dispatch
from showcontrol.engine.transport import Segment, State
from showcontrol.io.output import Output
from showcontrol.model.position import BarBeat
from showcontrol.model.show import OscAction
from showcontrol.realtime import FiringWindow
from showcontrol.showlog import ShowLog
from showcontrol.timeline.events import Event, Kind
from showcontrol.timeline.sync import SyncPoint

RATE = 48000


class Recorder(Output):
    """An output that keeps what it was given: the dispatcher's side of the contract, nothing else."""

    def __init__(self) -> None:
        super().__init__("lights", 0.0)
        self.sent: list[int] = []

    def prepare(self, event: Event) -> object:
        return event.at_frame

    def send(self, message: object, event: Event, due_ns: int) -> str:
        assert isinstance(message, int)
        self.sent.append(message)
        return "sent"


def test_a_pause_that_lands_before_a_cue_already_sent_does_not_send_it_again(tmp_path: Path) -> None:
    """A driver late to render lets the clock say a frame is due before the callback has decided it: a
    pause taken in that buffer stops the song just before a frame whose cue went out. Resumed, the song
    plays that frame again; its cue must not go out twice."""
    frames = (4800, 9600, 14400)  # 0.1, 0.2 and 0.3 s into the song
    order = tuple(Dispatch(f, Event(f, BarBeat(1), Kind.OSC, "lights", OscAction("lights", "/cue", (f,)))) for f in frames)
    recorder = Recorder()
    start_ns = time.monotonic_ns() + 50_000_000
    clock = ClockMap(0, start_ns, RATE, start_ns + 1e9)
    segment = Segment(1, State.PLAYING, 0, 0, 0)
    with ShowLog(tmp_path / "show.jsonl") as showlog:
        dispatcher = Dispatcher(
            order, {id(item): recorder.prepare(item.event) for item in order}, {"lights": recorder},
            lambda: segment, lambda: clock, lambda _frame: SyncPoint(0, None, 0), 0, 0, RATE, "s", showlog,
        )  # fmt: skip
        dispatcher.start()
        try:
            wait_until(lambda: recorder.sent == [4800, 9600])
            segment = Segment(2, State.PAUSED, int(clock.frame_at(time.monotonic_ns())), 9000, 0)  # just before 9600
            dispatcher.wake()
            time.sleep(0.2)
            segment = Segment(3, State.PLAYING, int(clock.frame_at(time.monotonic_ns())) + 480, 9000, 0)
            dispatcher.wake()
            wait_until(lambda: len(recorder.sent) >= 3)
            time.sleep(0.1)
        finally:
            dispatcher.stop()
    assert recorder.sent == [4800, 9600, 14400]


def test_cues_are_sent_inside_the_firing_window_and_it_closes_between_them(tmp_path: Path) -> None:
    """While the dispatcher fires, other threads stand aside (the audio callback would take the GIL the
    next send needs); between cues the window is shut, so they never wait for nothing."""
    window = FiringWindow()
    open_at_send: list[bool] = []

    class WindowWatcher(Recorder):
        def send(self, message: object, event: Event, due_ns: int) -> str:
            open_at_send.append(window.closes_ns == due_ns + BURST_NS)  # opened for this cue (not a clock race)
            return super().send(message, event, due_ns)

    frames = (4800, 9600, 14400)
    order = tuple(Dispatch(f, Event(f, BarBeat(1), Kind.OSC, "lights", OscAction("lights", "/cue", (f,)))) for f in frames)
    watcher = WindowWatcher()
    start_ns = time.monotonic_ns() + 50_000_000
    clock = ClockMap(0, start_ns, RATE, start_ns + 1e9)
    segment = Segment(1, State.PLAYING, 0, 0, 0)
    closed_between: list[bool] = []
    with ShowLog(tmp_path / "show.jsonl") as showlog:
        dispatcher = Dispatcher(
            order, {id(item): watcher.prepare(item.event) for item in order}, {"lights": watcher},
            lambda: segment, lambda: clock, lambda _frame: SyncPoint(0, None, 0), 0, 0, RATE, "s", showlog,
            window=window,
        )  # fmt: skip
        dispatcher.start()
        try:
            wait_until(lambda: len(watcher.sent) == 1)
            time.sleep(0.03)  # halfway to the next cue
            closed_between.append(window.closes_ns <= time.monotonic_ns())
            wait_until(lambda: len(watcher.sent) == 3)
        finally:
            dispatcher.stop()
    assert open_at_send == [True, True, True]
    assert closed_between == [True]


def test_standing_aside_waits_for_the_window_and_never_longer_than_asked() -> None:
    window = FiringWindow()
    started = time.monotonic_ns()
    window.stand_aside(10_000_000)
    assert time.monotonic_ns() - started < 5_000_000  # closed: no wait at all

    window.open_until(time.monotonic_ns() + 20_000_000)
    started = time.monotonic_ns()
    window.stand_aside(1_000_000_000)
    waited = time.monotonic_ns() - started
    assert 15_000_000 <= waited < 500_000_000  # until the window closed by itself

    window.open_until(time.monotonic_ns() + 10_000_000_000)
    started = time.monotonic_ns()
    window.stand_aside(20_000_000)
    waited = time.monotonic_ns() - started
    assert 15_000_000 <= waited < 500_000_000  # no longer than asked, however long the window

    window.open_until(time.monotonic_ns() + 10_000_000_000)
    closer = threading.Timer(0.02, window.close)
    closer.start()
    started = time.monotonic_ns()
    window.stand_aside(5_000_000_000)
    closer.join()
    assert time.monotonic_ns() - started < 1_000_000_000  # closed by the dispatcher: back at once


def test_cues_wait_for_audio_the_device_has_not_taken(tmp_path: Path) -> None:
    """A hung sound server stops the callbacks while the clock, extrapolated, carries on: no cue may go
    out more than max_lead_frames past the audio the device took, and each goes once the audio gets there."""
    frames = (4800, 9600, 14400, 19200)  # 0.1 s apart
    order = tuple(Dispatch(f, Event(f, BarBeat(1), Kind.OSC, "lights", OscAction("lights", "/cue", (f,)))) for f in frames)
    recorder = Recorder()
    start_ns = time.monotonic_ns() + 50_000_000
    clock = ClockMap(0, start_ns, RATE, start_ns + 1e9)
    segment = Segment(1, State.PLAYING, 0, 0, 0)
    taken = 8000  # the device stopped taking audio here: 4800 is in it, 9600 is 1600 frames ahead
    with ShowLog(tmp_path / "show.jsonl") as showlog:
        dispatcher = Dispatcher(
            order, {id(item): recorder.prepare(item.event) for item in order}, {"lights": recorder},
            lambda: segment, lambda: clock, lambda _frame: SyncPoint(0, None, 0), 0, 0, RATE, "s", showlog,
            rendered=lambda: taken, max_lead_frames=2400,
        )  # fmt: skip
        dispatcher.start()
        try:
            wait_until(lambda: time.monotonic_ns() > clock.time_of_frame(19200) + 100_000_000)  # every cue overdue by the clock
            held = list(recorder.sent)
            taken = 12000  # the audio moves on: up to 14400 is within the lead
            wait_until(lambda: len(recorder.sent) == 3)
            time.sleep(0.05)
            moved = list(recorder.sent)
        finally:
            dispatcher.stop()
    assert held == [4800, 9600]  # 9600 is within 2400 frames of the audio taken; 14400 is not
    assert moved == [4800, 9600, 14400]
