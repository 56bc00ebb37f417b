"""Where playback starts and in which order events are dispatched: pure functions of the timeline."""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from showcontrol.audio.click import ClickSounds, render_click
from showcontrol.audio.mix import Stem, fit_channels
from showcontrol.model.position import BarBeat
from showcontrol.model.show import MidiAction, MqttAction, OscAction
from showcontrol.timeline.compile import count_in_events
from showcontrol.timeline.events import Event, Kind, Timeline


@dataclass(frozen=True)
class StartPlan:
    """Play from `start_frame`; before `song_from_frame` only `count_in` sounds (None from the top of the song)."""

    start_frame: int
    song_from_frame: int
    count_in: Stem | None
    count_in_events: tuple[Event, ...]


def plan_start(
    timeline: Timeline, bar: int, count_in_bars: int, voice: bool, sounds: ClickSounds, gain: float, click_channels: int
) -> StartPlan:
    """From the top, play as rendered (the track's pickup under the count-in); from bar N, a count-in pre-roll."""
    if bar <= 1:
        return StartPlan(timeline.start_frame, timeline.start_frame, None, ())
    song_from = timeline.tempo.frame(BarBeat(bar), timeline.sample_rate)
    events = tuple(count_in_events(timeline.tempo, bar, count_in_bars, voice, timeline.sample_rate))
    if not events:
        return StartPlan(song_from, song_from, None, ())
    start = events[0].at_frame
    samples = np.zeros(song_from - start, np.float32)
    render_click(events, start, samples, sounds, gain)
    return StartPlan(start, song_from, Stem(start, fit_channels(samples[:, None], click_channels)), events)


@dataclass(frozen=True, slots=True)
class Dispatch:
    """An event with the song frame its output must be sent at, earlier by that output's latency."""

    send_frame: int
    event: Event


def dispatch_order(timeline: Timeline, latency_frames: Mapping[str, int]) -> tuple[Dispatch, ...]:
    """Every event, ordered by when it must be sent (per-output latency compensation applied).

    Clicks are in the audio already; they are dispatched too, but only as beat state for monitors.
    """
    items = [Dispatch(e.at_frame - latency_frames.get(e.output, 0), e) for e in timeline.events]
    items.sort(key=lambda d: d.send_frame)  # stable: same-frame events keep timeline order
    return tuple(items)


def start_index(order: tuple[Dispatch, ...], song_from_frame: int, max_latency_frames: int) -> int:
    """Where a cursor starting at `song_from_frame` begins; it must still skip events before that frame."""
    return bisect.bisect_left(order, song_from_frame - max_latency_frames, key=lambda d: d.send_frame)


STATE_KINDS = (Kind.SECTION, Kind.LYRIC, Kind.BREATH)


def state_rebuild(order: tuple[Dispatch, ...], begin_frame: int, on_locate: Mapping[str, str]) -> tuple[Dispatch, ...]:
    """What puts every output where it would be at `begin_frame` had the song played from the top.

    Monitors get the latest section, lyric and breath; an output whose policy is `last` gets its latest
    message (a console's current cue), `per_address` the latest on each address or topic (a mixer's
    mutes and faders). Never every trigger in between, and never a `once` cue.
    """
    latest: dict[tuple[object, ...], Dispatch] = {}
    for item in order:
        event = item.event
        if event.at_frame >= begin_frame or event.once:
            continue
        if event.kind in STATE_KINDS:
            latest[(event.kind,)] = item
        elif event.kind in (Kind.OSC, Kind.MIDI, Kind.MQTT):
            policy = on_locate.get(event.output, "none")
            if policy == "last":
                latest[(event.output,)] = item
            elif policy == "per_address":
                latest[(event.output, address_of(event.payload))] = item
    return tuple(sorted(latest.values(), key=lambda d: d.event.at_frame))


def address_of(action: object) -> object:
    """What one message sets: an OSC address, an MQTT topic, a MIDI note, controller or program slot."""
    if isinstance(action, OscAction):
        return action.address
    if isinstance(action, MqttAction):
        return action.topic
    if isinstance(action, MidiAction):
        kind = "note" if action.kind in ("note_on", "note_off") else action.kind
        return (kind, action.channel, action.data[0] if kind in ("note", "control_change") else None)
    return None
