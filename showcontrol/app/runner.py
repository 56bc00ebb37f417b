"""The operator's side of a run: the commands the keys and remote inputs send, the set list with its
standby song, and what the screens read.

A run opens a `ShowSession` once (show log, take log, outputs, audio) and plays its set inside it: one
`SongPlayer` at a time, each on a `SongVersion` prepared in the background. The next song of the set is
made ready while the current one plays; when it ends, the next one is installed at once (standby, or
started by itself after its gap, placed on the audio's frames). A song that follows by itself is armed
before the end (app/follow.py) and handed over by the audio callback on the frame; one that could not be
armed is installed after the end and started on its frame if its gap leaves the time. Only the playing and
the standby versions stay in memory. Commands come from any thread and are applied one at a time under a lock.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from dataclasses import replace
from fractions import Fraction
from types import TracebackType

import numpy as np
import numpy.typing as npt

from showcontrol.app.follow import ArmedFollow, Handover
from showcontrol.app.options import RunOptions, default_log_path
from showcontrol.app.player import Shapes, SongPlayer
from showcontrol.app.session import ShowSession
from showcontrol.app.stem_maker import StemMaker, remove_left_behind
from showcontrol.app.version import (
    Cues,
    Preparation,
    Routes,
    SongVersion,
    bare_version,
    prepare_cues,
    prepare_in_background,
    prepare_version,
)
from showcontrol.audio.link import AudioHealth, AudioLink, Device
from showcontrol.codec import monitor as wire
from showcontrol.describe import clock_text
from showcontrol.dispatcher import MAX_LEAD_S, Dispatcher, DispatcherConfig, DispatcherPorts
from showcontrol.engine.plan import StartPlan, feed_count_ins, plan_start, state_rebuild
from showcontrol.engine.segue import gap_frames
from showcontrol.engine.transport import Loop, Pause, Play, Resume, Segment, State, Stop, Transport
from showcontrol.errors import ShowControlError
from showcontrol.io.jack_midi import JackMidiOutput, SongRun, period_runs, runs_from
from showcontrol.io.mqtt import MqttPublisher
from showcontrol.io.output import Output
from showcontrol.load.show_file import LoadedShow, compile_at_speed
from showcontrol.model.position import BarBeat
from showcontrol.model.setlist import Setlist, SetlistEntry
from showcontrol.model.show import Song
from showcontrol.offline import build_stems, click_sounds, stems_seconds
from showcontrol.realtime import HELPER_PRIORITY, raise_priority
from showcontrol.showlog import ShowLog
from showcontrol.takes.keeper import TakeKeeper
from showcontrol.timeline.events import Timeline
from showcontrol.timeline.start import TOP, start_text
from showcontrol.timeline.sync import sync_point

log = logging.getLogger(__name__)
WATCH_EVERY_S = 0.01  # how often the set's watcher looks for a song's end: well inside a follow's gap
HANDOVER_WAIT_S = 1.0  # a disarm that came as the callback took the follow waits this long at most for it (one block)
SCRATCH_BLOCKS = 4  # the armed song's block in the callback: this many of the patch's buffers, for a device that asks more
# A follow is armed this long before the end at most (the watcher looks every 10 ms): its dispatcher, idle
# until the hand-over, wakes every few ms meanwhile, and the song playing keeps the machine to itself until then.
ARM_AHEAD_S = 3.0
RETRY_FAILED_S = 5.0  # a song that could not be made ready is tried again after this by itself (at once on a GO)


class ShowRunner:
    """A show, playing: `with ShowRunner(loaded, options) as runner: runner.play(); ...`."""

    def __init__(self, loaded: LoadedShow, options: RunOptions) -> None:
        self.loaded = loaded
        self.options = options
        self.audio = loaded.show.patch.audio
        if options.audio_device is not None:
            self.audio = replace(self.audio, device=options.audio_device)
        self.sample_rate = loaded.sample_rate
        self.sounds = click_sounds(self.sample_rate)
        self.shapes = Shapes.make(self.sample_rate, options.stop_fade_s, self.audio.buffer_frames)
        self.setlist = Setlist((SetlistEntry(options.song_id),)) if options.song_id is not None else loaded.show.setlist
        self.one_song = options.song_id is not None  # --song: a run of that song only, taken as often as asked
        self.base_tempo = loaded.speed if loaded.keep_pitch else Fraction(1)  # the run's rehearsal tempo (--tempo)
        self.index = 0  # the set entry open on the player
        self.standby: int | None = 0  # the set entry GO plays next (None: the set has been played)
        self._standby_chosen = False  # moved by the operator while a song played: kept after a stop
        first = self._song_of(0)
        self.player = SongPlayer(bare_version(first, self.base_tempo, loaded.timelines[first.id], self._routes(first)), self.shapes)
        self.cue_at = options.start
        self.loop_bars: tuple[int, int] | None = None
        self.tempo_job: Preparation | None = None  # another tempo of the song open, being made ready
        self.standby_job: Preparation | None = None  # the standby song, being made ready
        self._versions: dict[tuple[str, Fraction], SongVersion] = {}
        self._cues: dict[str, Cues] = {}  # each song of the set at the run's tempo, made as the run opens
        self._stem_maker = StemMaker()  # the audio of a song made ready while another plays, in a process of its own
        self._pending: SongVersion | None = None  # a tempo of the open song, ready to install
        self._lock = threading.RLock()
        self._watching = threading.Event()
        self._ended_seen: int | None = None  # the device frame of the last song end acted on
        self._armed: ArmedFollow | None = None  # the next song, ready to be handed over by the callback at this one's end
        self._handed: Handover | None = None  # the latest hand-over: JACK MIDI's period reads both songs from it
        self.played: list[str] = []  # the songs GOne (or followed) in this run, in order, for the report
        self.song_changes_s: list[float] = []  # from a song's end to the next one ready to GO (bench/setlist.py)
        self.takes = TakeKeeper(self)  # every GO is a take: the take log
        self.session = ShowSession(loaded.show.patch, self.audio, self.sample_rate, options, self.takes)

    # -- lifecycle ----------------------------------------------------------------------
    def __enter__(self) -> ShowRunner:
        session = self.session
        name = self.options.song_id or loaded_name(self.loaded)
        try:
            remove_left_behind()  # what a killed run left in shared memory
            if self._after(self.index) not in (None, self.index):  # a set: its maker starts up beside the first song's making
                self._stem_maker.start()
            session.open_logs_and_outputs(self.options.log_path or default_log_path(name), lambda: self.transport.segment)
            for song_id in dict.fromkeys(entry.song_id for entry in self.setlist):  # before anything plays: see Cues
                self._cues[song_id] = prepare_cues(self.loaded.timelines[song_id], self.outputs)
            version = self._make(self.index, self.base_tempo, beside_a_song=False)  # nothing plays yet
            self._keep(version)
            session.open_audio(self._render, lambda: self.player.quiet, self._audio_changed, self._song_runs)
            self._install(version)
            session.start(on_close=self._stop_watching_and_dispatching)
        except BaseException:
            session.close()
            self._stem_maker.close()
            raise
        self._publish_next()
        threading.Thread(target=self._watch, name="setlist", daemon=True).start()
        self._prepare_standby_after()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        with self._lock:
            self._watching.set()
            self._disarm()  # a follow handed over just now is the song playing, whose take the quit ends
        self.takes.closing(error)
        self.transport.request(Stop())
        time.sleep(2 * self.audio.buffer_frames / self.sample_rate)
        try:
            with self._lock:
                self.player.stop_dispatcher()  # before the final word, so that nothing it sends comes after it
                self._announce_final_stop()
            self.session.close()
        finally:
            self._stem_maker.close()  # however the run ends: no maker outlives it

    def _stop_watching_and_dispatching(self) -> None:
        self._watching.set()
        armed = self._armed
        for player in {self.player, *((armed.before, armed.after) if armed is not None else ())}:
            player.stop_dispatcher(0)

    def _announce_final_stop(self) -> None:
        """However the run ends (the song's end, a quit mid-song, a signal, an error) outputs and the show
        log are told it stopped, where the dispatcher may not have had the time to: a retained "playing"
        would freeze every monitor on a countdown, also monitors started later."""
        if self.session.link is None or self.session.showlog is None:
            return
        frame = self.transport.segment.song_frame_at(self.device.frames_delivered)
        for output in self.outputs.values():
            output.transport(State.STOPPED.value, self.song.id, str(frame), sync_point(self.timeline, frame))
        self.session.showlog.record({"song": self.song.id, "kind": "transport", "state": "stopped", "song_frame": frame, "final": True})

    # -- versions: another tempo, another song --------------------------------------------
    def _song_of(self, index: int) -> Song:
        return self.loaded.show.song(self.setlist[index].song_id)

    def _routes(self, song: Song) -> Routes:
        """The feeds the song plays and their channels: the patch's, with the song's own differences."""
        return {feed: channels for feed, channels in self.loaded.patch_for(song.id).audio.routes.items() if channels}

    def _timeline_at(self, song_id: str, tempo: Fraction) -> Timeline:
        return self.loaded.timelines[song_id] if tempo == self.base_tempo else compile_at_speed(self.loaded, song_id, tempo)

    def _make(self, index: int, tempo: Fraction, timeline: Timeline | None = None, beside_a_song: bool = True) -> SongVersion:
        """A set entry's song at `tempo`, ready to play (slow: any thread); `beside_a_song`, its audio is
        made in the stem maker's process, away from the show's GIL."""
        song = self._song_of(index)
        timeline = timeline or self._timeline_at(song.id, tempo)
        make_stems = self._stem_maker.stems if beside_a_song else build_stems
        made = self._cues.get(song.id) if timeline is self.loaded.timelines[song.id] else None
        cues = made or prepare_cues(timeline, self.outputs)  # another tempo's, asked while a song may play
        return prepare_version(song, tempo, timeline, self._routes(song), self.sounds, cues, self._keep_pitch_at, make_stems)

    @property
    def _keep_pitch_at(self) -> int | None:
        """The device rate, where a timeline at another rate means a rehearsal tempo; None under a film --speed."""
        return self.sample_rate if self.loaded.keep_pitch or self.loaded.speed == 1 else None

    def _keep(self, version: SongVersion) -> None:
        self._versions[version.key] = version

    def _install(self, version: SongVersion) -> None:
        """Make `version` the one playing (while stopped): a new player, transport and dispatcher on it."""
        with self._lock:
            previous = self.player
            if previous.dispatcher is not None:
                previous.stop_dispatcher()
            player = SongPlayer(version, self.shapes, previous.transport.segment.generation + 1)
            self._hand_outputs(version)
            same_song = version.song.id == previous.version.song.id
            looped, self.loop_bars = (self.loop_bars if same_song else None), None
            self.player = player  # the audio callback renders this one from its next block
            self._start_dispatcher(player, previous.dispatcher)
            self._forget_others()
            if looped is not None:
                self.loop(*looped)  # the same bars, on the new tempo's frames

    def _hand_outputs(self, version: SongVersion, playing: SongVersion | None = None) -> None:
        """The outputs that read a version themselves get it: the JACK client writes its events at their
        frames, MQTT its beats' monitor states; beside the version `playing` while it is armed to follow it."""
        keep = playing.key if playing is not None else None
        for output in self.outputs.values():
            if isinstance(output, JackMidiOutput):
                output.schedule(version.key, version.order, keep=(keep,) if keep is not None else ())
            if isinstance(output, MqttPublisher):
                output.set_beats(version.song.id, version.beats, keep=playing.song.id if playing is not None else None)

    def _start_dispatcher(self, player: SongPlayer, previous: Dispatcher | None, follows: bool = False) -> None:
        version = player.version
        assert self.session.showlog is not None
        player.start_dispatcher(
            DispatcherConfig(
                song_id=version.song.id,
                timeline=version.timeline,
                order=version.order,
                device_latency_ns=int(self.audio.output_latency_ms * 1e6),  # the device's own latency: its word, live (Seen)
                max_lead_frames=round(MAX_LEAD_S * self.sample_rate),
                max_latency_frames=version.max_latency_frames,
                on_locate={name: spec.on_locate for name, spec in self.loaded.show.patch.outputs.items()},
            ),
            DispatcherPorts(player.transport, self.link, self.outputs, self.session.showlog, self.session.firing),
            previous,
            follows,
        )

    def _forget_others(self) -> None:
        """Only the version playing, the standby song's and a tempo waiting to be installed stay in memory."""
        keep = {self.player.version.key}
        if self._pending is not None:
            keep.add(self._pending.key)
        if self.standby is not None and self.standby != self.index:
            keep.add((self.setlist[self.standby].song_id, self.base_tempo))
        elif (after := self._after(self.index)) is not None:
            keep.add((self.setlist[after].song_id, self.base_tempo))
        for key in list(self._versions):  # a snapshot: a preparing thread inserts while we look
            if key not in keep:
                self._versions.pop(key, None)

    def _after(self, index: int) -> int | None:
        """The set entry after `index` (None at the set's end; a --song run takes its one song again)."""
        if self.one_song:
            return index
        return index + 1 if index + 1 < len(self.setlist) else None

    def _prepare(self, index: int, again: bool = False) -> Preparation | None:
        """Make set entry `index` ready in the background (None: it already is, or is being made). One that
        failed is tried again `again` (the operator asks) or RETRY_FAILED_S after, not at every look."""
        key = (self.setlist[index].song_id, self.base_tempo)
        if key in self._versions:
            return None
        job = self.standby_job
        if job is not None and (job.song_id, job.tempo) == key:
            failed_lately = job.error is not None and time.monotonic() - job.started < RETRY_FAILED_S
            if not job.done or (failed_lately and not again):
                return job
        estimate = stems_seconds(self.loaded.timelines[key[0]], self._keep_pitch_at)
        job = Preparation(key[0], self.base_tempo, time.monotonic(), estimate)
        self.standby_job = job
        prepare_in_background(job, lambda: self._make(index, self.base_tempo), self._prepared)
        return job

    def _prepared(self, job: Preparation, version: SongVersion) -> None:
        """A preparing thread's last word: keep the version if it is still wanted."""
        with self._lock:
            wanted = {self.setlist[i].song_id for i in (self.standby, self._after(self.index)) if i is not None}
            if job.song_id in wanted:
                self._keep(version)

    def _prepare_standby_after(self) -> None:
        """While a song is open, the one after it is made ready."""
        after = self._after(self.index)
        if after is not None and after != self.index:
            self._prepare(after)

    # -- the set's watcher: a song's end, a standby made ready ----------------------------------
    def _watch(self) -> None:
        raise_priority(HELPER_PRIORITY, warn=False)  # it takes the GIL 100 times a second: see realtime.py
        while not self._watching.wait(WATCH_EVERY_S):
            try:
                self._look()
            except Exception:  # the set must go on: a failure here is logged, and the next look tries again
                log.exception("the set list's watcher failed")

    def _look(self) -> None:
        with self._lock:
            armed = self._armed
            if armed is not None and (armed.handover is not None or self._to_arm() is not armed.after.version):
                self._disarm()  # handed over by the callback: its books; else what it was armed on has changed
            transport = self.transport
            ended = transport.ended_at
            if ended is not None and ended != self._ended_seen and transport.segment.state is State.STOPPED:
                self._ended_seen = ended
                self._song_ended(ended)
            elif self.player.idle and self.standby is not None and self.standby != self.index:
                self._install_standby()
            elif self._armed is None and (version := self._to_arm()) is not None:
                self._arm(version)

    def _follows_next(self) -> bool:
        """Whether the standby song starts by itself when the open one ends (a follow, not another choice)."""
        return not self._standby_chosen and not self.one_song and self.standby == self.index + 1 and self.setlist.follows(self.index)

    def _to_arm(self) -> SongVersion | None:
        """The version to arm to follow the song playing on the frame (None: nothing, or not now). Only near
        the end, and where nothing but a command can move it: playing after its GO, nothing queued, no loop."""
        player, transport = self.player, self.transport
        segment = transport.segment
        if self._watching.is_set() or segment.state is not State.PLAYING or transport.pending or transport.loop is not None:
            return None
        if self.loop_bars is not None or player.go_generation is None or segment.generation <= player.go_generation:
            return None
        if self.standby is None or not self._follows_next():
            return None
        if self.timeline.end_frame - self.song_frame_now() > ARM_AHEAD_S * self.sample_rate:
            return None
        version = self._versions.get((self.setlist[self.standby].song_id, self.base_tempo))
        if version is None or (version.song.id == self.song.id and version is not player.version):
            return None  # not ready yet; or the same song at another tempo, whose beats the monitors' tables would confuse
        return version

    def _arm(self, version: SongVersion) -> None:
        """The next song on a player of its own, its dispatcher idle and its count-in planned, for the callback
        to hand over at this song's end (app/follow.py)."""
        before = self.player
        player = SongPlayer(version, self.shapes, before.transport.segment.generation)
        plan = self._plan(TOP, player)
        gap = gap_frames(self.setlist[self.index].gap, version.timeline, self.sample_rate)
        self._hand_outputs(version, playing=before.version)
        player.went(player.transport.segment.generation)
        self._start_dispatcher(player, before.dispatcher, follows=True)
        frames = SCRATCH_BLOCKS * max(self.audio.buffer_frames, self.device.buffer_frames)
        self._armed = ArmedFollow(before, player, gap, plan, np.zeros((frames, self.audio.channels), np.float32))
        gc.freeze()  # what the callback touches, out of the collector's reach (as session.start does)
        log.debug("%s armed to follow %s after %d frames", version.song.id, before.version.song.id, gap)

    def _disarm(self) -> None:
        """Before a command that moves the song playing or changes what follows it, and when the watcher finds
        what a follow was armed on changed: cancel it. One the callback took (just now, or in this very block)
        gets its books first, so that the command applies to the song playing now."""
        armed = self._armed
        if armed is None:
            return
        self._armed = None
        if armed.cancel():
            armed.after.stop_dispatcher(0)
            self._keep_schedules(self.player.version)
            return
        handover = armed.wait_handed_over(HANDOVER_WAIT_S)
        if handover is None:  # the callback took it and never finished: nothing is played from it
            log.error("the follow into %s was taken by the audio callback and not handed over", armed.after.version.song.id)
            armed.after.stop_dispatcher(0)
            return
        self._adopt(armed, handover)

    def _keep_schedules(self, version: SongVersion) -> None:
        for output in self.outputs.values():
            if isinstance(output, JackMidiOutput):
                output.keep_only((version.key,))

    def _adopt(self, armed: ArmedFollow, handover: Handover) -> None:
        """The books of a follow the callback handed over, as `_song_ended` and `_start_follow` keep them for
        one installed after the end: the song before's last cues and stop have gone out, then the next one's
        start; it is the open song, its take begins, the set and the next standby are told."""
        before, after = armed.before, armed.after
        self._ended_seen, self._standby_chosen = handover.ended_at, False
        assert before.dispatcher is not None and after.dispatcher is not None and self.standby is not None
        before.dispatcher.wait_until_told(handover.playing_generation - 1, HANDOVER_WAIT_S)  # its last cues, then its stop
        before.stop_dispatcher()
        after.dispatcher.wait_until_told(handover.playing_generation, HANDOVER_WAIT_S)  # its start: the set's news come after it
        self.index, self.cue_at, self._pending, self.tempo_job, self.loop_bars = self.standby, TOP, None, None, None
        self._keep_schedules(after.version)
        self._forget_others()
        self._record_change(None)
        self._prepare_standby_after()
        self._followed(self.setlist[self.index - 1], armed.gap_frames, armed.song_from_frame, handover.ended_at)

    def _song_ended(self, ended_at: int) -> None:
        """The open song played to its end: the standby one comes in, and starts by itself if it follows."""
        follows = self._follows_next()
        self._standby_chosen = False
        if self.standby is None:
            self._publish_next()
            self._say("end of the set")
            return
        if not self._install_standby():
            self._publish_next()
            return  # not ready yet (chosen late): the watcher installs it when it is, and the operator GOes
        self._record_change(ended_at)
        if follows:
            self._start_follow(self.setlist[self.index - 1], ended_at)

    def _install_standby(self, again: bool = False) -> bool:
        """Install the standby song if it is ready; whether it was (else it is made ready first, see _prepare)."""
        assert self.standby is not None
        if self.standby == self.index:
            return True
        key = (self.setlist[self.standby].song_id, self.base_tempo)
        version = self._versions.get(key)
        if version is None:
            self._prepare(self.standby, again)
            return False
        self.index, self.cue_at, self._pending, self.tempo_job = self.standby, TOP, None, None
        self._install(version)
        self._publish_next()
        self._prepare_standby_after()
        return True

    def _start_follow(self, before: SetlistEntry, ended_at: int) -> None:
        """Start the song just installed (not armed in time) the gap of the entry `before` it after that one's
        end, on the audio's frames if the gap leaves the time."""
        gap = gap_frames(before.gap, self.timeline, self.sample_rate)
        plan = self._plan(TOP)
        self.player.went(self.segment.generation)
        self.transport.request(
            Play(plan.start_frame, plan.song_from_frame, at_device_frame=ended_at + gap + plan.start_frame - plan.song_from_frame)
        )
        self.player.wake()
        late_frames = self.device.frames_delivered - (ended_at + gap)
        self._followed(before, gap, plan.song_from_frame, ended_at)
        if late_frames > 0:
            log.warning("%s followed %.0f ms late: it was not ready within its gap", self.song.id, late_frames / self.sample_rate * 1000)

    def _followed(self, before: SetlistEntry, gap: int, song_from_frame: int, ended_at: int) -> None:
        """A follow's books, however it started: its take, the songs played, the next standby, the show log."""
        self.takes.went(1, song_from_frame)
        self.played.append(self.song.id)
        self.standby = self._after(self.index)
        self._publish_next(playing=True)
        if self.session.showlog is not None:
            self.session.showlog.record(
                {"song": self.song.id, "kind": "song", "result": "follows", "gap_frames": gap, "ended_device_frame": ended_at}
            )
        self._say(f"{self.song.id} follows {before.song_id} after {gap / self.sample_rate:.1f} s")

    def _record_change(self, ended_at: int | None) -> None:
        """From the song's `ended_at` to the next one ready to GO (None: it was ready at the end, armed to follow)."""
        clock = self.device.clock
        if clock is None:
            return
        seconds = (time.monotonic_ns() - clock.time_of_frame(ended_at)) / 1e9 if ended_at is not None else 0.0
        self.song_changes_s.append(seconds)
        if self.session.showlog is not None:
            self.session.showlog.record({"song": self.song.id, "kind": "song", "result": "standby", "ready_s": round(seconds, 4)})

    def _publish_next(self, playing: bool = False) -> None:
        """Monitors and remotes show the set: the song after the open one (while it plays, the standby
        song), and the whole set list with the playing and the standby song."""
        after = self.standby if playing else self._after(self.index)
        following = self.setlist[after].song_id if after is not None and not self.one_song else None
        songs = self.set_songs(playing)
        for output in self.outputs.values():
            output.next_song(self.song.id, following)
            output.set_list(songs)

    def set_songs(self, playing: bool) -> tuple[wire.SetSong, ...]:
        """The run's set: the entry open (playing, or standby while stopped) and the one GO (or the end of
        this song) plays next, which may be the playing song itself, chosen again."""
        titles = {song.id: song.title for song in self.loaded.show.songs}
        return tuple(
            wire.SetSong(
                number + 1,
                entry.song_id,
                titles.get(entry.song_id, entry.song_id),
                playing and number == self.index,
                number == self.standby,
                self._segue_into(number),
            )
            for number, entry in enumerate(self.setlist)
        )

    def _segue_into(self, index: int) -> bool:
        """Whether set entry `index` starts by itself when the one before it ends: the set list's follow,
        unless the operator chose it while that one plays (a song chosen waits for its GO)."""
        chosen = index == self.standby and self._standby_chosen
        return not self.one_song and not chosen and self.setlist.follows(index - 1)

    def _say(self, text: str) -> None:
        log.info("%s", text)

    # -- the audio thread -----------------------------------------------------------------
    def _render(self, device_frame: int, out: npt.NDArray[np.float32]) -> None:
        player = self.player
        player.render(device_frame, out)
        armed = self._armed  # one reference check a block while nothing is armed
        if armed is not None and armed.before is player and (handover := armed.hand_over(device_frame, len(out))) is not None:
            self.player, self._handed = armed.after, handover  # commands, screens and the next block: the next song
            armed.handover = handover
            armed.mix(handover, device_frame, out)

    def _song_runs(self, first_device_frame: int, frames: int) -> tuple[SongRun, ...]:
        runs = self.player.song_runs(first_device_frame, frames)
        handed = self._handed
        if handed is None or not first_device_frame < handed.ended_at <= first_device_frame + frames:
            return runs
        offset = handed.ended_at - first_device_frame  # the period of a hand-over: the song before to its end, then the next
        return period_runs(handed.segment, first_device_frame, offset, handed.schedule) + runs_from(runs, offset)

    def _audio_changed(self, health: AudioHealth, detail: str) -> None:
        """The audio watcher's word (its own thread): where the song was, to the log, show log and report."""
        segment, timeline = self.transport.segment, self.timeline
        song_frame = segment.song_frame_at(self.device.frames_delivered)
        seconds = Fraction(song_frame) / timeline.sample_rate
        position = timeline.tempo.position_at(seconds)
        where = f"{clock_text(float(seconds))} (bar {position.bar}.{position.beat})"
        self.session.incident(health, detail, where)
        if health in (AudioHealth.LOST, AudioHealth.STALLED):  # the take was not heard whole: its log says so
            self.takes.audio_incident(f"AUDIO {health.upper()} at {where}")
        assert self.session.showlog is not None
        self.session.showlog.record(
            {"song": self.song.id, "kind": "audio", "result": str(health), "detail": detail, "song_frame": song_frame}
        )

    # -- operator commands (any thread) ------------------------------------------------------------
    def _plan(self, at: BarBeat, player: SongPlayer | None = None) -> StartPlan:
        """Where a start from `at` begins, its count-in pre-roll handed to `player` (the one playing)."""
        player = player or self.player
        count_ins = feed_count_ins(player.version.song, player.routes, self.options.count_in_bars)
        plan = plan_start(player.version.timeline, at, count_ins, self.sounds)
        stems = player.stems
        player.preroll_stems = {**({"ltc": stems["ltc"]} if "ltc" in stems else {}), **plan.count_in}
        return plan

    def play(self, at: BarBeat | int | None = None) -> StartPlan:
        """Play the standby song from `at`, a bar or bar.beat (default: the cued one), with the song's count-in as pre-roll."""
        with self._lock:
            self._disarm()
            if self.standby is None and self.player.idle:
                raise ShowControlError("end of the set: choose a song with <, > or NN#")
            self.apply_pending_tempo()
            if self.standby is not None and self.standby != self.index and self.player.idle and not self._install_standby(again=True):
                job = self.standby_job
                ready = f" ({job.progress(time.monotonic()) * 100:.0f} %)" if job is not None else ""
                raise ShowControlError(f"{self.setlist[self.standby].song_id} is being made ready{ready}: GO again in a moment")
            if self.player.idle and (link := self.session.link) is not None:  # stopped: a lost device may be back
                link.reopen_if_standing_in()  # (a set's next GO may come at once, before the audio watch's turn)
            self.cue_at = self.cue_at if at is None else BarBeat(at) if isinstance(at, int) else at
            plan = self._plan(self.cue_at)
            self.takes.went(self.cue_at.bar, plan.song_from_frame)
            self.player.went(self.segment.generation)
            self.played.append(self.song.id)
            self._rebuild_jack_midi(plan.song_from_frame)
            self.transport.request(Play(plan.start_frame, plan.song_from_frame))
            if not self._standby_chosen:
                self.standby = self._after(self.index)
            self._publish_next(playing=True)
            self.player.wake()
            return plan

    def _rebuild_jack_midi(self, song_from_frame: int) -> None:
        """A take from a later bar: the JACK client's MIDI outputs get the state rebuilt before the transport
        starts, so that their first period writes it ahead of the take's first events."""
        on_locate = {name: spec.on_locate for name, spec in self.loaded.show.patch.outputs.items()}
        rebuilt = state_rebuild(self.player.version.order, song_from_frame, on_locate) if song_from_frame > 0 else ()
        for output in self.outputs.values():
            if isinstance(output, JackMidiOutput):
                output.rebuild(self.player.version.key, song_from_frame, rebuilt)

    def stop(self) -> None:
        """Interrupt: cues stop now, the track fades out (`stop_fade_s`), MIDI notes off, final state published.
        The song stopped stays standby (unless another was chosen while it played)."""
        with self._lock:
            self._disarm()
            self.takes.stopped()
            self.transport.request(Stop(self.shapes.fade_frames - self.audio.buffer_frames))
            if not self._standby_chosen:
                self.standby = self.index
            self._standby_chosen = False
            self._publish_next()
            self.player.wake()
            for output in self.outputs.values():
                output.panic()

    def loop(self, first_bar: int, last_bar: int) -> None:
        """Loop bars first_bar..last_bar (inclusive) until `release_loop`; takes effect when playback reaches the end."""
        with self._lock:
            self._disarm()  # a loop that reaches the end: the song does not end
            tempo, rate = self.timeline.tempo, self.timeline.sample_rate
            start, end = tempo.frame(BarBeat(first_bar), rate), tempo.frame(BarBeat(last_bar + 1), rate)
            if first_bar < 1 or last_bar < first_bar or end > self.timeline.end_frame:
                raise ShowControlError(f"cannot loop bars {first_bar}-{last_bar} of {self.song.id}")
            self.loop_bars = (first_bar, last_bar)
            self.transport.request(Loop(start, end))

    def release_loop(self) -> None:
        """The loop plays to its end once more, then the song carries on (a follow is armed again once it is released)."""
        with self._lock:
            self._disarm()
            self.loop_bars = None
            self.transport.request(Loop(None, None))

    def pause(self) -> None:
        with self._lock:
            self._disarm()
            self.transport.request(Pause())
            self.player.wake()

    def resume(self) -> None:
        with self._lock:
            self._disarm()
            self.transport.request(Resume())
            self.player.wake()

    def locate(self, at: BarBeat | int) -> None:
        """Cue a bar or bar.beat to start from (takes effect at the next play)."""
        at = BarBeat(at) if isinstance(at, int) else at
        if at.bar < 1 or self.timeline.tempo.frame(at, self.timeline.sample_rate) >= self.timeline.end_frame:
            raise ShowControlError(f"{start_text(at)} is not in {self.song.id}")
        self.cue_at = at

    @property
    def cue_bar(self) -> int:
        """The bar of the cued start, as the status line and remote state show it."""
        return self.cue_at.bar

    def select(self, choice: str) -> str:
        """Choose the standby song: a song id, a set-list number (1-based), `next` or `previous`. Never
        interrupts: while a song plays, the choice is what comes after it. What the screen says."""
        with self._lock:
            if self.one_song:
                if choice in (self.song.id, "1"):
                    return f"{self.song.id} is open"
                raise ShowControlError(f"this run plays {self.song.id} only (--song): run without --song for the whole set")
            self._disarm()  # another standby: not the follow armed
            index = self._choice(choice)
            playing = not self.player.idle
            self.standby = index
            self._standby_chosen = playing
            entry = self.setlist[index]
            if not playing and index == self.index:
                self._publish_next()
                return f"standby {index + 1}: {entry.song_id}"
            if not playing:
                self._install_standby(again=True)
            else:
                self._prepare(index, again=True)
            self._forget_others()
            self._publish_next(playing)
            return f"{'after this song' if playing else 'standby'} {index + 1}: {entry.song_id}"

    def _choice(self, choice: str) -> int:
        current = self.standby if self.standby is not None else len(self.setlist)
        if choice == "next":
            if current + 1 >= len(self.setlist):
                raise ShowControlError("the last song of the set is standby")
            return current + 1
        if choice == "previous":
            if current == 0:
                raise ShowControlError("the first song of the set is standby")
            return current - 1
        if choice.isdigit():
            if not 1 <= int(choice) <= len(self.setlist):
                raise ShowControlError(f"the set has songs 1-{len(self.setlist)}")
            return int(choice) - 1
        ids = [entry.song_id for entry in self.setlist]
        if choice not in ids:
            raise ShowControlError(f"no song {choice[:40]!r} in the set; songs: {', '.join(self.setlist.song_ids)}")
        later = [i for i, song_id in enumerate(ids) if song_id == choice and i >= current]  # a repeated song: its next place
        return later[0] if later else ids.index(choice)

    def set_tempo(self, tempo: Fraction) -> Preparation | None:
        """Rehearse the open song at `tempo` (0.5-2, pitch kept). A tempo still in memory switches at once
        (when stopped); another is made ready in the background and played from the next start."""
        if self.loaded.speed != 1 and not self.loaded.keep_pitch:
            raise ShowControlError("this run plays at a film --speed; rehearsal tempos need a run without --speed")
        if not Fraction(1, 2) <= tempo <= 2:
            raise ShowControlError(f"tempo {float(tempo) * 100:g} % is outside 50-200 %")
        with self._lock:
            self._disarm()  # the song open is the one the tempo is for
            key = (self.song.id, tempo)
            if key in self._versions:
                self.tempo_job, self._pending = None, self._versions[key]
                self.apply_pending_tempo()
                return None
            timeline = compile_at_speed(self.loaded, self.song.id, tempo)
            job = Preparation(self.song.id, tempo, time.monotonic(), stems_seconds(timeline, self._keep_pitch_at))
            self.tempo_job = job
            index = self.index
            prepare_in_background(job, lambda: self._make(index, tempo, timeline), self._tempo_ready)
            return job

    def _tempo_ready(self, job: Preparation, version: SongVersion) -> None:
        with self._lock:
            if self.tempo_job is job and job.song_id == self.song.id:
                self._keep(version)
                self._pending = version

    def apply_pending_tempo(self) -> bool:
        """While stopped: switch to a tempo made ready since; whether it did."""
        with self._lock:
            pending = self._pending
            if pending is None or not self.player.idle or self.player.dispatcher is None:
                return False
            self._pending = None
            if pending is not self.player.version:
                self._install(pending)
            return True

    # -- what the operator sees -----------------------------------------------------------
    @property
    def song(self) -> Song:
        return self.player.version.song

    @property
    def timeline(self) -> Timeline:
        return self.player.version.timeline

    @property
    def tempo(self) -> Fraction:
        return self.player.version.tempo

    @property
    def routes(self) -> Routes:
        return self.player.routes

    @property
    def transport(self) -> Transport:
        return self.player.transport

    @property
    def segment(self) -> Segment:
        return self.player.transport.segment

    @property
    def ready_to_go(self) -> bool:
        """Stopped on the standby song, not played since it came in: what a headless run GOes."""
        with self._lock:
            return self.standby == self.index and self.player.go_generation is None and self.player.quiet

    @property
    def set_done(self) -> bool:
        """Stopped after the set's last song (or, with --song, after its one song): a headless run ends."""
        with self._lock:
            return self.player.finished and (self.standby is None or self.one_song)

    @property
    def armed_follow(self) -> str | None:
        """The song armed to follow the one playing on the frame of its end (None: none is, or not yet)."""
        armed = self._armed
        return armed.after.version.song.id if armed is not None and armed.handover is None else None

    @property
    def standby_song(self) -> str | None:
        return self.setlist[self.standby].song_id if self.standby is not None else None

    def song_frame_now(self) -> int:
        """The song frame leaving the device now (clock + latency), for displays."""
        segment = self.transport.segment
        device = self.session.link.device if self.session.link is not None else None
        if device is None or device.clock is None or segment.state is not State.PLAYING:
            return segment.song_frame
        latency = device.latency_frames + self.audio.output_latency_ms * self.sample_rate / 1000
        taken = min(device.clock.frame_at(time.monotonic_ns()), device.frames_delivered)  # a stalled device: where it stopped
        return segment.song_frame_at(int(taken - latency))

    @property
    def outputs(self) -> dict[str, Output]:
        return self.session.outputs

    @property
    def showlog(self) -> ShowLog | None:
        return self.session.showlog

    @property
    def audio_incidents(self) -> list[str]:
        return self.session.audio_incidents

    @property
    def dispatcher(self) -> Dispatcher:
        assert self.player.dispatcher is not None
        return self.player.dispatcher

    @property
    def link(self) -> AudioLink:
        assert self.session.link is not None
        return self.session.link

    @property
    def device(self) -> Device:
        return self.link.device

    @property
    def preparation_notes(self) -> list[str]:
        """How songs were made ready where the stem maker could not do it as designed, for the report."""
        return [f"{text} ({count}x)" for text, count in self._stem_maker.notes.items()]

    @property
    def audio_left_open(self) -> bool:
        """Whether the audio device would not close (a hung sound server), also after a failed start."""
        return self.session.left_open

    @property
    def driver(self) -> str:
        return self.link.driver


def loaded_name(loaded: LoadedShow) -> str:
    """The show log's name for a whole show: its file's folder, or the file's name if that says more."""
    path = loaded.show.path
    return path.stem if path.stem != "show" else path.parent.name or "show"
