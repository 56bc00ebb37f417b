"""The composition root of `showcontrol run`: loads, wires, starts threads, and shuts down in order.

Threads: the audio device's (mixes stems, advances the transport, keeps the clock), the dispatcher
(fires events at audio-clock deadlines), one network thread per MQTT output, the show-log writer, a
supervisor that reopens lost MIDI ports, the set list's watcher, and a low-priority thread whenever a
song or a tempo is being made ready (its audio made by the stem maker's process, whose files a
low-priority thread unlinks once unmapped). The caller's thread runs the operator interface and talks to all
of this only through `ShowRunner` methods, which queue transport commands.

- `session`: what lives as long as the run (show log, take log, outputs, audio link, supervisor);
- `version`: a song made ready at one tempo, and the background thread that makes it;
- `stem_maker`: the process that makes a song's audio while another plays, handed over in shared memory;
- `player`: one version installed: transport, the audio callback's mixing, dispatcher;
- `runner`: the commands, the set list and its standby song, what the screens read.
"""

from showcontrol.app.options import RunOptions
from showcontrol.app.runner import ShowRunner

__all__ = ["RunOptions", "ShowRunner"]
