"""Transport and dispatch planning: pure, driven with plain frame numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import as_a

from showcontrol.engine.plan import FeedCountIn, dispatch_order, plan_start, start_index, state_rebuild
from showcontrol.engine.transport import Pause, Play, Resume, State, Stop, Transport
from showcontrol.load.show_file import load_show
from showcontrol.model.position import BarBeat
from showcontrol.model.show import CountIn
from showcontrol.offline import click_sounds
from showcontrol.timeline.events import ClickHit, Kind

GOLDEN = Path(__file__).parent / "golden"


def test_commands_take_effect_at_the_next_block_and_publish_segments() -> None:
    transport = Transport(end_frame=10_000)
    assert transport.next_block(0, 256).state is State.STOPPED
    transport.request(Play(-500, -500))
    segment = transport.next_block(256, 256)
    assert (segment.state, segment.device_frame, segment.song_frame) == (State.PLAYING, 256, -500)
    assert segment.song_frame_at(256 + 1000) == 500
    transport.request(Pause())
    paused = transport.next_block(1280, 256)
    assert (paused.state, paused.song_frame) == (State.PAUSED, 524)
    transport.request(Resume())
    resumed = transport.next_block(5000, 256)
    assert (resumed.state, resumed.song_frame_at(5000)) == (State.PLAYING, 524)
    assert resumed.generation == paused.generation + 1
    transport.request(Stop())
    assert transport.next_block(6000, 256).state is State.STOPPED


def test_reaching_the_end_stops() -> None:
    transport = Transport(end_frame=1000)
    transport.request(Play(0, 0))
    transport.next_block(0, 256)
    assert transport.next_block(768, 256).state is State.PLAYING
    assert transport.next_block(1024, 256).state is State.STOPPED


def test_start_from_a_bar_prerolls_a_count_in_at_that_bars_tempo() -> None:
    loaded = load_show(GOLDEN / "meters-and-ramp" / "show.yaml")
    timeline = loaded.timelines["meters"]
    plan = plan_start(timeline, BarBeat(4), [FeedCountIn("click", CountIn(1, True), 0.5, 1)], click_sounds(int(timeline.sample_rate)))
    bar4 = timeline.tempo.frame(BarBeat(4), timeline.sample_rate)
    assert plan.song_from_frame == bar4
    assert plan.start_frame == bar4 - round(2.4 * 44100)  # 50 dotted quarters a minute is ♩=75: a 6/8 bar is 2.4 s
    assert [as_a(ClickHit, e.payload).count for e in plan.count_in_events] == [1, 2]  # 6/8 counts its two pulses
    assert list(plan.count_in) == ["click"] and np.abs(plan.count_in["click"].data).max() > 0


def test_dispatch_order_applies_latency_and_skips_audio_only_events() -> None:
    loaded = load_show(GOLDEN / "cues-and-lyrics" / "show.yaml")
    timeline = loaded.timelines["cues"]
    order = dispatch_order(timeline, {"lights": 441})
    assert len(order) == len(timeline.events)
    lights = [d for d in order if d.event.output == "lights"]
    assert all(d.send_frame == d.event.at_frame - 441 for d in lights)
    assert [d.send_frame for d in order] == sorted(d.send_frame for d in order)
    index = start_index(order, 716625, 441)
    assert order[index].event.at_frame >= 716625 - 441


def test_each_dispatch_carries_the_message_prepared_for_its_own_event() -> None:
    """What the dispatcher sends is the dispatch's own message: nothing to look up at send time, and a
    state rebuild resends the very messages the song prepared."""
    loaded = load_show(GOLDEN / "cues-and-lyrics" / "show.yaml")
    timeline = loaded.timelines["cues"]
    order = dispatch_order(timeline, {"lights": 441}, lambda e: (e.output, e.at_frame) if e.kind is Kind.OSC else None)
    cues = [d for d in order if d.event.kind is Kind.OSC]
    assert cues and all(d.message == (d.event.output, d.event.at_frame) for d in cues)
    assert all(d.message is None for d in order if d.event.kind is not Kind.OSC)
    assert all(d.message is None for d in dispatch_order(timeline, {}))  # nothing prepared: the engine's own order
    rebuilt = state_rebuild(order, timeline.events[-1].at_frame, {"lights": "last"})
    assert [d.message for d in rebuilt if d.event.kind is Kind.OSC] == [cues[-1].message]


def test_on_one_frame_messages_go_before_monitor_state() -> None:
    from showcontrol.engine.plan import STATE_KINDS

    loaded = load_show(GOLDEN / "cues-and-lyrics" / "show.yaml")
    order = dispatch_order(loaded.timelines["cues"], {})
    frames: dict[int, list[bool]] = {}
    for item in order:
        frames.setdefault(item.send_frame, []).append(item.event.kind in STATE_KINDS)
    shared = [kinds for kinds in frames.values() if len(set(kinds)) == 2]
    assert shared, "the golden show has frames with both a cue and a section, lyric or beat"
    assert all(kinds == sorted(kinds) for kinds in shared)


def test_state_rebuild_keeps_the_latest_per_output_or_per_address_and_never_once_cues() -> None:
    from showcontrol.engine.plan import Dispatch, state_rebuild
    from showcontrol.model.position import BarBeat
    from showcontrol.model.show import MqttAction, OscAction, Section
    from showcontrol.timeline.events import Event, Kind

    def osc(frame: int, output: str, address: str, *args: int | float | str, once: bool = False) -> Dispatch:
        return Dispatch(frame, Event(frame, BarBeat(1), Kind.OSC, output, OscAction(output, address, tuple(args)), once=once))

    order: tuple[Dispatch[object], ...] = (
        Dispatch(0, Event(0, BarBeat(1), Kind.SECTION, "", Section("intro", 1))),
        osc(10, "lights", "/eos/cue/1/1/fire"),
        osc(20, "mixer", "/ch/03/mix/on", 1),
        osc(30, "mixer", "/ch/04/mix/on", 0),
        osc(40, "lights", "/eos/cue/1/2/fire"),
        osc(50, "mixer", "/ch/03/mix/on", 0),
        osc(55, "lights", "/pyro", once=True),
        Dispatch(60, Event(60, BarBeat(1), Kind.MQTT, "fx", MqttAction("fx", "strobe", "on"))),
        osc(70, "lights", "/eos/cue/1/3/fire"),  # at the start bar: played, not rebuilt
    )
    rebuilt = state_rebuild(order, 70, {"lights": "last", "mixer": "per_address"})
    assert [(d.event.output, getattr(d.event.payload, "address", None), getattr(d.event.payload, "args", None)) for d in rebuilt] == [
        ("", None, None),  # the section
        ("mixer", "/ch/04/mix/on", (0,)),
        ("lights", "/eos/cue/1/2/fire", ()),
        ("mixer", "/ch/03/mix/on", (0,)),
    ]
