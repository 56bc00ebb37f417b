"""The dispatcher end to end: its thread on a synthetic audio clock (it sends at the scheduler's deadlines,
inside its firing window, and records what it sent), and the scheduler with the real audio callback, in
a render and in a run. The scheduler's rules are tested in plain values in tests/test_scheduler.py."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from conftest import as_a
from peers import UdpReceiver, wait_until
from pythonosc.osc_message import OscMessage
from test_transport_run import beat_show

from showcontrol.app import RunOptions, ShowRunner
from showcontrol.audio.clock import ClockMap
from showcontrol.dispatcher import BURST_NS, GUARD_NS, Dispatcher, DispatcherConfig, DispatcherPorts
from showcontrol.engine.plan import Dispatch, dispatch_order
from showcontrol.engine.scheduler import Fire, Scheduler, SchedulerConfig, Seen, WaitUntil
from showcontrol.engine.transport import Loop, Segment, State, Transport
from showcontrol.io.output import SENT, OutputOf, Result
from showcontrol.load.show_file import load_show
from showcontrol.model.position import BarBeat
from showcontrol.model.show import OscAction
from showcontrol.offline import build_stems
from showcontrol.realtime import FiringWindow
from showcontrol.showlog import ShowLog
from showcontrol.timeline.events import Event, Kind, Timeline

RATE = 48000


@dataclass
class Device:
    """The audio device's side of the contract: a clock map and the frames its callback filled."""

    clock: ClockMap | None
    frames_delivered: int = 10**9
    latency_frames: int = 0


@dataclass
class Link:
    device: Device


def a_timeline(folder: Path) -> Timeline:
    """A song to give the show log its song time and sync points; the cues come from each test."""
    (folder / "show.yaml").write_text("version: 1\nsongs:\n  - id: s\n    end: 3.1\n    tempo: [{bar: 1, bpm: 120}]\n")
    return load_show(folder / "show.yaml").timelines["s"]


class Recorder(OutputOf[int]):
    """An output that keeps what it was given: the dispatcher's side of the contract, nothing else."""

    def __init__(self) -> None:
        super().__init__("lights", 0.0)
        self.sent: list[int] = []

    def prepare(self, event: Event) -> int:
        return event.at_frame

    def send(self, message: int, event: Event, due_ns: int) -> Result:
        self.sent.append(message)
        return SENT


def test_cues_are_sent_inside_the_firing_window_and_it_closes_between_them(tmp_path: Path) -> None:
    """While the dispatcher fires, other threads stand aside (the audio callback would take the GIL the
    next send needs); between cues the window is shut, so they never wait for nothing."""
    window = FiringWindow()
    open_at_send: list[bool] = []

    class WindowWatcher(Recorder):
        def send(self, message: int, event: Event, due_ns: int) -> Result:
            open_at_send.append(window.closes_ns == due_ns + BURST_NS)  # opened for this cue (not a clock race)
            return super().send(message, event, due_ns)

    frames = (9600, 57600, 105600)  # a second apart: a loaded machine still wakes this thread inside a gap
    watcher = WindowWatcher()
    events = (Event(f, BarBeat(1), Kind.OSC, "lights", OscAction("lights", "/cue", (f,))) for f in frames)
    order = tuple(Dispatch(e.at_frame, e, watcher.prepare(e)) for e in events)
    start_ns = time.monotonic_ns() + 200_000_000
    transport = Transport(end_frame=144000)
    transport.segment = Segment(1, State.PLAYING, 0, 0, 0)
    link = Link(Device(ClockMap(0, start_ns, RATE, start_ns + 1e9)))
    closed_between: list[bool] = []
    with ShowLog(tmp_path / "show.jsonl") as showlog:
        dispatcher = Dispatcher(
            DispatcherConfig("s", a_timeline(tmp_path), order, device_latency_ns=0, max_lead_frames=4800),
            DispatcherPorts(transport, link, {"lights": watcher}, showlog, window),
        )
        dispatcher.start()
        try:
            due = [start_ns + frame * 1_000_000_000 // RATE for frame in frames]
            for sent in (1, 2):  # between cues: in the first gap this thread wakes in early enough to tell
                wait_until(lambda: len(watcher.sent) == sent)  # noqa: B023  (called at once)
                time.sleep(max(0, due[sent - 1] + BURST_NS - time.monotonic_ns()) / 1e9 + 0.001)  # past the burst
                closes_ns = window.closes_ns  # read before the time: a window opened after it is not this gap's
                now = time.monotonic_ns()
                if not closed_between and now < due[sent] - GUARD_NS:
                    closed_between.append(closes_ns <= now)
            wait_until(lambda: len(watcher.sent) == 3)
        finally:
            dispatcher.stop()
    assert open_at_send == [True, True, True]
    assert watcher.sent == list(frames)  # each cue's own prepared message, carried by its dispatch
    assert closed_between == [True]
    records = [json.loads(line) for line in (tmp_path / "show.jsonl").read_text().splitlines()]
    osc = [r for r in records if r.get("kind") == "osc"]
    assert [r["song_frame"] for r in osc] == list(frames) and {r["result"] for r in osc} == {"sent"}
    assert all(r["sent"] >= r["scheduled"] for r in osc)  # never before its deadline


def test_standing_aside_waits_for_the_window_and_never_longer_than_asked() -> None:
    """Each bound is far from the wait it rules out (seconds, not milliseconds): a loaded machine that stalls
    this thread for a while must not fail it."""
    window = FiringWindow()
    started = time.monotonic_ns()
    window.stand_aside(2_000_000_000)
    assert time.monotonic_ns() - started < 1_000_000_000  # closed: no wait at all (not the 2 s asked)

    closes_ns = time.monotonic_ns() + 20_000_000
    window.open_until(closes_ns)
    window.stand_aside(2_000_000_000)
    assert closes_ns <= time.monotonic_ns() < closes_ns + 1_000_000_000  # until the window closed by itself

    window.open_until(time.monotonic_ns() + 10_000_000_000)
    started = time.monotonic_ns()
    window.stand_aside(20_000_000)
    waited = time.monotonic_ns() - started
    assert 20_000_000 <= waited < 5_000_000_000  # no longer than asked, however long the window

    window.open_until(time.monotonic_ns() + 10_000_000_000)
    closer = threading.Timer(0.02, window.close)
    closer.start()
    started = time.monotonic_ns()
    window.stand_aside(10_000_000_000)
    closer.join()
    assert time.monotonic_ns() - started < 5_000_000_000  # closed by the dispatcher: back at once, not after the 10 s


def test_a_loop_at_the_songs_end_wraps_on_the_frame_and_ends_the_song_once_in_a_render(tmp_path: Path) -> None:
    """Issue 12, the audio callback and the scheduler together on simulated time: the callback renders a
    block every 256 frames, the scheduler is asked whenever it said to wait. A loop over the song's last
    bars wraps to the frame each pass; its first cue is due at the wrap and decided before its deadline;
    the song's end event fires once, when the released loop plays to the end, never at a wrap."""
    runner = ShowRunner(load_show(beat_show(tmp_path, 9, bars=3)), RunOptions("beats"))  # bars 1-3, the end at 4.1
    runner.player.stems = build_stems(runner.song, runner.timeline, runner.routes, runner.sounds)  # what entering would build
    click = runner.player.stems["click"].data[:, 0]
    clock = ClockMap(0, 0.0, RATE, 1e9)  # device frame f is requested at f / 48000 s
    block = 256
    scheduler = Scheduler(
        SchedulerConfig(dispatch_order(runner.timeline, {}), max_lead_frames=4800, device_latency_ns=round(clock.time_of_frame(block)))
    )
    start, end = 48000, 3 * 48000  # bars 2-3: a bar a second
    runner.loop(2, 3)
    runner.play()
    audio, fires, late = [], [], []
    ask_ns = 0
    for index in range(int(7.5 * RATE / block)):  # bars 1-3, bars 2-3 twice more (released in the last), then stopped
        if index * block <= 5.5 * RATE < (index + 1) * block:
            runner.release_loop()
        out = np.zeros((block, 2), np.float32)
        runner.player.render(index * block, out)
        audio.append(out[:, 0].copy())
        next_block_ns = clock.time_of_frame((index + 1) * block)
        while ask_ns < next_block_ns:
            seen = Seen(runner.transport.segment, (index + 1) * block, clock, ask_ns, runner.transport.loop)
            for effect in scheduler.advance(seen):
                if isinstance(effect, Fire):
                    fires.append((round(clock.frame_at(effect.due_ns)) - block, effect.dispatch.event))
                    late.append(ask_ns > effect.due_ns)
                    ask_ns = max(ask_ns, effect.due_ns)
                elif isinstance(effect, WaitUntil):
                    ask_ns = max(ask_ns + 1, effect.wake_ns)
    rendered = np.concatenate(audio)
    for wrap in (end, 2 * end - start):  # the device frames where each pass ends
        assert np.array_equal(rendered[wrap - 1000 : wrap], click[end - 1000 : end])  # the pass plays to its last frame...
        assert np.array_equal(rendered[wrap : wrap + 5000], click[start : start + 5000])  # ...and restarts on the frame
        cues = [(frame, as_a(OscAction, e.payload).args) for frame, e in fires if e.kind is Kind.OSC]
        assert (wrap, (2, 1)) in cues  # its cue, at the wrap
    song_end = 3 * end - 2 * start
    assert not rendered[song_end + block :].any()  # released: the last pass plays to the song's end, then silence
    assert [(frame, e.kind) for frame, e in fires if e.kind is Kind.END] == [(song_end, Kind.END)]
    beats = [as_a(OscAction, e.payload).args for _, e in fires if e.kind is Kind.OSC]
    assert beats == [(bar, beat) for bar in (1, 2, 3, 2, 3, 2, 3) for beat in range(1, 5)]
    assert not any(late)


def test_a_loop_at_the_songs_end_ends_the_song_once_in_a_run(tmp_path: Path) -> None:
    """Issue 12 on a running show: a loop over the last bars replays them, and the song's end is reached
    (and published) once, when the released loop plays to the end."""
    receiver = UdpReceiver()
    options = RunOptions("beats", audio_driver="dummy", log_path=tmp_path / "show.jsonl")
    try:
        with ShowRunner(load_show(beat_show(tmp_path, receiver.port, bars=3)), options) as running:
            running.loop(2, 3)
            running.play()
            wait_until(lambda: [OscMessage(d).params for _, d in receiver.datagrams].count([2, 1]) >= 3)  # into the third pass
            running.release_loop()
            wait_until(lambda: running.segment.state is State.STOPPED)
            running.dispatcher.wait_for_drain(10.0)  # a loaded machine may take a while
    finally:
        receiver.close()
    beats = [tuple(OscMessage(d).params) for _, d in receiver.datagrams]
    passes = (len(beats) - 4) // 8  # three, or one more when a loaded machine releases the loop after the wrap
    assert passes >= 3 and beats == [(bar, beat) for bar in (1, *(2, 3) * passes) for beat in range(1, 5)], beats
    records = [json.loads(line) for line in (tmp_path / "show.jsonl").read_text().splitlines()]
    assert [r["song_frame"] for r in records if r.get("kind") == "end"] == [3 * RATE]
    assert [r["state"] for r in records if r.get("kind") == "transport"][-1] == "stopped"


class HeldDevice:
    """A device whose dispatcher thread a loaded machine holds off: while held, the thread's first read
    of each turn (the frames taken) waits, as a thread does that is not scheduled."""

    def __init__(self, clock: ClockMap) -> None:
        self.clock: ClockMap | None = clock
        self.latency_frames = 0
        self.taken = 0
        self.held = threading.Event()  # the thread is waiting at its read
        self._running = threading.Event()
        self._running.set()

    @property
    def frames_delivered(self) -> int:
        if not self._running.is_set():
            self.held.set()
            self._running.wait()
        return self.taken

    @frames_delivered.setter
    def frames_delivered(self, frames: int) -> None:
        self.taken = frames

    def hold(self) -> None:
        self._running.clear()

    def let_go(self) -> None:
        self._running.set()


@dataclass
class HeldLink:
    device: HeldDevice


class StateRecorder(Recorder):
    """The show state and transport changes the dispatcher told this output, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.told: list[str] = []

    def state(self, event: Event) -> None:
        self.told.append(event.kind.value)

    def transport(self, state: str, song_id: str, position: str, sync: object) -> None:
        self.told.append(state)


def test_a_song_stopped_at_its_end_is_draining_until_the_dispatcher_has_sent_its_end(tmp_path: Path) -> None:
    """Found under load (a run's show log without its `end`): a run quitting at a song's end, or a set list
    installing the next song, asked the dispatcher whether it was still draining before its thread had
    woken up to the stop: "no", it said, was stopped, and the song's end went unsent and unlogged. Here
    the thread is held off as a loaded machine holds it, while the audio plays to the end and stops."""
    timeline = a_timeline(tmp_path)
    end = timeline.end_frame
    start_ns = time.monotonic_ns() + 10 * 10**9 - end * 10**9 // RATE  # playing: the end is ten seconds away
    device = HeldDevice(ClockMap(0, start_ns, RATE, start_ns + 1e9))
    transport = Transport(end_frame=end)
    transport.segment = Segment(1, State.PLAYING, 0, 0, 0)
    lights = StateRecorder()
    with ShowLog(tmp_path / "show.jsonl") as showlog:
        dispatcher = Dispatcher(
            DispatcherConfig("s", timeline, dispatch_order(timeline, {}), device_latency_ns=0, max_lead_frames=4800),
            DispatcherPorts(transport, HeldLink(device), {"lights": lights}, showlog),
        )
        dispatcher.start()
        try:
            wait_until(lambda: lights.told == ["playing"])  # it follows the song, waiting for its first beat
            device.hold()
            assert device.held.wait(30)
            now_ns = time.monotonic_ns()  # meanwhile the audio played to the end and the transport stopped there
            played_from_ns = now_ns - 10**9 - end * 10**9 // RATE  # the end a second ago
            device.clock = ClockMap(0, played_from_ns, RATE, played_from_ns + 1e9)
            device.taken = end + 1024
            assert transport.next_block(end + 1024, 256).state is State.STOPPED
            threading.Timer(1.0, device.let_go).start()
            dispatcher.wait_for_drain(30.0)
            told_when_drained = list(lights.told)
        finally:
            device.let_go()
            dispatcher.stop()
    assert told_when_drained[-2:] == ["end", "stopped"] and told_when_drained.count("beat") == 8
    records = [json.loads(line) for line in (tmp_path / "show.jsonl").read_text().splitlines()]
    assert [r["song_frame"] for r in records if r.get("kind") == "end"] == [end]
    assert [r["state"] for r in records if r.get("kind") == "transport"] == ["playing", "stopped"]


class RacingTransport(Transport):
    """A transport whose audio callback runs while the dispatcher's thread is reading it: once `race` is
    set, the thread's next read of the segment gets the segment of before, and `race` runs meanwhile."""

    def __init__(self, end_frame: int) -> None:
        self.race: Callable[[], None] | None = None
        super().__init__(end_frame)

    @property
    def segment(self) -> Segment:
        segment = self._segment
        if self.race is not None and threading.current_thread().name == "dispatcher":
            race, self.race = self.race, None
            race()
        return segment

    @segment.setter
    def segment(self, segment: Segment) -> None:
        self._segment = segment


def test_a_loop_released_as_it_wraps_never_ends_the_song_at_the_wrap(tmp_path: Path) -> None:
    """The operator releases a loop that ends at the song's end just as the audio wraps: between the
    dispatcher reading the segment (still the pass before the wrap) and reading the loop (released since),
    the callback wrapped and then took the release. Read that way, the song's `end` looked due at the wrap
    and went out there, and again at the real end. Now a loop seen on either side of the segment holds it."""
    timeline = a_timeline(tmp_path)
    end = timeline.end_frame
    start = end // 2  # bar 2: the loop is bars 2-3, to the song's end
    transport = RacingTransport(end)
    transport.request(Loop(start, end))
    transport.next_block(0, 256)
    transport.segment = Segment(transport.segment.generation + 1, State.PLAYING, 0, 0, 0)
    played_from_ns = time.monotonic_ns() - (end - 4800) * 10**9 // RATE  # a tenth of a second before the loop's end
    device = HeldDevice(ClockMap(0, played_from_ns, RATE, played_from_ns + 1e9))
    device.taken = end - 4800
    lights = StateRecorder()

    def callback_wraps_then_takes_the_release() -> None:
        assert transport.next_block(end - 128, 256).wrap_from == end  # the block with the loop's end: it wraps
        transport.request(Loop(None, None))
        transport.next_block(end + 128, 256)
        device.taken = end + 384
        now_ns = time.monotonic_ns()  # the audio went on meanwhile: the loop's end was requested just now
        device.clock = ClockMap(0, now_ns - end * 10**9 // RATE, RATE, now_ns - end * 10**9 // RATE + 1e9)

    with ShowLog(tmp_path / "show.jsonl") as showlog:
        dispatcher = Dispatcher(
            DispatcherConfig("s", timeline, dispatch_order(timeline, {}), device_latency_ns=0, max_lead_frames=4800),
            DispatcherPorts(transport, HeldLink(device), {"lights": lights}, showlog),
        )
        dispatcher.start()
        try:
            wait_until(lambda: lights.told.count("beat") == 8)  # the beats before the loop's end, late: it waits at the end now
            transport.race = callback_wraps_then_takes_the_release
            wait_until(lambda: transport.race is None and dispatcher.scheduler.caught_up(transport.segment))  # on the new pass
            pass_from_ns = time.monotonic_ns() - (2 * end - start) * 10**9 // RATE  # the released pass played to the end
            device.clock = ClockMap(0, pass_from_ns, RATE, pass_from_ns + 1e9)
            device.taken = 2 * end - start + 512
            assert transport.next_block(2 * end - start + 256, 256).state is State.STOPPED
            dispatcher.wait_for_drain(30.0)
        finally:
            dispatcher.stop()
    assert lights.told.count("end") == 1 and lights.told[-2:] == ["end", "stopped"], lights.told
    assert lights.told.count("beat") == 8 + 4  # bars 1-2, then the released pass's bar 2
    records = [json.loads(line) for line in (tmp_path / "show.jsonl").read_text().splitlines()]
    assert [r["song_frame"] for r in records if r.get("kind") == "end"] == [end]
