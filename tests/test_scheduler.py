"""The scheduler's rules, driven with plain values: segments, frames taken and times in, effects out.

The clock maps device frame f to f ms (48 frames a millisecond at 48 kHz is too fine to read), so a
deadline in these tests is the frame it is due at, in ms, plus the device's latency.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from showcontrol.engine.plan import Dispatch
from showcontrol.engine.scheduler import (
    COMMIT_NS,
    IDLE_NS,
    POLL_NS,
    Announce,
    Effect,
    Fire,
    Rebuild,
    Scheduler,
    SchedulerConfig,
    Seen,
    SkipOnce,
    WaitUntil,
)
from showcontrol.engine.transport import Loop, Pause, Play, Resume, Segment, State, Stop, Transport
from showcontrol.model.position import BarBeat
from showcontrol.model.show import OscAction, Section
from showcontrol.timeline.events import Event, Kind

MS = 1_000_000
FAR = 10**9  # frames taken: the audio is far ahead (the max-lead rule stays out of the way)


@dataclass(frozen=True)
class MillisecondClock:
    stale_after_ms: float = float("inf")

    def time_of_frame(self, frame: int) -> float:
        return frame * MS

    def stale_at(self, now_ns: float) -> bool:
        return now_ns > self.stale_after_ms * MS


CLOCK = MillisecondClock()


def cue(frame: int, address: str = "/cue", once: bool = False, send_frame: int | None = None) -> Dispatch:
    event = Event(frame, BarBeat(1), Kind.OSC, "lights", OscAction("lights", address, (frame,)), once=once)
    return Dispatch(frame if send_frame is None else send_frame, event)


def end(frame: int) -> Dispatch:
    return Dispatch(frame, Event(frame, BarBeat(1), Kind.END, "", None))


def section(frame: int, name: str) -> Dispatch:
    return Dispatch(frame, Event(frame, BarBeat(1), Kind.SECTION, "", Section(name, 1)))


def playing(generation: int, device_frame: int, song_frame: int, song_from: int | None = None, wrap_from: int | None = None) -> Segment:
    return Segment(generation, State.PLAYING, device_frame, song_frame, song_frame if song_from is None else song_from, wrap_from)


def config(
    order: Sequence[Dispatch],
    max_lead_frames: int = 100,
    device_latency_ns: int = 0,
    max_latency_frames: int = 0,
    top_frame: int = 0,
    on_locate: Mapping[str, str] | None = None,
) -> SchedulerConfig:
    return SchedulerConfig(tuple(order), max_lead_frames, device_latency_ns, max_latency_frames, top_frame, on_locate or {})


def fired(effects: Sequence[Effect]) -> list[int]:
    return [e.dispatch.event.at_frame for e in effects if isinstance(e, Fire)]


def until(scheduler: Scheduler, segment: Segment, now_ms: float, taken: int = FAR, loop: tuple[int, int] | None = None) -> list[Effect]:
    """Every effect up to `now_ms`, as the dispatcher would perform them (each Fire sent at once)."""
    effects: list[Effect] = []
    while True:
        step = scheduler.advance(Seen(segment, taken, CLOCK, int(now_ms * MS), loop))
        effects += step
        if isinstance(step[-1], WaitUntil):
            return effects


def test_a_stopped_show_announces_its_state_once_and_waits() -> None:
    scheduler = Scheduler(config([cue(10)]))
    stopped = Segment(0, State.STOPPED, 0, 0, 0)
    assert scheduler.advance(Seen(stopped, 0, CLOCK, 0)) == [Announce(stopped, 0), WaitUntil(IDLE_NS)]
    assert scheduler.advance(Seen(stopped, 0, CLOCK, 7)) == [WaitUntil(7 + IDLE_NS)]


def test_each_event_is_fired_at_its_absolute_deadline_and_asked_for_again_until_then() -> None:
    order = [cue(10), cue(20)]
    scheduler = Scheduler(config(order, device_latency_ns=3 * MS))
    segment = playing(1, 100, 0)  # song frame 0 plays from device frame 100
    assert scheduler.advance(Seen(segment, FAR, CLOCK, 0)) == [Announce(segment, 0), WaitUntil((110 + 3) * MS - COMMIT_NS)]
    assert scheduler.advance(Seen(segment, FAR, CLOCK, 112 * MS)) == [Fire(order[0], 113 * MS)]  # within the commit: spun by the dispatcher
    assert scheduler.advance(Seen(segment, FAR, CLOCK, 113 * MS)) == [WaitUntil(123 * MS - COMMIT_NS)]
    assert scheduler.advance(Seen(segment, FAR, CLOCK, 125 * MS)) == [Fire(order[1], 123 * MS)]  # late: at once
    assert scheduler.advance(Seen(segment, FAR, CLOCK, 126 * MS)) == [WaitUntil(126 * MS + IDLE_NS)]  # all sent


def test_the_devices_latency_is_the_one_it_reports_on_each_wake() -> None:
    """A JACK server reports its ports' latency, and reports it again when it changes: each deadline takes
    the latency seen when it is decided, on top of the patch's calibration."""
    order = [cue(10), cue(20)]
    scheduler = Scheduler(config(order, device_latency_ns=3 * MS))
    segment = playing(1, 100, 0)
    assert scheduler.advance(Seen(segment, FAR, CLOCK, 0, latency_frames=1024))[-1] == WaitUntil((110 + 1024 + 3) * MS - COMMIT_NS)
    assert scheduler.advance(Seen(segment, FAR, CLOCK, 1136 * MS, latency_frames=1024)) == [Fire(order[0], (110 + 1024 + 3) * MS)]
    assert scheduler.advance(Seen(segment, FAR, CLOCK, 1137 * MS, latency_frames=2048)) == [WaitUntil((120 + 2048 + 3) * MS - COMMIT_NS)]


def test_an_output_with_latency_is_sent_earlier_by_it() -> None:
    early = cue(50, send_frame=40)  # dispatch_order subtracted the output's 10 frames of latency
    scheduler = Scheduler(config([early], max_latency_frames=10))
    assert fired(until(scheduler, playing(1, 0, 0), 40)) == [50]
    assert until(Scheduler(config([early], max_latency_frames=10)), playing(1, 0, 0), 38.9)[-1] == WaitUntil(39 * MS)


def test_nothing_is_fired_without_a_clock() -> None:
    scheduler = Scheduler(config([cue(0)]))
    segment = playing(1, 0, 0)
    assert scheduler.advance(Seen(segment, FAR, None, 5 * MS)) == [Announce(segment, 0), WaitUntil(5 * MS + IDLE_NS)]
    assert scheduler.advance(Seen(segment, FAR, CLOCK, 5 * MS)) == [Fire(cue(0), 0)]


def test_an_event_waits_for_audio_the_device_has_not_taken() -> None:
    """A hung sound server stops the callbacks while the clock, extrapolated, carries on: no cue goes out
    more than max_lead_frames past the audio the device took, and each goes once the audio gets there."""
    order = [cue(100), cue(200), cue(300)]
    scheduler = Scheduler(config(order, max_lead_frames=50))
    segment = playing(1, 0, 0)
    held = until(scheduler, segment, 1000, taken=160)  # every cue overdue by the clock
    assert fired(held) == [100, 200] and held[-1] == WaitUntil(1000 * MS + POLL_NS)
    assert fired(until(scheduler, segment, 1001, taken=260)) == [300]


def test_an_event_waits_while_the_clock_is_stale_and_goes_on_the_map_of_the_callback_after() -> None:
    """The process stopped (or the server hung) past the map's allowance: the cues due meanwhile are not
    sent on the old timeline the moment the dispatcher runs again; each waits for the callback that says
    where the audio went, and goes by its map (late ones at once, the others at their time)."""
    order = [cue(100), cue(130)]
    scheduler = Scheduler(config(order))
    segment = playing(1, 0, 0)
    stale = MillisecondClock(stale_after_ms=95)
    scheduler.advance(Seen(segment, FAR, stale, 0))
    assert scheduler.advance(Seen(segment, FAR, stale, 120 * MS)) == [WaitUntil(120 * MS + POLL_NS)]  # both overdue by it
    moved = ShiftedClock(shift_ms=15, stale_after_ms=130)  # the audio plays on 15 ms later than it did
    assert scheduler.advance(Seen(segment, FAR, moved, 121 * MS)) == [Fire(order[0], 115 * MS)]  # late by then: at once
    assert scheduler.advance(Seen(segment, FAR, moved, 121 * MS)) == [WaitUntil(145 * MS - COMMIT_NS)]  # on the new map


@dataclass(frozen=True)
class ShiftedClock(MillisecondClock):
    shift_ms: float = 0.0

    def time_of_frame(self, frame: int) -> float:
        return (frame + self.shift_ms) * MS


def test_a_stop_drains_what_the_audio_played_then_announces_the_stop() -> None:
    order = [cue(10), cue(20), cue(30)]
    scheduler = Scheduler(config(order))
    assert fired(until(scheduler, playing(1, 0, 0), 0)) == []
    stopped = Segment(2, State.STOPPED, 25, 25, 0)  # the callback stopped at song frame 25; 20 still in its buffers
    effects = until(scheduler, stopped, 18.5)
    assert fired(effects) == [10] and scheduler.draining
    effects = until(scheduler, stopped, 21)
    assert fired(effects) == [20]
    assert effects[-2:] == [Announce(stopped, 25), WaitUntil(21 * MS + IDLE_NS)]
    assert not scheduler.draining
    assert fired(until(scheduler, stopped, 40)) == []  # 30 was never heard


def test_a_song_that_stops_at_its_end_fires_its_end_event() -> None:
    order = [cue(10), end(40)]
    scheduler = Scheduler(config(order))
    until(scheduler, playing(1, 0, 0), 30)
    stopped = Segment(2, State.STOPPED, 40, 40, 0)  # the transport's stop at the song's end
    effects = until(scheduler, stopped, 41)
    assert fired(effects) == [40] and effects[-2] == Announce(stopped, 40)


def test_a_resume_does_not_send_again_a_cue_the_pause_landed_before() -> None:
    """A driver late to render lets the clock say a frame is due before the callback has decided it: a
    pause taken in that buffer stops the song just before a frame whose cue went out. Resumed, the song
    plays that frame again; its cue must not go out twice."""
    order = [cue(100), cue(200), cue(300)]
    scheduler = Scheduler(config(order))
    assert fired(until(scheduler, playing(1, 0, 0), 200)) == [100, 200]
    paused = Segment(2, State.PAUSED, 190, 190, 0)  # just before 200
    effects = until(scheduler, paused, 201)
    assert fired(effects) == [] and Announce(paused, 190) in effects
    resumed = playing(3, 1000, 190, song_from=0)
    effects = until(scheduler, resumed, 1200)
    assert effects[0] == Announce(resumed, 190)
    assert fired(effects) == [300]  # device frame 1110: 200 is not sent again
    assert not any(isinstance(e, Rebuild) for e in effects)  # a resume is the same take


def test_a_take_from_a_later_bar_rebuilds_state_first_and_disarms_once_cues() -> None:
    order = [
        section(0, "intro"),
        cue(10, "/a"),
        cue(20, "/pyro", once=True),
        section(25, "verse"),
        cue(30, "/b"),
        cue(40, "/pyro2", once=True),
    ]
    scheduler = Scheduler(config(order, on_locate={"lights": "last"}))
    segment = playing(1, 0, 27)  # from song frame 27
    effects = until(scheduler, segment, 1000)
    assert effects[0] == Announce(segment, 27)
    assert effects[1] == Rebuild((order[1], order[3]))  # the latest cue and section before the bar, never a once cue
    assert effects[2] == SkipOnce((order[2].event, order[5].event))
    assert fired(effects) == [30]  # from the bar on; /pyro2 stays disarmed


def test_a_take_from_the_top_fires_once_cues_and_rebuilds_nothing() -> None:
    order = [cue(10, once=True), cue(20)]
    scheduler = Scheduler(config(order, top_frame=-50))
    effects = until(scheduler, playing(1, 0, -50, song_from=-50), 1000)
    assert fired(effects) == [10, 20]
    assert not any(isinstance(e, Rebuild | SkipOnce) for e in effects)


def test_a_pre_roll_starts_its_cues_at_the_bar() -> None:
    order = [cue(90), cue(100), cue(110)]
    scheduler = Scheduler(config(order))
    segment = playing(1, 0, 40, song_from=100)  # a count-in from song frame 40, the song from 100
    effects = until(scheduler, segment, 1000)
    assert effects[0] == Announce(segment, 100)
    assert fired(effects) == [100, 110]


def test_a_cue_at_or_past_a_loops_end_waits_for_the_callback_to_decide_the_wrap() -> None:
    """Only the audio callback decides, on reaching the loop's end, whether the pass wraps or the loop was
    released; until then a cue at the loop's end (the next bar) waits, though the clock says it is due."""
    order = [cue(10), cue(40), cue(50)]
    scheduler = Scheduler(config(order))
    segment = playing(1, 0, 0)
    effects = until(scheduler, segment, 45, taken=35, loop=(0, 40))
    assert fired(effects) == [10] and effects[-1] == WaitUntil(45 * MS + POLL_NS)
    assert fired(until(scheduler, segment, 51, taken=60, loop=None)) == [40, 50]  # released: the song plays on


def test_a_loop_finishes_its_pass_then_replays_with_state_rebuilt_and_once_cues_disarmed() -> None:
    order = [section(0, "intro"), cue(5, "/pyro", once=True), cue(10), cue(30), cue(40)]
    scheduler = Scheduler(config(order))
    loop = (10, 40)
    first = until(scheduler, playing(1, 0, 0), 35, taken=36, loop=loop)
    assert fired(first) == [0, 5, 10, 30]
    wrapped = playing(2, 40, 10, wrap_from=40)  # the callback wrapped at device frame 40, to song frame 10
    effects = until(scheduler, wrapped, 50, taken=60, loop=loop)
    assert effects[0] == Announce(wrapped, 10)
    assert effects[1] == Rebuild((order[0],))  # the section, put back for the pass; no SkipOnce reported again
    assert fired(effects) == [10]  # the pass's first cue, due at the wrap
    assert fired(until(scheduler, wrapped, 61, taken=70, loop=loop)) == [30]  # device frame 60


def test_the_first_cue_of_a_loops_pass_is_fired_at_the_wrap_itself() -> None:
    """Issue 12: a loop ending at the song's last bar wrapped ~6 ms late, and fired the song's end event at
    every wrap. The end event's frame is the loop's end, which a wrap never plays; and the pass's first cue
    is due at the wrap, so it is fired without first waiting for a next turn."""
    order = [cue(10), cue(30), end(40)]
    scheduler = Scheduler(config(order))
    loop = (10, 40)  # to the song's end
    assert fired(until(scheduler, playing(1, 0, 0), 39, taken=39, loop=loop)) == [10, 30]
    wrapped = playing(2, 40, 10, wrap_from=40)
    step = scheduler.advance(Seen(wrapped, 50, CLOCK, 39 * MS + COMMIT_NS // 2, loop))
    assert [type(e) for e in step] == [Announce, Rebuild, Fire]  # no WaitUntil before the cue at the wrap
    assert fired(step) == [10]
    held = until(scheduler, wrapped, 69, taken=69, loop=loop)
    assert fired(held) == [30] and held[-1] == WaitUntil(69 * MS + POLL_NS)  # the end: wrap or stop is the callback's
    released = Segment(3, State.STOPPED, 70, 40, 0)  # released during the pass: the song plays to its end
    effects = until(scheduler, released, 80)
    assert fired(effects) == [40] and effects[-2] == Announce(released, 40)  # the end, once


def test_a_stop_just_after_a_wrap_drains_the_pass_that_ended_then_the_new_one_up_to_the_stop() -> None:
    order = [section(0, "intro"), cue(10), cue(30), cue(38)]
    scheduler = Scheduler(config(order))
    loop = (10, 40)
    assert fired(until(scheduler, playing(1, 0, 0), 30, taken=32, loop=loop)) == [0, 10, 30]
    wrapped = playing(2, 40, 10, wrap_from=40)
    until(scheduler, wrapped, 31, taken=42, loop=loop)  # the dispatcher saw the wrap; 38 is not due yet
    stopped = Segment(3, State.STOPPED, 45, 15, 0)  # the callback stopped 5 frames into the new pass
    effects = until(scheduler, stopped, 100, taken=45)
    assert fired(effects) == [38, 10]  # the end of the pass that was heard, then the new pass's first cue
    assert [e.begin_frame for e in effects if isinstance(e, Announce)] == [10, 15]  # the pass, then the stop
    assert effects[-2] == Announce(stopped, 15) and not scheduler.draining


def test_the_scheduler_follows_the_transports_own_segments() -> None:
    """The two engine halves together, frames as arguments: the transport's blocks, the scheduler's fires."""
    order = [cue(f) for f in range(0, 2048, 256)]  # a cue every block
    transport = Transport(end_frame=2048)
    scheduler = Scheduler(config(order, max_lead_frames=512))
    sent: list[int] = []
    transport.request(Play(0, 0))
    transport.request(Loop(512, 1024))
    for block in range(16):
        device_frame = block * 256
        if block == 8:
            transport.request(Loop(None, None))
        if block == 12:
            transport.request(Pause())
        if block == 13:
            transport.request(Resume())
        if block == 14:
            transport.request(Stop())
        segment = transport.next_block(device_frame, 256)
        sent += fired(until(scheduler, segment, device_frame + 255, taken=device_frame + 256, loop=transport.loop))
    assert sent == [0, 256, 512, 768, 512, 768, 512, 768, 1024, 1280, 1536, 1792]
