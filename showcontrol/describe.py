"""Events as words and as plain data: for tables, traces and logs (one wording everywhere)."""

from __future__ import annotations

from typing import Any

from showcontrol.model.show import Lyric, MidiAction, MqttAction, OscAction, Section
from showcontrol.timeline.events import ClickHit, Event, Kind, SyncMessage
from showcontrol.timeline.tempo import Rate


def message_text(event: Event) -> str:
    payload = event.payload
    if isinstance(payload, OscAction):
        return " ".join([payload.address, *(str(a) for a in payload.args)])
    if isinstance(payload, MidiAction):
        if payload.kind == "sysex":
            return "sysex " + bytes(payload.data).hex(" ")
        return f"{payload.kind} ch{payload.channel} " + " ".join(map(str, payload.data))
    if isinstance(payload, MqttAction):
        flags = "".join([f" qos{payload.qos}" if payload.qos else "", " retain" if payload.retain else ""])
        return f"{payload.topic} {payload.payload}{flags}"
    if isinstance(payload, Section):
        return payload.name
    if isinstance(payload, Lyric):
        who = f"[{payload.performer}] " if payload.performer else ""
        return f"{who}breathe before: {payload.text}" if event.kind is Kind.BREATH else f"{who}{payload.text}"
    if isinstance(payload, SyncMessage):
        return f"{payload.stream} {payload.detail} [{payload.data.hex(' ')}]"
    if isinstance(payload, ClickHit):
        return payload.sound + (f" '{payload.count}'" if payload.count is not None else "") + (f" '{payload.call}'" if payload.call else "")
    return event.kind.value


def message_data(event: Event) -> dict[str, Any]:
    """The message as JSON-ready data, precise enough to compare traces exactly."""
    payload = event.payload
    if isinstance(payload, OscAction):
        return {"address": payload.address, "args": list(payload.args)}
    if isinstance(payload, MidiAction):
        return {"type": payload.kind, "channel": payload.channel, "data": list(payload.data)}
    if isinstance(payload, MqttAction):
        return {"topic": payload.topic, "payload": payload.payload, "qos": payload.qos, "retain": payload.retain}
    if isinstance(payload, Section):
        return {"section": payload.name}
    if isinstance(payload, Lyric):
        data: dict[str, Any] = {"text": payload.text}
        if payload.performer:
            data["performer"] = payload.performer
        return data
    if isinstance(payload, SyncMessage):
        return {"stream": payload.stream, "bytes": payload.data.hex(" "), "detail": payload.detail}
    if isinstance(payload, SyncMessage):
        return {"stream": payload.stream, "bytes": payload.data.hex(" "), "detail": payload.detail}
    if isinstance(payload, ClickHit):
        return (
            {"sound": payload.sound}
            | ({"count": payload.count} if payload.count is not None else {})
            | ({"call": payload.call} if payload.call is not None else {})
        )
    return {}


def event_record(event: Event, sample_rate: Rate, origin_frame: int = 0) -> dict[str, Any]:
    """One trace line: where (frame in the output and on the song), when, what and to whom."""
    record: dict[str, Any] = {
        "frame": event.at_frame - origin_frame,
        "song_frame": event.at_frame,
        "time": round(float(event.at_frame / sample_rate), 6),
        "position": f"{event.position.bar}.{event.position.beat}.{event.position.tick}",
        "kind": event.kind.value,
        "output": event.output,
        "message": message_data(event),
    }
    if event.cue_name:
        record["cue"] = event.cue_name
    if event.once:
        record["once"] = True
    return record


def clock_text(seconds: float) -> str:
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    return f"{sign}{int(seconds // 60)}:{seconds % 60:06.3f}"
