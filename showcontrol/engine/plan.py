"""Where playback starts and in which order events are dispatched: pure functions of the timeline."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Generic, TypeVar, overload

import numpy as np

from showcontrol.audio.click import ClickSounds, render_click
from showcontrol.audio.mix import Stem, fit_channels
from showcontrol.model.position import BarBeat
from showcontrol.model.show import CountIn, MidiAction, MqttAction, OscAction, Song
from showcontrol.timeline.clicks import count_in_events
from showcontrol.timeline.compile import feeds
from showcontrol.timeline.events import Event, Kind, Timeline


@dataclass(frozen=True)
class StartPlan:
    """Play from `start_frame`; before `song_from_frame` only each feed's `count_in` sounds (none from the top)."""

    start_frame: int
    song_from_frame: int
    count_in: Mapping[str, Stem]
    count_in_events: tuple[Event, ...]


@dataclass(frozen=True)
class FeedCountIn:
    """How one earpiece feed counts in: its bars and voice, its level, and how many channels it plays on (0: none)."""

    feed: str
    count_in: CountIn
    gain: float
    channels: int


def feed_count_ins(song: Song, routes: Mapping[str, tuple[int, ...]], count_in_bars: int | None) -> list[FeedCountIn]:
    """Each feed's count-in for a start from a later bar (unrouted ones still time the pre-roll);
    `count_in_bars` overrides every feed's bars."""
    return [
        FeedCountIn(
            feed,
            count_in if count_in_bars is None else replace(count_in, bars=count_in_bars),
            10 ** (click.level_db / 20),
            len(routes.get(feed, ())),
        )
        for feed, click, count_in in feeds(song)
    ]


def plan_start(timeline: Timeline, start: BarBeat, feeds: Sequence[FeedCountIn], sounds: ClickSounds) -> StartPlan:
    """From the top (bar 1 beat 1), play as rendered (the track's pickup under the count-in); from a later
    beat (`timeline.start.resolve_start`), each feed's count-in at its bar's tempo as pre-roll, ending exactly
    on that beat's frame, the longest deciding where playback starts."""
    if start <= BarBeat(1):
        return StartPlan(timeline.start_frame, timeline.start_frame, {}, ())
    song_from = timeline.tempo.frame(start, timeline.sample_rate)
    per_feed = {f.feed: count_in_events(timeline.tempo, start, f.count_in, timeline.sample_rate, f.feed) for f in feeds}
    events = tuple(sorted((e for hits in per_feed.values() for e in hits), key=lambda e: e.at_frame))
    if not events:
        return StartPlan(song_from, song_from, {}, ())
    first = events[0].at_frame
    stems = {}
    for feed in (f for f in feeds if f.channels):
        samples = np.zeros(song_from - first, np.float32)
        render_click(per_feed[feed.feed], first, samples, sounds, feed.gain)
        stems[feed.feed] = Stem(first, fit_channels(samples[:, None], feed.channels))
    return StartPlan(first, song_from, stems, events)


STATE_KINDS = frozenset({Kind.SECTION, Kind.LYRIC, Kind.BREATH, Kind.BEAT, Kind.END})
REBUILT_STATE_KINDS = (Kind.SECTION, Kind.LYRIC, Kind.BREATH)  # what a located start puts back on monitors


M = TypeVar("M", covariant=True)  # the message an output prepared; the engine never looks inside it


@dataclass(frozen=True, slots=True)
class Dispatch(Generic[M]):
    """An event with the song frame its output must be sent at, earlier by that output's latency, and the
    message that output prepared for it once, before playback (None: nothing to send, as for state)."""

    send_frame: int
    event: Event
    message: M | None = None


def no_message(event: Event) -> None:
    """The order's default: nothing prepared (the engine's own use, a render, a test without outputs)."""
    return None


@overload
def dispatch_order(timeline: Timeline, latency_frames: Mapping[str, int]) -> tuple[Dispatch[None], ...]: ...
@overload
def dispatch_order(
    timeline: Timeline, latency_frames: Mapping[str, int], prepare: Callable[[Event], M | None]
) -> tuple[Dispatch[M], ...]: ...
def dispatch_order(
    timeline: Timeline, latency_frames: Mapping[str, int], prepare: Callable[[Event], object] = no_message
) -> tuple[Dispatch[object], ...]:
    """Every event, ordered by when it must be sent (per-output latency compensation applied), with the
    message `prepare` builds for it (app/version.py: its output's wire form).

    Clicks are in the audio already, so they are left out; beats are dispatched as state for monitors.
    On one frame, messages go before state: a console's cue is what a late message ruins, while a
    monitor's bar and lyric are shown for a beat or more (and each state event is a message per output).
    """
    items = [Dispatch(e.at_frame - latency_frames.get(e.output, 0), e, prepare(e)) for e in timeline.events if e.kind is not Kind.CLICK]
    items.sort(key=lambda d: (d.send_frame, d.event.kind in STATE_KINDS))  # stable: otherwise in timeline order
    return tuple(items)


def start_index(order: tuple[Dispatch[object], ...], song_from_frame: int, max_latency_frames: int) -> int:
    """Where a cursor starting at `song_from_frame` begins; it must still skip events before that frame."""
    return bisect.bisect_left(order, song_from_frame - max_latency_frames, key=lambda d: d.send_frame)


def state_rebuild(order: tuple[Dispatch[M], ...], begin_frame: int, on_locate: Mapping[str, str]) -> tuple[Dispatch[M], ...]:
    """What puts every output where it would be at `begin_frame` had the song played from the top.

    Monitors get the latest section, lyric and breath; an output whose policy is `last` gets its latest
    message (a console's current cue), `per_address` the latest on each address or topic (a mixer's
    mutes and faders). Never every trigger in between, and never a `once` cue.
    """
    latest: dict[tuple[object, ...], Dispatch[M]] = {}
    for item in order:
        event = item.event
        if event.at_frame >= begin_frame or event.once:
            continue
        if event.kind in REBUILT_STATE_KINDS:
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
