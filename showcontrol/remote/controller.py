"""Applies commands to the running show, one at a time, and records each with its source in the show log.

Every input calls `handle` from its own thread (keys from the main thread, OSC and MQTT from the network
thread, MIDI from rtmidi's); a lock keeps two commands from interleaving on the runner, and whatever a
command asks that the show cannot do comes back as an error reply, never an exception to the input.
"""

from __future__ import annotations

import bisect
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from showcontrol.control.commands import (
    Command,
    Go,
    Locate,
    Panic,
    Pause,
    Reply,
    Resume,
    SelectSong,
    SetLoop,
    SetTempo,
    Status,
    Stop,
    error,
)
from showcontrol.control.counts import InputCounts
from showcontrol.control.rate import TOO_MANY, RateLimit
from showcontrol.engine.transport import State
from showcontrol.errors import ShowControlError
from showcontrol.model.position import BarBeat
from showcontrol.status import snapshot
from showcontrol.timeline.events import Kind
from showcontrol.timeline.start import TOP, resolve_start, start_text

if TYPE_CHECKING:
    from showcontrol.app import ShowRunner

log = logging.getLogger(__name__)
CUE_KINDS = (Kind.OSC, Kind.MIDI, Kind.MQTT)


def section_bars(runner: ShowRunner, bar: int) -> tuple[int, int]:
    """The bars of the section holding `bar` (to the next section, or the song's last bar)."""
    starts = sorted(section.bar for section in runner.song.sections)
    first = max((b for b in starts if b <= bar), default=1)
    following = [b for b in starts if b > first]
    return first, (following[0] - 1 if following else runner.timeline.last_bar)


class Controller:
    """`controller.handle(Go(), "osc:10.0.0.5:53001") -> Reply`: the one place commands change the show."""

    def __init__(self, runner: ShowRunner, clock: Callable[[], float] = time.monotonic, limit: RateLimit | None = None) -> None:
        self.runner = runner
        self._clock = clock
        self._limit = limit or RateLimit()
        self._lock = threading.Lock()
        self.refused = 0  # over the rate limit
        self.inputs: dict[str, InputCounts] = {}  # each remote input's counts, by its name in the run's report
        self._expected: tuple[State, int] | None = None  # what was asked, before the audio thread applies it

    def state(self) -> State:
        """The transport's state as commands see it: one asked for and not yet applied counts as done, so a
        locate sent right after a stop cues the bar instead of playing from it."""
        segment, expected = self.runner.segment, self._expected
        if expected is not None and segment.generation == expected[1]:
            return expected[0]
        return segment.state

    def handle(self, command: Command | Reply, source: str) -> Reply:
        """Apply `command` (or pass on a parser's error reply) and log both with `source`."""
        if isinstance(command, Reply):
            reply = command
        elif not self._limit.allow(source.rsplit(":", 1)[0], self._clock()):
            self.refused += 1
            reply = TOO_MANY
        else:
            with self._lock:
                try:
                    reply = self._apply(command)
                except ShowControlError as problem:
                    reply = error(str(problem))
                except Exception as problem:  # a bug in one command must not take down the input that sent it
                    log.exception("command %s from %s failed", command, source)
                    reply = error(f"internal error: {type(problem).__name__}")
        self._record(command, source, reply)
        return reply

    def _record(self, command: Command | Reply, source: str, reply: Reply) -> None:
        entry: dict[str, Any] = {"kind": "command", "source": source, "song": self.runner.song.id}
        entry["command"] = "invalid" if isinstance(command, Reply) else type(command).__name__.lower()
        if not isinstance(command, Reply):
            entry["args"] = {f.name: str(v) for f in fields(command) if (v := getattr(command, f.name)) is not None}
        entry["result"] = "ok" if reply.ok else f"error: {reply.text}"
        if self.runner.showlog is not None and not isinstance(command, Status):
            self.runner.showlog.record(entry)
        if not reply.ok and source != "keys":  # the keys' own reply is on the operator's screen already
            words = "an invalid command" if isinstance(command, Reply) else re.sub(r"(?<!^)(?=[A-Z])", " ", type(command).__name__).lower()
            log.info("%s (from %s) refused: %s", words, source, reply.text)

    def _apply(self, command: Command) -> Reply:
        runner, state = self.runner, self.state()
        generation = runner.segment.generation
        reply = self._transport_command(command, state)
        if reply is None:
            return self._other_command(command, state)
        if reply.ok:
            asked = {Stop: State.STOPPED, Panic: State.STOPPED, Pause: State.PAUSED}.get(type(command), State.PLAYING)
            self._expected = (asked, generation)
        return reply

    def _transport_command(self, command: Command, state: State) -> Reply | None:
        """Go, stop, panic, pause, resume (None for any other command)."""
        runner = self.runner
        match command:
            case Go(bar=bar):
                if state is not State.STOPPED:
                    return error(f"already {state.value}: stop first")
                if bar is not None:
                    runner.locate(bar)
                runner.play()
                return Reply(True, f"playing {runner.song.id} from bar {runner.cue_bar}")
            case Stop() | Panic():
                runner.stop()
                return Reply(True, "stopped" if isinstance(command, Stop) else "panic: stopped, every output silenced")
            case Pause():
                if state is not State.PLAYING:
                    return error(f"cannot pause: {state.value}")
                runner.pause()
                return Reply(True, "paused")
            case Resume():
                if state is not State.PAUSED:
                    return error(f"cannot resume: {state.value}, not paused")
                runner.resume()
                return Reply(True, "resumed")
        return None

    def _other_command(self, command: Command, state: State) -> Reply:
        runner = self.runner
        match command:
            case Locate():
                return self._locate(command, state)
            case SelectSong(song=song):
                return self._select(song)
            case SetLoop():
                return self._loop(command)
            case SetTempo(tempo=tempo):
                job = runner.set_tempo(tempo)
                percent = f"{float(tempo) * 100:g} %"
                if job is not None:
                    return Reply(True, f"making {percent} ready (pitch kept); it plays from the next start")
                return Reply(True, f"tempo {percent}" if runner.segment.state is State.STOPPED else f"tempo {percent} from the next start")
            case Status():
                return Reply(True, state.value, self.status())
        raise AssertionError(command)  # every command is matched above

    def _locate(self, command: Locate, state: State) -> Reply:
        """A bar, or any text `run --from` takes (a section, chorus1:2, 13.3, 1:30), through the same parser."""
        runner = self.runner
        at = BarBeat(command.bar if command.bar is not None else 1)
        if command.section is not None:
            try:
                at = resolve_start(command.section, runner.timeline, runner.song.sections)
            except ValueError as problem:
                return error(str(problem))
        runner.locate(at)
        where = f"bar {at.bar}" if at == TOP else start_text(at)  # "cued bar 1", not "cued the top"
        if state is not State.STOPPED:
            runner.play()  # as the keys do: a locate while playing plays from there
            self._expected = (State.PLAYING, runner.segment.generation)
            return Reply(True, f"playing from {where}")
        return Reply(True, f"cued {where}")

    def _select(self, song: str) -> Reply:
        """The same path as the keys (>, <, NN#): the standby song; never interrupts the one playing."""
        return Reply(True, self.runner.select(song))

    def _loop(self, command: SetLoop) -> Reply:
        runner = self.runner
        if command.section is None and command.first is None:
            runner.release_loop()
            return Reply(True, "loop released: this pass plays out, then the song carries on")
        if command.section is not None:
            bars = {section.name: section.bar for section in runner.song.sections}
            if command.section not in bars:
                return error(f"no section {command.section[:40]!r} in {runner.song.id}")
            first, last = section_bars(runner, bars[command.section])
        else:
            assert command.first is not None and command.last is not None
            first, last = command.first, command.last
        runner.loop(first, last)
        return Reply(True, f"looping bars {first}-{last}")

    def status(self) -> dict[str, Any]:
        """The state a status request is answered with: the operator's snapshot (showcontrol/status.py), as JSON."""
        runner, now = self.runner, time.monotonic()
        shown = snapshot(runner, now)
        state = self.state()
        playing, song = state is not State.STOPPED, shown.playing
        standby = next((entry for entry in shown.set_list if entry.standby), None)
        return {
            "state": state.value,
            "song": song.song_id,
            "bar": song.bar if playing else song.cued_bar,
            "beat": song.beat if playing else 1,
            "cued_bar": song.cued_bar,
            "tempo_percent": song.tempo_percent,
            "loop": list(song.loop) if song.loop else None,
            "audio": shown.audio.health,
            "outputs": {output.name: {"health": output.health, "error": output.last_error[:120]} for output in shown.outputs},
            "cues": self.cues_around(runner.song_frame_now() if playing else self._cued_frame()),
            "sections": [{"name": section.name, "bar": section.bar} for section in runner.song.sections],
            "standby": standby.song_id if standby is not None else None,
            "set_list": [entry.song_id for entry in shown.set_list],
        }

    def _cued_frame(self) -> int:
        return self.runner.timeline.tempo.frame(BarBeat(self.runner.cue_bar), self.runner.timeline.sample_rate)

    def cues_around(self, frame: int, before: int = 2, after: int = 6) -> list[dict[str, Any]]:
        """The show's cues near the playhead: the last `before` fired and the next `after`, for the remote."""
        cues = [e for e in self.runner.timeline.events if e.kind in CUE_KINDS]
        first = bisect.bisect_left([e.at_frame for e in cues], frame)
        return [
            {"at": f"{e.position.bar}.{e.position.beat}", "output": e.output, "name": e.cue_name or e.kind.value, "next": i >= first}
            for i, e in enumerate(cues[max(0, first - before) : first + after], start=max(0, first - before))
        ]
