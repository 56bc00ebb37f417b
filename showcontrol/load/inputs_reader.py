"""The patch's `inputs:` section (remote control) into model.inputs; problems with their file:line:col."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

import yaml

from showcontrol.load.reader import Node, Reader
from showcontrol.model.inputs import LOOPBACK, Inputs, MqttInput, Network, OscInput
from showcontrol.model.patch import MqttOutput, Output

INPUT_KEYS = ("osc", "mqtt")


def read_inputs(reader: Reader, node: Node, outputs: Mapping[str, Output]) -> Inputs:
    """`inputs: {osc: {port: 53100, transport: [udp, tcp], allow: [10.0.0.0/24]}, mqtt: {output: monitors}}`."""
    fields = reader.fields(node, "inputs", INPUT_KEYS)
    if fields is None:
        return Inputs()
    osc = _osc(reader, n) if (n := fields.get("osc")) is not None else None
    mqtt = _mqtt(reader, n, outputs) if (n := fields.get("mqtt")) is not None else None
    return Inputs(osc, mqtt)


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
        reader.problem(output_node, f"{name!r} is not an MQTT output of this patch", f"use one of: {', '.join(brokers) or 'none (add one)'}")
        return None
    token_env = reader.text(n, "token_env") if (n := fields.get("token_env")) is not None else None
    return MqttInput(name, token_env) if name is not None else None
