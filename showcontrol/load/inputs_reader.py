"""The patch's `inputs:` section (remote control) into model.inputs; problems with their file:line:col."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

import yaml

from showcontrol.control.commands import Reply, parse_command
from showcontrol.load.reader import Node, Reader
from showcontrol.model.inputs import LOOPBACK, Inputs, MidiInput, MidiMapping, MidiTrigger, MqttInput, Network, OscInput
from showcontrol.model.patch import MqttOutput, Output

INPUT_KEYS = ("osc", "mqtt", "midi")
TRIGGER = re.compile(r"^(note|cc|program) +([0-9]{1,3})(?:/([0-9]{1,2}))?$")


def read_inputs(reader: Reader, node: Node, outputs: Mapping[str, Output]) -> Inputs:
    """`inputs: {osc: {port: 53100, transport: [udp, tcp], allow: [10.0.0.0/24]}, mqtt: {output: monitors}}`."""
    fields = reader.fields(node, "inputs", INPUT_KEYS)
    if fields is None:
        return Inputs()
    osc = _osc(reader, n) if (n := fields.get("osc")) is not None else None
    mqtt = _mqtt(reader, n, outputs) if (n := fields.get("mqtt")) is not None else None
    midi = _midi(reader, n) if (n := fields.get("midi")) is not None else None
    return Inputs(osc, mqtt, midi)


def _osc(reader: Reader, node: Node) -> OscInput | None:
    fields = reader.fields(node, "osc input", ("port", "transport", "allow", "framing"), required=("port",))
    if fields is None or (port_node := fields.get("port")) is None:
        return None
    port = reader.integer(port_node, "osc input port", 1, 65535, example=53100)
    transports: tuple[str, ...] = ("udp",)
    if (n := fields.get("transport")) is not None:
        names = [reader.choice(item, "osc input transport", ("udp", "tcp")) for item in _one_or_many(reader, n)]
        transports = tuple(dict.fromkeys(name for name in names if name)) or ("udp",)
    allow = _networks(reader, n) if (n := fields.get("allow")) is not None else LOOPBACK
    framing = (reader.choice(n, "framing", ("slip", "length")) or "slip") if (n := fields.get("framing")) is not None else "slip"
    return OscInput(port, transports, allow, framing) if port is not None else None


def _one_or_many(reader: Reader, node: Node) -> list[Node]:
    """A single value or a list of them (`transport: tcp`, `transport: [udp, tcp]`)."""
    return list(node.value) if isinstance(node, yaml.SequenceNode) else [node]


def _networks(reader: Reader, node: Node) -> tuple[Network, ...]:
    networks: list[Network] = []
    for item in _one_or_many(reader, node):
        text = reader.text(item, "allowed network")
        if text is None:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            reader.problem(item, f"{text!r} is not an address or a network", "give e.g. 10.0.0.0/24, 192.168.1.20 or ::1")
    return tuple(networks)


def _mqtt(reader: Reader, node: Node, outputs: Mapping[str, Output]) -> MqttInput | None:
    fields = reader.fields(node, "mqtt input", ("output", "token_env"), required=("output",))
    if fields is None or (output_node := fields.get("output")) is None:
        return None
    name = reader.text(output_node, "mqtt input output")
    brokers = [key for key, spec in outputs.items() if isinstance(spec, MqttOutput)]
    if name is not None and name not in brokers:
        reader.problem(
            output_node, f"{name!r} is not an MQTT output of this patch", f"use one of: {', '.join(brokers) or 'none (add one)'}"
        )
        return None
    token_env = reader.text(n, "token_env") if (n := fields.get("token_env")) is not None else None
    return MqttInput(name, token_env) if name is not None else None


def _midi(reader: Reader, node: Node) -> MidiInput | None:
    """`midi: {port: FCB1010, map: {note 36: go, cc 64: stop, program 3: locate 17, note 40/10: pause}, msc: {device: 1}}`."""
    fields = reader.fields(node, "midi input", ("port", "map", "msc"), required=("port",))
    if fields is None or (port_node := fields.get("port")) is None:
        return None
    port = reader.text(port_node, "midi input port")
    mappings = _mappings(reader, n) if (n := fields.get("map")) is not None else ()
    device = None
    if (n := fields.get("msc")) is not None and (msc := reader.fields(n, "msc", ("device",), required=("device",))) is not None:
        device = reader.integer(d, "msc device", 0, 126, example=1) if (d := msc.get("device")) is not None else None
    return MidiInput(port, mappings, device) if port is not None else None


def _mappings(reader: Reader, node: Node) -> tuple[MidiMapping, ...]:
    if not isinstance(node, yaml.MappingNode):
        reader.problem(node, "map must map MIDI messages to commands", "e.g. map: {note 36: go, cc 64: stop, program 3: locate 17}")
        return ()
    mappings = []
    for key_node, value_node in node.value:
        match = TRIGGER.match(str(key_node.value).strip())
        number = int(match.group(2)) if match else -1
        channel = int(match.group(3)) if match and match.group(3) else None
        if match is None or not 0 <= number <= 127 or (channel is not None and not 1 <= channel <= 16):
            reader.problem(
                key_node,
                f"{str(key_node.value)[:40]!r} is not a MIDI message to map",
                "write note N, cc N or program N (0-127), optionally /CHANNEL (1-16)",
            )
            continue
        text = reader.text(value_node, "a mapped command")
        if text is None:
            continue
        verb, *args = text.split()
        if isinstance(parsed := parse_command(verb, args), Reply):
            reader.problem(value_node, parsed.text, "e.g. go, stop, pause, locate 17, loop verse, tempo 80")
            continue
        mappings.append(MidiMapping(MidiTrigger(match.group(1), number, channel), verb.lower(), tuple(args)))
    return tuple(mappings)
