"""Load a venue's hardware patch (hardware/*.yaml) into a Patch."""

from __future__ import annotations

import ipaddress
import os
import re
import ssl
from collections.abc import Mapping
from pathlib import Path

import yaml

from showcontrol.errors import ShowFileError, quoted
from showcontrol.load.cue_reader import CUE_KEYS, topic_problem
from showcontrol.load.inputs_reader import read_inputs
from showcontrol.load.limits import MAX_FILE_BYTES
from showcontrol.load.profile_file import ON_LOCATE, available_profiles, load_profile, profile_path
from showcontrol.load.reader import NAME, AnyKey, Fields, Node, Reader, compose_file, suggestion
from showcontrol.model.inputs import Inputs
from showcontrol.model.patch import (
    AUDIO_FEEDS,
    MAIN_CLICK,
    OUTPUT_TYPES,
    AudioPatch,
    MidiOutput,
    MqttOutput,
    OscOutput,
    Output,
    Patch,
    SongPatch,
    TlsSettings,
)
from showcontrol.model.profile import Profile

SAMPLE_RATES = (44100, 48000, 88200, 96000)
COMMON_OUTPUT_KEYS = ("type", "latency_ms", "profile", "on_locate")
OUTPUT_KEYS = {
    "osc": (*COMMON_OUTPUT_KEYS, "host", "port", "transport", "framing", "bundles"),
    "midi": (*COMMON_OUTPUT_KEYS, "port", "virtual", "clock", "mtc"),
    "mqtt": (*COMMON_OUTPUT_KEYS, "host", "port", "username", "password_env", "tls", "client_id", "topic_prefix", "cue_connection"),
}

AUDIO_KEYS = ("device", "sample_rate", "channels", "routes", "output_latency_ms", "buffer_frames", "require", "backend", "ports")
INTERFACE_KEYS = tuple(key for key in AUDIO_KEYS if key != "routes")  # one interface for the whole run: no song sets these

DEFAULT_PATCH = Patch(None, "default (stereo track, no outputs)", AudioPatch(), {})


def load_patch(path: Path, reader: Reader | None = None) -> Patch | None:
    """Read a patch; problems go to `reader` (a fresh one for this file when not given). None if unusable."""
    root = compose_file(path, "patch file")
    reader = reader if reader is not None and reader.path == path else Reader(path)
    top = reader.top(root, "a patch", "the patch", ("version", "name", "audio", "outputs", "inputs", "songs"), required=("version",))
    if top is None:
        return None
    if (version := top.get("version")) is not None:
        reader.version(version)
    name_node = top.get("name")
    name = (reader.text(name_node, "name") if name_node is not None else None) or path.stem
    audio = (_audio(reader, n) if (n := top.get("audio")) is not None else None) or AudioPatch()
    outputs = _outputs(reader, n, "outputs", {}) if (n := top.get("outputs")) is not None else {}
    inputs = read_inputs(reader, n, outputs) if (n := top.get("inputs")) is not None else Inputs()  # remote control: docs/remote.md
    songs = _song_patches(reader, n, audio, outputs) if (n := top.get("songs")) is not None else {}
    return Patch(path, name, audio, outputs, inputs, songs)


def _outputs(reader: Reader, node: Node, what: str, taken: Mapping[str, Output]) -> dict[str, Output]:
    """Named outputs; a name already in `taken` (the patch's, another song's) is a problem: each is opened once."""
    if not isinstance(node, yaml.MappingNode):
        reader.problem(node, f"{what} must map names to devices", "e.g. outputs: {lights: {type: osc, host: 127.0.0.1, port: 8000}}")
        return {}
    outputs: dict[str, Output] = {}
    named = reader.fields(node, what, AnyKey())
    for output_name, (key_node, value_node) in named.values.items() if named else ():
        if not NAME.match(output_name) or output_name in CUE_KEYS:
            hint = (
                f"{output_name!r} is a key of cues: call it something else"
                if output_name in CUE_KEYS
                else "use letters, digits, '-' and '_', e.g. lights"
            )
            reader.problem(key_node, f"output name {quoted(output_name)} cannot be used in cues", hint)
        elif output_name in taken:
            reader.problem(
                key_node,
                f"output {output_name!r} is already defined at {taken[output_name].mark}",
                "an output is opened once for the whole run: define it once (under outputs: if several songs use it)",
            )
        elif (output := _output(reader, output_name, value_node)) is not None:
            outputs[output.name] = output
    return outputs


def _song_patches(reader: Reader, node: Node, audio: AudioPatch, outputs: dict[str, Output]) -> dict[str, SongPatch]:
    """`songs: {ID: {routes: ..., outputs: ...}}`: each song's own channels and outputs; the outputs join `outputs`."""
    songs: dict[str, SongPatch] = {}
    named = reader.fields(node, "songs", AnyKey())
    for song_id, (key_node, value_node) in named.values.items() if named else ():
        fields = reader.fields(value_node, f"songs: {song_id}", ("routes", "outputs", *INTERFACE_KEYS))
        if fields is None:
            continue
        for key in (key for key in INTERFACE_KEYS if key in fields):
            reader.problem(
                fields.values[key][0],
                f"song {song_id!r} cannot set its own {key}: the audio interface is opened once for the whole run",
                "set it under audio: for every song; a song may change routes: and add outputs:",
            )
        routes = _routes(reader, n, audio.channels, f"songs.{song_id}.routes") if (n := fields.get("routes")) is not None else {}
        own = _outputs(reader, n, f"songs: {song_id}: outputs", outputs) if (n := fields.get("outputs")) is not None else {}
        outputs.update(own)
        songs[song_id] = SongPatch(routes, tuple(own), reader.mark(key_node))
    return songs


def _audio(reader: Reader, node: Node) -> AudioPatch | None:
    fields = reader.fields(node, "audio", AUDIO_KEYS)
    if fields is None:
        return None
    device = reader.text(n, "audio device") if (n := fields.get("device")) is not None else None
    sample_rate = 48000
    if (n := fields.get("sample_rate")) is not None:
        rate = reader.integer(n, "sample_rate", 8000, 192000)
        if rate is not None and rate not in SAMPLE_RATES:
            reader.problem(n, f"sample_rate {rate} is not supported", f"use one of {', '.join(map(str, SAMPLE_RATES))}")
        sample_rate = rate or 48000
    channels = (reader.integer(n, "channels", 1, 64) or 2) if (n := fields.get("channels")) is not None else 2
    latency = float(reader.number(n, "output_latency_ms", 0, 1000, "5") or 0) if (n := fields.get("output_latency_ms")) is not None else 0.0
    buffer_frames = (reader.integer(n, "buffer_frames", 32, 8192) or 256) if (n := fields.get("buffer_frames")) is not None else 256
    routes_node = fields.get("routes")
    routes = _routes(reader, routes_node, channels) if routes_node is not None else {"track": tuple(range(min(2, channels)))}
    require = bool(reader.boolean(n, "require")) if (n := fields.get("require")) is not None else False
    backend = (reader.choice(n, "audio backend", AUDIO_BACKENDS) or "sdl") if (n := fields.get("backend")) is not None else "sdl"
    ports = _jack_ports(reader, n, channels, backend) if (n := fields.get("ports")) is not None else {}
    return AudioPatch(device, sample_rate, channels, routes, latency, buffer_frames, require, backend, ports)


AUDIO_BACKENDS = ("sdl", "jack")


def _jack_ports(reader: Reader, node: Node, channels: int, backend: str) -> dict[int, tuple[str, ...]]:
    """`ports: {1: system:playback_1, 3: [system:playback_3, recorder:in_1]}`: 1-based channel -> JACK ports."""
    if backend != "jack":
        reader.problem(node, "audio ports name JACK destinations, but the backend is not JACK", "add backend: jack, or remove ports")
        return {}
    fields = reader.fields(node, "audio ports", AnyKey())
    ports: dict[int, tuple[str, ...]] = {}
    for key, (key_node, value) in fields.values.items() if fields else []:
        if not key.isdigit() or not 1 <= int(key) <= channels:
            reader.problem(key_node, f"audio ports: {key!r} is not a channel of the interface", f"use channels 1 to {channels}")
            continue
        nodes = reader.items(value, f"ports.{key}") if isinstance(value, yaml.SequenceNode) else [value]
        if not nodes:
            reader.problem(value, f"audio ports: channel {key} lists no port", f"name its JACK port(s), or leave channel {key} out")
        names = []
        for name_node in nodes:
            name = reader.text(name_node, f"ports.{key}")
            if name and ":" not in name:
                reader.problem(
                    name_node,
                    f"audio ports: {name!r} is not a JACK port name",
                    "write it as client:port (`showcontrol devices` lists them)",
                )
            elif name:
                names.append(name)
        ports[int(key) - 1] = tuple(names)
    return ports


def _routes(reader: Reader, node: Node, channels: int, what: str = "routes") -> dict[str, tuple[int, ...]]:
    """Feeds to 0-based channels; `clicks: {ava: 5}` gives performers' click feeds ("click:ava") their own."""
    fields = reader.fields(node, what, (*AUDIO_FEEDS, "clicks"))
    routes: dict[str, tuple[int, ...]] = {}
    used: dict[int, str] = {}
    named = [(feed, value) for feed, (_, value) in fields.values.items() if feed != "clicks"] if fields else []
    if fields is not None and (clicks := fields.get("clicks")) is not None:
        performers = reader.fields(clicks, f"{what}.clicks", AnyKey())
        named += [(f"{MAIN_CLICK}:{name}", value) for name, (_, value) in performers.values.items()] if performers else []
    for feed, value in named:
        numbers = reader.items(value, f"{what}.{feed}") if isinstance(value, yaml.SequenceNode) else [value]
        picked = []
        for number_node in numbers:
            number = reader.integer(number_node, f"{what}.{feed} channel", 1, 64)
            if number is None:
                continue
            if number > channels:
                reader.problem(
                    number_node,
                    f"{what}.{feed} uses channel {number}, but the interface has {channels}",
                    f"use channels 1 to {channels}, or raise audio.channels",
                )
                continue
            if number in used:
                reader.warn(
                    number_node,
                    f"channel {number} carries both {used[number]} and {feed}",
                    "give each feed its own channel unless you mean to mix them",
                )
            used[number] = feed
            picked.append(number - 1)
        routes[feed] = tuple(picked)
    return routes


def _output(reader: Reader, name: str, node: Node) -> Output | None:
    if not isinstance(node, yaml.MappingNode):
        reader.problem(node, f"output {name!r} must be a mapping with a type", "e.g. {type: osc, host: 127.0.0.1, port: 8000}")
        return None
    type_node = next((v for k, v in node.value if k.value == "type"), None)
    if type_node is None:
        reader.problem(node, f"output {name!r} has no type", f"add type: one of {', '.join(OUTPUT_TYPES)}")
        return None
    kind = reader.choice(type_node, f"output {name!r} type", OUTPUT_TYPES)
    if kind is None:
        return None
    profile = _profile(reader, kind, n) if (n := next((v for k, v in node.value if k.value == "profile"), None)) is not None else None
    required = {"osc": ("host",) if profile and profile.port else ("host", "port"), "midi": ("port",), "mqtt": ("host",)}[kind]
    fields = reader.fields(node, f"{kind} output {name!r}", OUTPUT_KEYS[kind], required)
    if fields is None or any(key not in fields for key in required):
        return None
    mark = reader.mark(node)
    default_on_locate = profile.on_locate if profile else "none"
    on_locate = (reader.choice(n, "on_locate", ON_LOCATE) or "none") if (n := fields.get("on_locate")) is not None else default_on_locate
    latency = float(reader.number(n, "latency_ms", 0, 1000, "3") or 0) if (n := fields.get("latency_ms")) is not None else 0.0
    if kind == "osc":
        transport = _transport(reader, fields)
        default_port = (profile.tcp_port if transport == "tcp" else None) or profile.port if profile else None
        udp_or_tcp_port = (_port(reader, fields) or 0) if "port" in fields else default_port or 0
        framing = (reader.choice(n, "framing", ("length", "slip")) or "length") if (n := fields.get("framing")) is not None else "length"
        if "framing" in fields and transport != "tcp":
            reader.problem(fields.values["framing"][0], "framing only applies to OSC over TCP", "remove it, or set transport: tcp")
        bundles = bool(reader.boolean(n, "bundles")) if (n := fields.get("bundles")) is not None else False
        return OscOutput(name, _host(reader, fields), udp_or_tcp_port, transport, latency, mark, framing, bundles, profile, on_locate)
    if kind == "midi":
        port = reader.text(fields.get("port") or node, "MIDI port name") or ""
        virtual, clock, mtc = (
            bool(reader.boolean(n, key)) if (n := fields.get(key)) is not None else False for key in ("virtual", "clock", "mtc")
        )
        return MidiOutput(name, port, virtual, latency, mark, clock, mtc, profile, on_locate)
    return MqttOutput(
        name,
        _host(reader, fields),
        (_port(reader, fields) or 1883) if "port" in fields else 1883,
        _optional_text(reader, fields, "username"),
        _password_env(reader, fields),
        _tls(reader, n) if (n := fields.get("tls")) is not None else None,
        _optional_text(reader, fields, "client_id"),
        _topic_prefix(reader, fields),
        latency,
        mark,
        profile,
        on_locate,
        bool(reader.boolean(n, "cue_connection")) if (n := fields.get("cue_connection")) is not None else True,
    )


_NUMERIC = re.compile(r"^[\d.]+$")  # looks like an IPv4 address, so must be one (10.0.0.256 is a typo, not a name)
_HOST_NAME = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9_-]{1,63}(?<!-))*\.?$")


def _host(reader: Reader, fields: Fields) -> str:
    """A host name or IP address: what the output could never reach (`10.0.0.5:8000`, a space) is a load error."""
    node = fields.get("host")
    host = (reader.text(node, "host", limit=253) if node is not None else None) or ""
    if not host or (_HOST_NAME.match(host) and not _NUMERIC.match(host)):
        return host
    try:
        return str(ipaddress.ip_address(host.removeprefix("[").removesuffix("]")))
    except ValueError:
        pass
    assert node is not None
    name, colon, port = host.rpartition(":")
    if colon and port.isdigit() and name:
        reader.problem(node, f"host {quoted(host)} includes a port", f"write host: {name.strip('[]')} and port: {port}")
    else:
        reader.problem(node, f"host {quoted(host)} is not a host name or IP address", "e.g. host: 10.0.0.5 or host: console.local")
    return ""


def _port(reader: Reader, fields: Fields) -> int | None:
    node = fields.get("port")
    return reader.integer(node, "port", 1, 65535, example=8000) if node is not None else None


def _profile(reader: Reader, kind: str, node: Node) -> Profile | None:
    name = reader.text(node, "profile")
    if name is None:
        return None
    if not NAME.match(name):  # a name, looked up in profile folders: never a path to some other file
        reader.problem(node, f"profile {quoted(name)} is not a profile name", "give a name such as etc-eos (hardware/profiles/NAME.yaml)")
        return None
    path = profile_path(name, reader.path)
    if path is None:
        known = available_profiles(reader.path)
        reader.problem(node, f"no device profile {name!r}", suggestion(name, known) or f"known profiles: {', '.join(known) or 'none'}")
        return None
    try:
        profile, profile_reader = load_profile(path)
    except ShowFileError as error:
        reader.problems.extend(error.problems)
        return None
    reader.problems.extend(profile_reader.problems)
    if profile is not None and profile.kind != kind:
        reader.problem(node, f"profile {name!r} drives {profile.kind} devices, but this output is {kind}", f"set type: {profile.kind}")
        return None
    return profile


def _transport(reader: Reader, fields: Fields) -> str:
    node = fields.get("transport")
    return (reader.choice(node, "transport", ("udp", "tcp")) if node is not None else None) or "udp"


def _optional_text(reader: Reader, fields: Fields, key: str) -> str | None:
    node = fields.get(key)
    return reader.text(node, key) if node is not None else None


def _password_env(reader: Reader, fields: Fields) -> str | None:
    """The name of the environment variable holding the password; unset here, the broker would refuse the output."""
    name = _optional_text(reader, fields, "password_env")
    if name is not None and name not in os.environ:
        reader.warn(
            fields.get("password_env") or fields.node, f"password_env {quoted(name)} is not set here", f"export {name}=... before run"
        )
    return name


def _topic_prefix(reader: Reader, fields: Fields) -> str:
    prefix = _optional_text(reader, fields, "topic_prefix") or ""
    node = fields.get("topic_prefix") or fields.node
    if prefix and (problem := topic_problem(prefix)):
        reader.problem(node, f"topic_prefix {quoted(prefix)} {problem}", "e.g. topic_prefix: showcontrol/stage-a/")
        return ""
    if prefix and not prefix.endswith("/"):
        reader.warn(
            node, f"topic_prefix {quoted(prefix)} does not end with '/', so it runs into each topic", f"write topic_prefix: {prefix}/"
        )
    return prefix


def _tls(reader: Reader, node: Node) -> TlsSettings | None:
    fields = reader.fields(node, "tls", ("ca_file", "cert_file", "key_file", "insecure"))
    if fields is None:
        return None

    def file(key: str) -> Path | None:
        text = _optional_text(reader, fields, key)
        if text is None:
            return None
        path = (reader.path.parent / text).resolve()
        if not path.is_file():
            problem = "is not a file" if path.exists() else "does not exist"
            reader.problem(fields.get(key) or node, f"tls {key} {quoted(text)} {problem}", "give a path relative to the patch file")
            return None
        if path.stat().st_size > MAX_FILE_BYTES:
            reader.problem(fields.get(key) or node, f"tls {key} {quoted(text)} is larger than {MAX_FILE_BYTES:,} bytes", "give a PEM file")
            return None
        return path

    insecure = bool(reader.boolean(n, "insecure")) if (n := fields.get("insecure")) is not None else False
    settings = TlsSettings(file("ca_file"), file("cert_file"), file("key_file"), insecure)
    if (reason := tls_problem(settings)) is not None:
        reader.problem(node, f"tls: {reason}", "give PEM files: a CA certificate, and the client's certificate and unencrypted key")
    return settings


def tls_problem(tls: TlsSettings) -> str | None:
    """Why OpenSSL would refuse these files when the output connects, found now (a dead output all show otherwise)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        if tls.ca_file is not None:
            context.load_verify_locations(cafile=str(tls.ca_file))
        if tls.cert_file is not None:
            keyfile = str(tls.key_file) if tls.key_file is not None else None
            context.load_cert_chain(str(tls.cert_file), keyfile, password=lambda: "")  # never a prompt on the terminal
        elif tls.key_file is not None:
            return "key_file needs a cert_file"
    except (ssl.SSLError, OSError, ValueError) as error:
        return f"OpenSSL cannot use these files ({error.args[-1] if error.args else error})"
    return None
