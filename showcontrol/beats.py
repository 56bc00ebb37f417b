"""What a performer's monitor shows, as the monitors' messages (codec/monitor.py), from the timeline (pure).

Every click (beat) gets a summary computed once: where we are (bar, beat, downbeat, section, timecode),
the lyric being sung and the next one, how many beats until the next breath mark, and the next cue with
its distance in seconds. The engine publishes it on the beat; a monitor only draws it and counts down.
"""

from __future__ import annotations

import bisect

from showcontrol.codec import monitor as wire
from showcontrol.describe import message_text
from showcontrol.model.show import Lyric, Section
from showcontrol.model.timecode import count_to_label
from showcontrol.timeline.events import ClickHit, Event, Kind, Timeline

BREATH_WARNING_BEATS = 4  # show the breath countdown this many beats ahead


def beat_states(timeline: Timeline) -> dict[int, wire.Position]:
    """Song frame of each beat -> the monitor state from that beat on."""
    clicks = timeline.of_kind(Kind.BEAT)  # the grid's pulses, whatever clicks performers hear
    beat_frames = [e.at_frame for e in clicks]
    lyrics = timeline.of_kind(Kind.LYRIC)
    breaths = timeline.of_kind(Kind.BREATH)
    performers = sorted({e.payload.performer for e in lyrics if isinstance(e.payload, Lyric) and e.payload.performer})
    parts = {who: (_sung_by(lyrics, who), _sung_by(breaths, who)) for who in performers}
    sections = timeline.of_kind(Kind.SECTION)
    cues = timeline.of_kind(Kind.OSC, Kind.MIDI, Kind.MQTT)
    states = {}
    for click in clicks:
        frame = click.at_frame
        states[frame] = wire.Position(
            bar=click.position.bar,
            beat=click.position.beat,
            downbeat=_is_downbeat(click),
            section=_latest_name(sections, frame),
            timecode=timecode_text(timeline, frame),
            lines=_lines(lyrics, breaths, beat_frames, frame),
            next_cue=_cue(timeline, frame, _next(cues, frame)),
            parts={who: _lines(mine, breathing, beat_frames, frame) for who, (mine, breathing) in parts.items()} if parts else None,
        )
    return states


def state_message(event: Event) -> wire.Message | None:
    """What an event of the timeline tells the monitors by itself (None: nothing). The position it gives
    is the bare beat: the engine sends the beat's summary from `beat_states` instead where it has one."""
    payload, bar, beat = event.payload, event.position.bar, event.position.beat
    if isinstance(payload, Section):
        return wire.Section(payload.name, bar, beat)
    if isinstance(payload, Lyric):
        kind = wire.Breath if event.kind is Kind.BREATH else wire.Lyric
        return kind(payload.text, payload.performer, bar, beat)
    if isinstance(payload, ClickHit) and event.kind is Kind.BEAT:
        return wire.Position(bar, beat, payload.sound == "accent")
    if event.kind is Kind.END:
        return wire.Section("end", bar, beat)
    return None


def _is_downbeat(click: Event) -> bool:
    return isinstance(click.payload, ClickHit) and click.payload.sound == "accent"


def _lines(lyrics: tuple[Event, ...], breaths: tuple[Event, ...], beat_frames: list[int], frame: int) -> wire.Lines:
    """The line being sung and the next (with who sings them) and the beats to the next breath."""
    latest, following = _latest(lyrics, frame), _next(lyrics, frame)
    return wire.Lines(
        lyric=_text(latest),
        lyric_performer=_performer(latest),
        next_lyric=_text(following),
        next_lyric_performer=_performer(following),
        breath_in_beats=_beats_until(beat_frames, frame, _next(breaths, frame)),
    )


def _sung_by(events: tuple[Event, ...], performer: str) -> tuple[Event, ...]:
    """A performer's lyrics or breaths, with the lines that name nobody (everyone sings those)."""
    return tuple(e for e in events if isinstance(e.payload, Lyric) and e.payload.performer in (performer, None))


def _performer(event: Event | None) -> str:
    return event.payload.performer or "" if event is not None and isinstance(event.payload, Lyric) else ""


def _latest(events: tuple[Event, ...], frame: int) -> Event | None:
    index = bisect.bisect_right([e.at_frame for e in events], frame) - 1
    return events[index] if index >= 0 else None


def _next(events: tuple[Event, ...], frame: int) -> Event | None:
    index = bisect.bisect_right([e.at_frame for e in events], frame)
    return events[index] if index < len(events) else None


def _latest_name(sections: tuple[Event, ...], frame: int) -> str:
    event = _latest(sections, frame)
    return event.payload.name if event is not None and isinstance(event.payload, Section) else ""


def _text(event: Event | None) -> str:
    return event.payload.text if event is not None and isinstance(event.payload, Lyric) else ""


def _beats_until(beat_frames: list[int], frame: int, breath: Event | None) -> int | None:
    if breath is None:
        return None
    beats = bisect.bisect_left(beat_frames, breath.at_frame) - bisect.bisect_left(beat_frames, frame)
    return beats if 0 <= beats <= BREATH_WARNING_BEATS else None


def timecode_text(timeline: Timeline, frame: int) -> str:
    """The timecode label sounding at a song frame, as LTC says it ("" for a song without timecode)."""
    ltc = timeline.ltc
    if ltc is None:
        return ""
    count = ltc.start_count + int(frame * ltc.rate.fps / timeline.timecode_rate)
    return count_to_label(count, ltc.rate).format(ltc.rate.drop)


def _cue(timeline: Timeline, frame: int, cue: Event | None) -> wire.NextCue | None:
    if cue is None:
        return None
    return wire.NextCue(cue.cue_name or message_text(cue), round(float((cue.at_frame - frame) / timeline.sample_rate), 3))
