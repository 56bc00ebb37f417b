"""Reading cues from a show's YAML: when, and the OSC, MIDI (MSC included) and MQTT actions they fire,
with a patch's device profiles expanding their short actions into the same readers."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping

import yaml

from showcontrol.codec import msc
from showcontrol.codec.osc import encode as encode_osc
from showcontrol.errors import quoted
from showcontrol.load.limits import MAX_OSC_BYTES
from showcontrol.load.profile_actions import expand
from showcontrol.load.reader import NULL_TAG, Fields, Node, Reader, suggestion
from showcontrol.model.profile import Profile
from showcontrol.model.show import MIDI_KINDS, Action, Cue, MidiAction, MqttAction, OscAction

CUE_KEYS = ("at", "name", "once", "notes", "osc", "midi", "mqtt")


OSC_KEYS = ("to", "address", "args")


MIDI_KEYS = ("to", "channel", "note_on", "note_off", "cc", "program", "msc")


MSC_KEYS = ("command", "cue", "list", "path", "device", "format", "macro", "control", "value", "timecode")


MSC_EXAMPLE = "e.g. msc: {command: go, cue: 12.5, list: 1}"


MQTT_KEYS = ("to", "topic", "payload", "qos", "retain")


_OSC_ADDRESS = re.compile(r"^/[^\s#*,?\[\]{}\x00-\x1f\x7f-\U0010ffff]*$")  # printable ASCII, no space, no pattern characters


def read_cue(reader: Reader, node: Node, profiles: Mapping[str, Profile], patch_unsure: bool = False) -> Cue | None:
    """A cue. With `patch_unsure` (the patch has problems, already reported) a key that may be a profile action of
    it is taken unread, not reported as unknown once per cue: the cause is the patch."""
    allowed, actions_of_the_patch = [*CUE_KEYS, *profiles], [*profiles]
    if patch_unsure and isinstance(node, yaml.MappingNode):
        unsure = [k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode) and k.value not in allowed]
        allowed, actions_of_the_patch = [*allowed, *unsure], [*actions_of_the_patch, *unsure]
    fields = reader.fields(node, "cue", allowed, required=("at",))
    if fields is None or "at" not in fields:
        return None
    at = reader.position(fields.get("at") or node, "cue at")
    name = (reader.text(n, "cue name") if (n := fields.get("name")) is not None else None) or ""
    once = bool(reader.boolean(n, "once")) if (n := fields.get("once")) is not None else False
    actions: list[Action] = []
    for kind, read in (("osc", _osc), ("midi", _midi), ("mqtt", _mqtt)):
        if (value := fields.get(kind)) is None:
            continue
        for action_node in _action_nodes(reader, kind, value):
            if (action := read(reader, action_node)) is not None:
                actions.append(action)
    for output, profile in profiles.items():
        if (value := fields.get(output)) is None:
            continue
        for action_node in _action_nodes(reader, output, value):
            expanded = expand(reader, output, profile, action_node)
            if expanded is not None and (action := ACTION_READERS[profile.kind](reader, expanded)) is not None:
                actions.append(action)
    misspelt = isinstance(node, yaml.MappingNode) and len(node.value) > len(fields.values)  # already reported
    if not misspelt and not any(kind in fields for kind in ("osc", "midi", "mqtt", *actions_of_the_patch)):
        hint = f"add osc:, midi: or mqtt: with what to send{', or a profile action such as ' + next(iter(profiles)) + ': ...' if profiles else ''}"
        reader.problem(node, "this cue does nothing", hint)
    if at is None:
        return None
    return Cue(at, tuple(actions), name, once, reader.mark(node))


def _action_nodes(reader: Reader, key: str, value: Node) -> list[Node]:
    """One action, or a list of them; an empty list is a mistake (the cue would silently send nothing)."""
    if not isinstance(value, yaml.SequenceNode):
        return [value]
    if not value.value:
        reader.problem(value, f"{key}: is an empty list, so this cue sends nothing", f"give {key}: what to send, or remove it")
    return list(value.value)


def _target(reader: Reader, fields: Fields) -> str | None:
    node = fields.get("to")
    return reader.text(node, "to") if node is not None else None


def _osc(reader: Reader, node: Node) -> OscAction | None:
    fields = reader.fields(node, "osc action", OSC_KEYS, required=("to", "address"))
    if fields is None or "address" not in fields:
        return None
    address = reader.text(fields.get("address") or node, "OSC address")
    if address is not None and not osc_address_ok(address):
        reader.problem(
            fields.get("address") or node,
            f"OSC address {quoted(address)} is not valid",
            "start with '/', printable ASCII without spaces or # * , ? [ ] { }, e.g. /eos/cue/1/5/fire",
        )
        address = None
    args: list[int | float | str | bool] = []
    if (n := fields.get("args")) is not None:
        for item in n.value if isinstance(n, yaml.SequenceNode) else [n]:
            value = reader.plain(item)
            if isinstance(value, str) and "\0" in value:
                reader.problem(item, "an OSC text argument cannot hold a NUL character (it ends OSC strings)", "remove the \\0")
            elif isinstance(value, int | float | str | bool):
                args.append(value)
            elif value is not None or item.tag == NULL_TAG:
                reader.problem(item, f"OSC argument {_shown_value(value)} is not a number, text or true/false", "e.g. args: [1, 0.5, go]")
    target = _target(reader, fields)
    if target is None or address is None:
        return None
    action = OscAction(target, address, tuple(args), reader.mark(node))
    try:
        size = len(encode_osc(action))
    except Exception as error:  # python-osc raises assorted types (BuildError, OverflowError, ParseError): what `prepare` would meet
        reader.problem(node, f"this OSC message cannot be encoded: {error}", "OSC integers are 64-bit at most, floats 32-bit")
        return None
    if size > MAX_OSC_BYTES:
        reader.problem(
            node,
            f"this OSC message is {size:,} bytes; one UDP datagram carries {MAX_OSC_BYTES:,}",
            "send a shorter address or fewer arguments",
        )
        return None
    return action


def osc_address_ok(address: str) -> bool:
    """OSC 1.0: an address is printable ASCII starting with '/', without the characters of patterns."""
    return _OSC_ADDRESS.match(address) is not None


def _shown_value(value: object) -> str:
    return "nothing" if value is None else quoted(json.dumps(value, default=str))


def _midi(reader: Reader, node: Node) -> MidiAction | None:
    fields = reader.fields(node, "midi action", MIDI_KEYS, required=("to",))
    if fields is None:
        return None
    channel = (reader.integer(n, "MIDI channel", 1, 16) or 1) if (n := fields.get("channel")) is not None else 1
    given = [key for key in ("note_on", "note_off", "cc", "program", "msc") if key in fields]
    if len(given) != 1:
        reader.problem(
            node,
            f"a midi action sends one message, found {len(given) or 'none'}",
            "use one of note_on: [60, 100], note_off: 60, cc: [7, 100], program: 5, msc: {command: go, cue: 1}",
        )
        return None
    key = given[0]
    if key == "msc":
        sysex = _msc(reader, fields.values["msc"][1])
        target = _target(reader, fields)
        return MidiAction(target, "sysex", channel, sysex, reader.mark(node)) if target and sysex else None
    value = fields.get(key)
    assert value is not None
    kind = {"note_on": "note_on", "note_off": "note_off", "cc": "control_change", "program": "program_change"}[key]
    assert kind in MIDI_KINDS
    items = value.value if isinstance(value, yaml.SequenceNode) else [value]
    expected = 1 if key == "program" else 2
    if len(items) not in ((1,) if key == "program" else (1, 2) if key.startswith("note") else (2,)):
        reader.problem(
            value, f"{key} takes {expected} number{'s' if expected > 1 else ''}", "e.g. note_on: [60, 100], cc: [7, 100], program: 5"
        )
        return None
    data = [reader.integer(item, f"{key} value", 0, 127) for item in items]
    if any(d is None for d in data):
        return None
    numbers = tuple(d for d in data if d is not None)
    if key.startswith("note") and len(numbers) == 1:
        numbers = (numbers[0], 100 if key == "note_on" else 0)
    target = _target(reader, fields)
    return MidiAction(target, kind, channel, numbers, reader.mark(node)) if target else None


def _msc(reader: Reader, node: Node) -> tuple[int, ...] | None:
    """A MIDI Show Control message, checked by the encoder itself so the show file and the wire agree."""
    fields = reader.fields(node, "msc message", MSC_KEYS, required=("command",))
    if fields is None or "command" not in fields:
        return None
    texts = {
        key: reader.text(n, f"msc {key}")
        for key in ("command", "cue", "list", "path", "format", "timecode")
        if (n := fields.get(key)) is not None
    }
    numbers = {
        key: reader.integer(n, f"msc {key}", 0, high)
        for key, high in (("device", 127), ("macro", 127), ("control", 16383), ("value", 16383))
        if (n := fields.get(key)) is not None
    }
    if None in texts.values() or None in numbers.values():
        return None
    command = str(texts["command"]).lower().replace(" ", "_").replace("-", "_")
    if command not in msc.COMMANDS:
        hint = suggestion(command, msc.COMMANDS) or f"one of {', '.join(msc.COMMANDS)}"
        reader.problem(fields.values["command"][1], f"unknown MSC command {texts['command']!r}", hint)
        return None
    timecode = None
    if "timecode" in texts:
        parts = re.fullmatch(r"(\d{1,2}):(\d{2}):(\d{2})[:;.](\d{2})(?:\.(\d{1,2}))?", str(texts["timecode"]))
        if parts is None:
            reader.problem(
                fields.values["timecode"][1], f"msc timecode {texts['timecode']!r} is not HH:MM:SS:FF", "e.g. timecode: 01:00:10:00"
            )
            return None
        timecode = tuple(int(g or 0) for g in parts.groups())
        if not (timecode[0] < 24 and timecode[1] < 60 and timecode[2] < 60 and timecode[3] < 30 and timecode[4] < 100):
            reader.problem(
                fields.values["timecode"][1],
                f"msc timecode {texts['timecode']!r} does not exist",
                "hours 0-23, minutes and seconds 0-59, frames 0-29, e.g. timecode: 01:00:10:00",
            )
            return None
    try:
        message = msc.msc(
            command,
            cue=texts.get("cue"),
            cue_list=texts.get("list"),
            cue_path=texts.get("path"),
            device_id=msc.ALL_CALL if numbers.get("device") is None else int(numbers["device"] or 0),
            command_format=str(texts.get("format", "lighting")).lower().replace(" ", "_"),
            timecode=timecode,
            control=numbers.get("control"),
            value=numbers.get("value"),
            macro=numbers.get("macro"),
        )
    except ValueError as error:
        reader.problem(node, str(error), MSC_EXAMPLE)
        return None
    return tuple(message)


def _mqtt(reader: Reader, node: Node) -> MqttAction | None:
    fields = reader.fields(node, "mqtt action", MQTT_KEYS, required=("to", "topic"))
    if fields is None or "topic" not in fields:
        return None
    topic = reader.text(fields.get("topic") or node, "MQTT topic")
    if topic is not None and (problem := topic_problem(topic)):
        reader.problem(
            fields.get("topic") or node, f"MQTT topic {quoted(topic)} {problem}", "publish to a concrete topic, e.g. fx/confetti"
        )
        topic = None
    payload = reader.payload(n) if (n := fields.get("payload")) is not None else ""
    qos = reader.integer(n, "qos", 0, 2) if (n := fields.get("qos")) is not None else 0
    retain = bool(reader.boolean(n, "retain")) if (n := fields.get("retain")) is not None else False
    target = _target(reader, fields)
    if target is None or topic is None or payload is None:
        return None
    return MqttAction(target, topic, payload, qos or 0, retain, reader.mark(node))


def topic_problem(topic: str) -> str | None:
    """What makes a topic one a broker refuses to take a publication on (MQTT 3.1.1, 4.7), or None."""
    if set(topic) & {"+", "#"}:
        return "contains a wildcard (+ and # are for subscribing)"
    if topic.startswith("$"):
        return "starts with $, which brokers keep for themselves"
    return None


ACTION_READERS: dict[str, Callable[[Reader, Node], Action | None]] = {"osc": _osc, "midi": _midi, "mqtt": _mqtt}
