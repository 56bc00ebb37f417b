"""Commands and replies as plain values, and the one parser every input shares (pure: no I/O, no clock).

An input names a verb and its arguments (OSC `/showcontrol/locate 17`, MQTT `{"command": "locate", "args":
[17]}`, a foot switch mapped to `go`); `parse_command` turns them into a frozen command or an error reply,
so what a lighting desk, a phone and the space bar can ask is exactly the same set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any


@dataclass(frozen=True, slots=True)
class Go:
    """Play from the cued bar (or from `bar`): an error while already playing."""

    bar: int | None = None


@dataclass(frozen=True, slots=True)
class Stop:
    pass


@dataclass(frozen=True, slots=True)
class Pause:
    pass


@dataclass(frozen=True, slots=True)
class Resume:
    pass


@dataclass(frozen=True, slots=True)
class Panic:
    """Stop now and silence every output (all notes off), whatever the state."""


@dataclass(frozen=True, slots=True)
class Status:
    pass


@dataclass(frozen=True, slots=True)
class Locate:
    """A bar number, or a section by name."""

    bar: int | None = None
    section: str | None = None


@dataclass(frozen=True, slots=True)
class SelectSong:
    """A song id, a set-list number (1-based), `next` or `previous`."""

    song: str


@dataclass(frozen=True, slots=True)
class SetLoop:
    """Loop a section (by name), the bars `first`-`last`, or, with neither, release the loop (`off`)."""

    section: str | None = None
    first: int | None = None
    last: int | None = None


@dataclass(frozen=True, slots=True)
class SetTempo:
    tempo: Fraction  # 1 is the song's own tempo


Command = Go | Stop | Pause | Resume | Panic | Status | Locate | SelectSong | SetLoop | SetTempo

VERBS = ("go", "stop", "pause", "resume", "locate", "song", "loop", "tempo", "panic", "status")


@dataclass(frozen=True, slots=True)
class Reply:
    """What the sender is told: ok with a short text (and, for status, the state), or an error with its reason."""

    ok: bool
    text: str
    state: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, ("text" if self.ok else "error"): self.text, **({"state": dict(self.state)} if self.state else {})}


Handle = Callable[[Command | Reply, str], Reply]
"""What every input calls with a command (or a parser's error reply) and its source: Controller.handle."""


def error(reason: str) -> Reply:
    return Reply(False, reason)


def parse_command(verb: str, args: Sequence[object] = ()) -> Command | Reply:
    """`verb` and its arguments as any input carries them; an error Reply says what is wrong and how to ask."""
    verb = verb.strip().lower()
    if verb not in VERBS:
        return error(f"unknown command {verb[:40]!r}; one of {', '.join(VERBS)}")
    plain: dict[str, Command] = {"stop": Stop(), "pause": Pause(), "resume": Resume(), "panic": Panic(), "status": Status()}
    if verb in plain:
        return plain[verb]
    first = args[0] if args else None
    if verb == "go":
        if first is None:
            return Go()
        bar = _bar(first)
        return Go(bar) if bar is not None else error(f"go takes a bar number, not {_shown(first)}")
    if verb == "locate":
        if first is None:
            return error("locate needs a bar number or a section name")
        bar = _bar(first)
        return (
            Locate(bar=bar)
            if bar is not None
            else Locate(section=str(first))
            if isinstance(first, str) and first
            else error(f"locate takes a bar number or a section name, not {_shown(first)}")
        )
    if verb == "song":
        if first is None or isinstance(first, bool) or not isinstance(first, str | int) or str(first).strip() == "":
            return error("song needs an id, a set-list number, next or previous")
        return SelectSong(str(first).strip())
    if verb == "loop":
        return _loop(args)
    return _tempo(first)


def _loop(args: Sequence[object]) -> SetLoop | Reply:
    if not args or args[0] == "off":
        return SetLoop()
    if len(args) >= 2:
        first, last = _bar(args[0]), _bar(args[1])
        if first is None or last is None or last < first:
            return error("loop takes a section, off, or two bars (first, last)")
        return SetLoop(first=first, last=last)
    if isinstance(args[0], str) and "-" in args[0]:
        return _loop(args[0].split("-", 1))
    if isinstance(args[0], str) and args[0]:
        return SetLoop(section=args[0])
    return error(f"loop takes a section, off, or two bars, not {_shown(args[0])}")


def _tempo(value: object) -> SetTempo | Reply:
    """A percent: 75, 75.5, '75%'."""
    text = str(value).strip().rstrip("%") if isinstance(value, str | int | float) and not isinstance(value, bool) else ""
    try:
        percent = Fraction(text)
    except (ValueError, ZeroDivisionError):
        return error(f"tempo takes a percent (50-200), not {_shown(value)}")
    if not 50 <= percent <= 200:
        return error(f"tempo {float(percent):g} % is outside 50-200 %")
    return SetTempo(percent / 100)


def _bar(value: object) -> int | None:
    """A bar number from an int, an integral float (some desks send only floats) or digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 7:
        return int(value.strip())
    return None


def _shown(value: object) -> str:
    """An argument as an error repeats it: short, and never a raw control character."""
    text = repr(value)
    return (text[:40] + "…") if len(text) > 40 else text
