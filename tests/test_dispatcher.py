"""The dispatcher thread on a synthetic audio clock, where the transport can be made to race it."""

from __future__ import annotations

import time
from pathlib import Path

from test_transport_run import wait_until

from showcontrol.audio.clock import ClockMap
from showcontrol.dispatcher import Dispatcher
from showcontrol.engine.plan import Dispatch
from showcontrol.engine.transport import Segment, State
from showcontrol.io.output import Output
from showcontrol.model.position import BarBeat
from showcontrol.model.show import OscAction
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
