"""A venue's hardware patch: which real devices the show's logical outputs mean here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from showcontrol.errors import SourceMark
from showcontrol.model.inputs import Inputs
from showcontrol.model.profile import Profile

NO_MARK = SourceMark("<none>", 0, 0)

AUDIO_FEEDS = ("track", "click", "ltc")
MAIN_CLICK = "click"  # the song's own click feed; a performer's feed is "click:NAME"


@dataclass(frozen=True, slots=True)
class AudioPatch:
    """The audio interface: rate, channel count and which 0-based channels each feed plays on."""

    device: str | None = None
    sample_rate: int = 48000
    channels: int = 2
    routes: Mapping[str, tuple[int, ...]] = field(default_factory=lambda: {"track": (0, 1)})
    output_latency_ms: float = 0.0
    buffer_frames: int = 256
    require_device: bool = False  # refuse to run on the silent dummy driver (a show, not a rehearsal)
    backend: str = "sdl"  # "sdl" (pygame's SDL2: pulseaudio, alsa, ...) or "jack" (a JACK server, or PipeWire's)
    ports: Mapping[int, tuple[str, ...]] = field(default_factory=dict)  # JACK: 0-based channel -> destination ports


@dataclass(frozen=True, slots=True)
class OscOutput:
    name: str
    host: str
    port: int
    transport: str = "udp"
    latency_ms: float = 0.0
    mark: SourceMark = field(default=NO_MARK, compare=False)
    framing: str = "length"  # TCP only: "length" (OSC 1.0, a 32-bit size first) or "slip" (OSC 1.1)
    bundles: bool = False  # wrap each message in a bundle timetagged with its due time (some consoles reject bundles)
    profile: Profile | None = field(default=None, compare=False)
    on_locate: str = "none"  # what a start from a later bar resends first: none, last (message) or per_address


@dataclass(frozen=True, slots=True)
class MidiOutput:
    """A MIDI port by (part of) its name, or a virtual port the engine creates under that name."""

    name: str
    port: str
    virtual: bool = False
    latency_ms: float = 0.0
    mark: SourceMark = field(default=NO_MARK, compare=False)
    clock: bool = False  # MIDI beat clock following the tempo map, with Start/Stop/Continue and song position
    mtc: bool = False  # MIDI Time Code following the song's timecode (as its LTC)
    profile: Profile | None = field(default=None, compare=False)
    on_locate: str = "none"  # what a start from a later bar resends first: none, last (message) or per_address


@dataclass(frozen=True, slots=True)
class TlsSettings:
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure: bool = False


@dataclass(frozen=True, slots=True)
class MqttOutput:
    """A broker; the password comes from an environment variable so patches can be shared."""

    name: str
    host: str
    port: int = 1883
    username: str | None = None
    password_env: str | None = None
    tls: TlsSettings | None = None
    client_id: str | None = None
    topic_prefix: str = ""
    latency_ms: float = 0.0
    mark: SourceMark = field(default=NO_MARK, compare=False)
    profile: Profile | None = field(default=None, compare=False)
    on_locate: str = "none"  # what a start from a later bar resends first: none, last (message) or per_address
    cue_connection: bool = True  # QoS-0 cues on a second connection, written by the dispatcher (io/mqtt_cue_line.py)


Output = OscOutput | MidiOutput | MqttOutput
OUTPUT_TYPES: Mapping[str, type] = {"osc": OscOutput, "midi": MidiOutput, "mqtt": MqttOutput}


@dataclass(frozen=True, slots=True)
class SongPatch:
    """What differs while one song plays: the channels of some feeds (`routes`, over the audio's), and the
    outputs only its cues send to. The device, rate and channel count are the run's: one interface, opened once."""

    routes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()  # names in Patch.outputs
    mark: SourceMark = field(default=NO_MARK, compare=False)


@dataclass(frozen=True, slots=True)
class Patch:
    """A venue's devices. `outputs` holds every output of the run, each opened once and kept across songs,
    also those only one song uses (`songs`); `for_song` is the patch as one song sees it."""

    path: Path | None
    name: str
    audio: AudioPatch
    outputs: Mapping[str, Output]
    inputs: Inputs = field(default_factory=Inputs)  # remote control, off unless the patch enables it
    songs: Mapping[str, SongPatch] = field(default_factory=dict)  # by song id

    def for_song(self, song_id: str) -> Patch:
        """The audio routes while `song_id` plays, and the outputs its cues may send to (not another song's own)."""
        own = self.songs.get(song_id, SongPatch())
        others = {name for other_id, song in self.songs.items() if other_id != song_id for name in song.outputs}
        return replace(
            self,
            audio=replace(self.audio, routes={**self.audio.routes, **own.routes}),
            outputs={name: output for name, output in self.outputs.items() if name not in others},
            songs={},
        )

    def owner_of(self, output: str) -> str | None:
        """The song whose own output this is, or None for an output every song may use."""
        return next((song_id for song_id, song in self.songs.items() if output in song.outputs), None)
