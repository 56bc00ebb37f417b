"""A show's set list as frozen values: the songs in play order, repeats allowed, and where one segues into the next.

The runtime walks it by index (a song may appear twice, so an id is not a place in the set); `engine.segue`
turns a follow's gap into frames.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction

from showcontrol.errors import SourceMark

NO_MARK = SourceMark("<none>", 0, 0)


@dataclass(frozen=True, slots=True)
class GapSeconds:
    """Silence between one song's end and the next song's start, in seconds of the clock on the wall."""

    seconds: Fraction

    def __str__(self) -> str:
        return f"{float(self.seconds):g} s"


@dataclass(frozen=True, slots=True)
class GapBars:
    """Silence as long as `bars` bars of the next song's first tempo and meter: the band keeps the pulse."""

    bars: int

    def __str__(self) -> str:
        return f"{self.bars} bar{'s' if self.bars != 1 else ''}"


Gap = GapSeconds | GapBars
NO_GAP = GapSeconds(Fraction(0))


@dataclass(frozen=True, slots=True)
class SetlistEntry:
    """One song in play order; with `follow`, the next entry starts by itself `gap` after this one ends."""

    song_id: str
    follow: bool = False
    gap: Gap = NO_GAP
    mark: SourceMark = field(default=NO_MARK, compare=False)

    def __post_init__(self) -> None:
        if not self.follow and self.gap != NO_GAP:
            raise ValueError(f"{self.song_id}: a gap is the pause before a follow, and this entry does not follow")


@dataclass(frozen=True, slots=True)
class Setlist:
    """The entries in play order. The last never follows: there is nothing to segue into."""

    entries: tuple[SetlistEntry, ...] = ()

    def __post_init__(self) -> None:
        if self.entries and self.entries[-1].follow:
            raise ValueError(f"the last entry ({self.entries[-1].song_id}) cannot follow into nothing")

    @classmethod
    def in_order(cls, song_ids: Iterable[str]) -> Setlist:
        """Every song once, as the show file lists them, none following: the default set list."""
        return cls(tuple(SetlistEntry(song_id) for song_id in song_ids))

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[SetlistEntry]:
        return iter(self.entries)

    def __getitem__(self, index: int) -> SetlistEntry:
        return self.entries[index]

    def after(self, index: int) -> int | None:
        """The index of the entry after `index`, or None at the end of the set."""
        return index + 1 if 0 <= index < len(self.entries) - 1 else None

    def before(self, index: int) -> int | None:
        """The index of the entry before `index`, or None at the top of the set."""
        return index - 1 if 0 < index < len(self.entries) else None

    def follows(self, index: int) -> bool:
        """Whether the entry after `index` starts by itself when this one ends."""
        return 0 <= index < len(self.entries) and self.entries[index].follow

    def first_index_of(self, song_id: str, start: int = 0) -> int | None:
        """The first entry from `start` on that plays `song_id` (`--song` opens the set there), or None."""
        return next((i for i in range(max(start, 0), len(self.entries)) if self.entries[i].song_id == song_id), None)

    @property
    def song_ids(self) -> tuple[str, ...]:
        """The distinct songs of the set, in the order they are first played."""
        return tuple(dict.fromkeys(entry.song_id for entry in self.entries))
