"""Text for the operator: the `check` summary and the `timeline` listing in table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Collection, Iterable

from showcontrol.describe import clock_text, event_record, message_text
from showcontrol.load.show_file import LoadedShow
from showcontrol.model.patch import MidiOutput, MqttOutput, OscOutput, Output
from showcontrol.model.setlist import NO_GAP, Setlist
from showcontrol.model.show import ClickFeed
from showcontrol.model.timecode import count_to_label
from showcontrol.timeline.events import Kind, Timeline
from showcontrol.timeline.tracks import TrackPlacement

ACTION_KINDS = (Kind.OSC, Kind.MIDI, Kind.MQTT)


def describe_output(output: Output) -> str:
    if isinstance(output, OscOutput):
        return f"osc {output.transport} {output.host}:{output.port}"
    if isinstance(output, MidiOutput):
        return f"midi {'virtual ' if output.virtual else ''}port {output.port!r}"
    if isinstance(output, MqttOutput):
        return f"mqtt {output.host}:{output.port}{' tls' if output.tls else ''}"
    raise TypeError(output)


def feed_text(feed: ClickFeed) -> str:
    """`ava: 2 per beat, accents 1 3, count-in 2 bars spoken, calls`."""
    click, parts = feed.click, [f"{feed.click.level_db:g} dB"]
    if not click.enabled:
        return f"{feed.name}: off"
    if click.subdivide > 1:
        parts.append(f"{click.subdivide} per beat")
    if click.accents != (1,):
        parts.append(f"accents {' '.join(map(str, click.accents))}")
    if feed.count_in.bars:
        parts.append(f"count-in {feed.count_in.bars} bar(s){' spoken' if feed.count_in.voice else ''}")
    if click.calls is not None:
        parts.append("calls")
    return f"{feed.name}: {', '.join(parts)}"


def track_text(placement: TrackPlacement) -> str:
    """`midnight-drive.flac, downbeat on 9.1, stretched to 111.5 %, in at 9.1, out at the end`."""
    track = placement.track
    speed = f", stretched to {float(placement.speed) * 100:.1f} %" if placement.speed != 1 else ""
    gain = f", {track.gain_db:+g} dB" if track.gain_db else ""
    fade = f", {float(track.fade_s):g} s crossfades" if track.fade_s and (track.enter or track.leave) else ""
    return f"{track.audio.name}, downbeat on {track.at}{speed}{gain}, in at {track.enter or 'its start'}, out at {track.leave or 'its end'}{fade}"


def check_summary(loaded: LoadedShow) -> str:
    show, patch = loaded.show, loaded.show.patch
    lines = [f"{show.title} ({show.path})"]
    audio = patch.audio
    routes = ", ".join(f"{feed} {'+'.join(str(c + 1) for c in chans)}" for feed, chans in audio.routes.items())
    lines.append(f"patch: {patch.name}: {audio.channels} channels at {loaded.sample_rate} Hz ({routes})")
    for name, output in patch.outputs.items():
        lines.append(f"  {name}: {describe_output(output)}")
    lines.append(f"{len(show.songs)} song{'s' if len(show.songs) != 1 else ''}:")
    for song in show.songs:
        timeline = loaded.timelines[song.id]
        per_output = Counter(e.output for e in timeline.of_kind(*ACTION_KINDS))
        cues = ", ".join(f"{name} {count}" for name, count in sorted(per_output.items())) or "none"
        meters: list[str] = []
        for change in song.tempo:
            label = f"{change.meter} ♩={float(change.quarter_bpm):g}" + (
                f" (ramp over {change.ramp_bars} bars)" if change.ramp_bars else ""
            )
            if not meters or meters[-1] != label:
                meters.append(label)
        lines.append(
            f"  {song.id}: {song.title!r}, {clock_text(float(timeline.end_frame / timeline.sample_rate))}, {timeline.last_bar} bars"
            f"{', count-in ' + str(song.count_in.bars) + ' bar(s)' if song.count_in.bars else ''}"
        )
        lines.append(f"    tempo: {' → '.join(meters)}")
        if song.click_feeds:
            lines.append(f"    click feeds: {'; '.join(feed_text(f) for f in song.click_feeds)}")
        if len(timeline.tracks) > 1 or any(t.speed != 1 for t in timeline.tracks):
            lines.extend(f"    track: {track_text(t)}" for t in timeline.tracks)
        lines.append(f"    sections: {', '.join(s.name for s in song.sections) or 'none'}")
        lines.append(
            f"    cues per output: {cues}; lyrics {len(timeline.of_kind(Kind.LYRIC))}, breaths {len(timeline.of_kind(Kind.BREATH))}"
        )
        if timeline.ltc:
            start = count_to_label(timeline.ltc.start_count, timeline.ltc.rate).format(timeline.ltc.rate.drop)
            lines.append(f"    timecode: {timeline.ltc.rate.name} fps from {start}")
        if (own := patch.songs.get(song.id)) is not None:
            routed = ", ".join(f"{feed} {'+'.join(str(c + 1) for c in chans) or 'none'}" for feed, chans in own.routes.items())
            lines.append(f"    patch for this song: {routed or 'routes as above'}; own outputs: {', '.join(own.outputs) or 'none'}")
    lines.append(f"set list: {setlist_text(show.setlist)}")
    return "\n".join(lines)


def setlist_text(setlist: Setlist) -> str:
    """`intro, hit → 2 bars → finale`: the play order, an arrow where one song follows into the next by itself."""
    text = ""
    for index, entry in enumerate(setlist):
        text += entry.song_id
        if entry.follow:
            text += f" → {entry.gap} → " if entry.gap != NO_GAP else " → "
        elif setlist.after(index) is not None:
            text += ", "
    return text


COLUMNS = ("position", "time", "frame", "kind", "output", "message")


def _rows(timelines: Iterable[Timeline], hidden: Collection[Kind]) -> Iterable[tuple[str, ...]]:
    for timeline in timelines:
        for event in timeline.events:
            if event.kind in hidden:
                continue
            p = event.position
            yield (
                f"{p.bar}.{p.beat}.{p.tick:03d}",
                clock_text(float(event.at_frame / timeline.sample_rate)),
                str(event.at_frame),
                event.kind.value,
                event.output,
                message_text(event),
            )


def timeline_text(timelines: list[Timeline], fmt: str, hidden: Collection[Kind] = ()) -> str:
    """The events of each timeline as a table, CSV or JSON, leaving out the kinds in `hidden` (clicks, sync)."""
    if fmt == "json":
        return json.dumps(
            [
                {
                    "song": t.song_id,
                    "sample_rate": t.sample_rate,
                    "events": [event_record(e, t.sample_rate) for e in t.events if e.kind not in hidden],
                }
                for t in timelines
            ],
            indent=1,
            ensure_ascii=False,
        )
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(("song", *COLUMNS))
        for timeline in timelines:
            writer.writerows((timeline.song_id, *row) for row in _rows([timeline], hidden))
        return buffer.getvalue().rstrip("\n")
    parts = []
    for timeline in timelines:
        rows = [COLUMNS, *_rows([timeline], hidden)]
        widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS) - 1)]
        parts.append(f"== {timeline.song_id} ({float(timeline.sample_rate):g} frames per song second)")
        parts.extend("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1] for row in rows)
    return "\n".join(parts)
