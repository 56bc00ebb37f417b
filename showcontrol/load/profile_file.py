"""Read a device profile (hardware/profiles/NAME.yaml) named by a patch output's `profile:`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from showcontrol.errors import quoted
from showcontrol.load.cue_reader import osc_address_ok
from showcontrol.load.profile_actions import FIELD
from showcontrol.load.profile_params import IN_PATHS, PARAM_TYPES, inferred_type
from showcontrol.load.reader import AnyKey, Fields, Node, Reader, compose_file
from showcontrol.model.profile import Keepalive, Profile, ProfileAction

PROFILE_KEYS = ("profile", "type", "description", "port", "tcp_port", "keepalive", "on_locate", "actions")
ON_LOCATE = ("none", "last", "per_address")
ACTION_KEYS = {
    "osc": ("address", "args"),
    "midi": ("channel", "note_on", "note_off", "cc", "program", "msc"),
    "mqtt": ("topic", "payload", "qos", "retain"),
}
BUILT_IN = Path(__file__).resolve().parents[2] / "hardware" / "profiles"


def profile_path(name: str, patch_path: Path | None) -> Path | None:
    """A profile next to the patch (profiles/NAME.yaml), else one shipped in hardware/profiles."""
    folders = [patch_path.parent / "profiles", patch_path.parent] if patch_path is not None else []
    for folder in (*folders, BUILT_IN):
        if (candidate := folder / f"{name}.yaml").is_file():
            return candidate
    return None


def available_profiles(patch_path: Path | None) -> list[str]:
    folders = [patch_path.parent / "profiles"] if patch_path is not None else []
    return sorted({p.stem for folder in (*folders, BUILT_IN) if folder.is_dir() for p in folder.glob("*.yaml")})


def load_profile(path: Path) -> tuple[Profile | None, Reader]:
    """The profile and the reader holding its problems (reported with the patch's)."""
    reader = Reader(path)
    root = compose_file(path, "device profile")
    top = reader.top(root, "a device profile", "the profile", PROFILE_KEYS, required=("profile", "type", "actions"))
    if top is None or "type" not in top or "actions" not in top:
        return None, reader
    kind = reader.choice(top.get("type") or root, "profile type", tuple(ACTION_KEYS))
    name = reader.text(top.get("profile") or root, "profile name") or path.stem
    if kind is None:
        return None, reader
    port, tcp_port = (reader.integer(n, key, 1, 65535, 8000) if (n := top.get(key)) is not None else None for key in ("port", "tcp_port"))
    keepalive = _keepalive(reader, n) if (n := top.get("keepalive")) is not None else None
    actions = {}
    actions_node = top.get("actions") or root
    if not isinstance(actions_node, yaml.MappingNode) or not actions_node.value:
        reader.problem(actions_node, "actions must map action names to messages", "e.g. actions: {go: {address: /go}}")
        return None, reader
    named = reader.fields(actions_node, "actions", AnyKey())
    for action_name, (_, value_node) in named.values.items() if named else ():
        fields = reader.fields(value_node, f"action {quoted(action_name)}", (*ACTION_KEYS[kind], "defaults", "params"))
        if fields is None:
            continue
        template = {key: reader.plain(value) for key, (_, value) in fields.values.items() if key not in ("defaults", "params")}
        defaults = reader.plain(n) if (n := fields.get("defaults")) is not None else {}
        if not isinstance(defaults, dict):
            reader.problem(fields.get("defaults") or value_node, "defaults must map parameter names to values", "e.g. defaults: {list: 1}")
            continue
        if (params := _params(reader, fields, template, action_name)) is None:
            return None, reader  # the profile is unsafe to use: its output's cues are not reported one by one
        actions[action_name] = ProfileAction(action_name, template, defaults, params)
    description = (reader.text(n, "description") if (n := top.get("description")) is not None else None) or ""
    on_locate = (reader.choice(n, "on_locate", ON_LOCATE) or "none") if (n := top.get("on_locate")) is not None else "none"
    return Profile(name, kind, path, description, port, tcp_port, keepalive, actions, on_locate), reader


def _params(reader: Reader, fields: Fields, template: dict[str, Any], action: str) -> dict[str, str] | None:
    """Each parameter's type: as `params:` declares it, else inferred from its field's format; a `text` parameter
    in an address or topic is refused (it could hold `/` or `..`)."""
    node = fields.get("params")
    declared = reader.plain(node) if node is not None else {}
    example = "e.g. params: {cue: number, list: integer}"
    if not isinstance(declared, dict):
        reader.problem(node or fields.node, "params must map parameter names to types", example)
        return None
    types: dict[str, str] = {}
    for name, kind in declared.items():
        if kind not in PARAM_TYPES:
            reader.problem(
                node or fields.node, f"parameter {quoted(str(name))} has no type {quoted(str(kind))}", f"types: {', '.join(PARAM_TYPES)}"
            )
            return None
        types[str(name)] = kind
    for key, value in template.items():
        for match in FIELD.finditer(str(value)):
            kind = types.setdefault(match[1], inferred_type(match[2]))
            if kind == "text" and key in IN_PATHS:
                reader.problem(
                    node or fields.node,
                    f"action {quoted(action)}: the text parameter {match[1]!r} is part of its {key}",
                    "a path on the device takes a number, integer or name (no '/', spaces or '..')",
                )
                return None
    return types


def _keepalive(reader: Reader, node: Node) -> Keepalive | None:
    fields = reader.fields(node, "keepalive", ("address", "every_s"), required=("address", "every_s"))
    if fields is None or "address" not in fields or "every_s" not in fields:
        return None
    address = reader.text(fields.get("address") or node, "keepalive address")
    if address is not None and not osc_address_ok(address):
        reader.problem(
            fields.get("address") or node, f"keepalive address {quoted(address)} is not an OSC address", "e.g. address: /xremote"
        )
        address = None
    every = reader.number(fields.get("every_s") or node, "keepalive every_s", 0.5, 3600, "9")
    return Keepalive(address, float(every)) if address and every else None
