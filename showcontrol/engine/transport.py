"""Transport: what the audio callback plays next, and the song-frame <-> device-frame mapping it publishes.

Commands come from any thread through a deque (appends and pops are atomic) and take effect at the
start of the next audio block, where the callback also publishes a new `Segment`. Everything else
(dispatcher, status line) reads the latest segment, so they always agree with what the audio did.
Pure: frames are arguments; no clocks, no I/O.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    STOPPED = "stopped"
    PLAYING = "playing"
    PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class Segment:
    """From device frame `device_frame` on, song frame `song_frame` plays (if `playing`); bumped on every change.

    Until `song_from_frame` only the count-in plays (track and song click muted): a pre-roll before a bar.
    """

    generation: int
    state: State
    device_frame: int
    song_frame: int
    song_from_frame: int
    wrap_from: int | None = None  # a loop's next pass: the song frame (the loop's end) the previous pass reached

    def song_frame_at(self, device_frame: int) -> int:
        return self.song_frame + (device_frame - self.device_frame) if self.state is State.PLAYING else self.song_frame

    def device_frame_of(self, song_frame: int) -> int:
        return self.device_frame + (song_frame - self.song_frame)


@dataclass(frozen=True, slots=True)
class Play:
    """Play from `start_frame` (the pre-roll's start); song audio and cues begin at `song_from_frame`.

    With `at_device_frame`, `start_frame` sounds at that device frame, to the frame, however late in the
    block before it the command is taken: silence until then (a segue's gap). Asked too late, it plays at once.
    With `after_generation` (a follow handed over in the audio callback, on a transport made while another
    song played) its segments count on from that generation, the last of the song before, never below it.
    """

    start_frame: int
    song_from_frame: int
    at_device_frame: int | None = None
    after_generation: int | None = None


@dataclass(frozen=True, slots=True)
class Stop:
    """Stop now: no further cues. With `fade_frames` the track fades out over that many frames (an
    interrupted number), while click and timecode stop at once."""

    fade_frames: int = 0


@dataclass(frozen=True, slots=True)
class Loop:
    """Loop song frames [start_frame, end_frame) seamlessly until released with `Loop(None, None)`;
    a released loop finishes its pass and playback carries on."""

    start_frame: int | None
    end_frame: int | None


@dataclass(frozen=True, slots=True)
class Tail:
    """The fade after an interrupting stop: song frames from `song_frame` sound from `device_frame` on,
    fading out over `frames`."""

    device_frame: int
    song_frame: int
    frames: int

    def song_frame_at(self, device_frame: int) -> int:
        return self.song_frame + (device_frame - self.device_frame)

    def active(self, device_frame: int) -> bool:
        return self.device_frame <= device_frame < self.device_frame + self.frames


@dataclass(frozen=True, slots=True)
class Pause:
    pass


@dataclass(frozen=True, slots=True)
class Resume:
    pass


Command = Play | Stop | Pause | Resume | Loop


class Transport:
    """Owned by the audio callback: `next_block` is the only method it calls."""

    def __init__(self, end_frame: int, generation: int = 0) -> None:
        """`generation`: the last one of the transport this one replaces (another song, another tempo), so
        that generations keep counting up across a show."""
        self.end_frame = end_frame
        self.segment = Segment(generation, State.STOPPED, 0, 0, 0)
        self.ended_at: int | None = None  # the device frame where the song's end sounded, once it got there
        self.tail: Tail | None = None
        self.loop: tuple[int, int] | None = None
        self._commands: deque[Command] = deque()

    def request(self, command: Command) -> None:
        """Any thread: queue a command for the next audio block."""
        self._commands.append(command)

    @property
    def pending(self) -> bool:
        """Whether a command waits for the next audio block."""
        return bool(self._commands)

    def next_block(self, device_frame: int, frames: int) -> Segment:
        """Apply queued commands at `device_frame`, advance over `frames`, and return the segment to render."""
        while self._commands:
            self._apply(self._commands.popleft(), device_frame)
        segment = self.segment
        if segment.state is State.PLAYING and self.loop is not None:
            start, end = self.loop
            position = segment.song_frame_at(device_frame)
            if position <= end < position + frames:  # the loop's end falls in this block: wrap there, to the frame
                self._publish(State.PLAYING, segment.device_frame_of(end), start, start, wrap_from=end)
                segment = self.segment
        if segment.state is State.PLAYING and segment.song_frame_at(device_frame) >= self.end_frame:
            self._end(device_frame)
        return self.segment

    def end_in_block(self, device_frame: int, frames: int) -> int | None:
        """After the block of `frames` at `device_frame` was rendered: the device frame where the song's end
        sounds, if it falls in that block and the next block would end the song there (nothing queued, no
        loop reaching the end). A follow is handed over on it; None: the song does not end in this block."""
        segment = self.segment
        if segment.state is not State.PLAYING or self._commands or (self.loop is not None and self.loop[1] >= self.end_frame):
            return None
        end = segment.device_frame_of(self.end_frame)
        return end if device_frame < end <= device_frame + frames else None

    def end_now(self, next_device_frame: int) -> None:
        """End the song as the block at `next_device_frame` would (after `end_in_block` said it ends): the
        callback renders the song that follows instead, and this transport is not advanced again."""
        self._end(next_device_frame)

    def _end(self, device_frame: int) -> None:
        self.ended_at = self.segment.device_frame_of(self.end_frame)
        self._publish(State.STOPPED, device_frame, self.end_frame, self.end_frame)

    def _apply(self, command: Command, device_frame: int) -> None:
        current = self.segment
        position = current.song_frame_at(device_frame)
        if isinstance(command, Play):
            self.tail = None
            wait = max(command.at_device_frame - device_frame, 0) if command.at_device_frame is not None else 0
            self._publish(State.PLAYING, device_frame, command.start_frame - wait, command.song_from_frame, after=command.after_generation)
        elif isinstance(command, Stop) and current.state is not State.STOPPED:
            if command.fade_frames and current.state is State.PLAYING and position >= current.song_from_frame:
                self.tail = Tail(device_frame, position, command.fade_frames)
            self._publish(State.STOPPED, device_frame, position, current.song_from_frame)
        elif isinstance(command, Pause) and current.state is State.PLAYING:
            self._publish(State.PAUSED, device_frame, position, current.song_from_frame)
        elif isinstance(command, Loop):
            self.loop = None if command.start_frame is None or command.end_frame is None else (command.start_frame, command.end_frame)
        elif isinstance(command, Resume) and current.state is State.PAUSED:
            self._publish(State.PLAYING, device_frame, position, current.song_from_frame)

    def _publish(
        self, state: State, device_frame: int, song_frame: int, song_from_frame: int, wrap_from: int | None = None, after: int | None = None
    ) -> None:
        """One new segment, whole: readers see the one before or this one, never half of it."""
        generation = max(self.segment.generation, after if after is not None else -1) + 1
        self.segment = Segment(generation, state, device_frame, song_frame, song_from_frame, wrap_from)
