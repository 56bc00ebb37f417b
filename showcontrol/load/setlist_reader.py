"""Reading a show's `setlist:`: song ids in play order, or mappings that also say where one segues into the next."""

from __future__ import annotations

from collections.abc import Collection

import yaml

from showcontrol.errors import quoted
from showcontrol.load.limits import MAX_GAP_BARS, MAX_GAP_SECONDS, MAX_SETLIST_ENTRIES
from showcontrol.load.reader import NULL_TAG, Node, Reader, suggestion
from showcontrol.model.setlist import NO_GAP, Gap, GapBars, GapSeconds, Setlist, SetlistEntry

ENTRY_KEYS = ("song", "follow", "gap", "notes")
ENTRY_FORMS = "write a song id (- intro) or a mapping (- {song: intro, follow: true, gap: 2})"


def read_setlist(reader: Reader, node: Node, song_ids: Collection[str]) -> Setlist:
    """The set list as written; an empty Setlist (the show's default order) where it cannot be read."""
    items = reader.items(node, "setlist")
    if isinstance(node, yaml.SequenceNode) and not items:
        reader.problem(node, "the set list is empty", "list the songs in play order, or remove setlist: to play them in file order")
        return Setlist()
    if len(items) > MAX_SETLIST_ENTRIES:
        reader.problem(
            node, f"the set list has {len(items):,} entries; the limit is {MAX_SETLIST_ENTRIES:,}", "split the show into several shows"
        )
        return Setlist()
    entries = [entry for item in items if (entry := _entry(reader, item, song_ids)) is not None]
    last_read = len(entries) > 0 and entries[-1].mark == reader.mark(items[-1])
    if last_read and entries[-1].follow:
        reader.problem(
            _key_node(items[-1], "follow") or items[-1],
            f"the last song of the set list ({entries[-1].song_id}) cannot follow: nothing comes after it",
            "remove follow: (and gap:) from the last entry",
        )
        return Setlist()
    if len(entries) < len(items):
        return Setlist()  # each unreadable entry was reported; a partial order would only mislead what follows
    setlist = Setlist(tuple(entries))
    for song_id in song_ids:
        if song_id not in setlist.song_ids:
            reader.warn(node, f"song {song_id!r} is not in the set list, so only `run --song {song_id}` plays it", "add it, if it belongs")
    return setlist


def _entry(reader: Reader, node: Node, song_ids: Collection[str]) -> SetlistEntry | None:
    if isinstance(node, yaml.ScalarNode):
        song_id = _song_id(reader, node, song_ids)
        return SetlistEntry(song_id, mark=reader.mark(node)) if song_id is not None else None
    if not isinstance(node, yaml.MappingNode):
        reader.problem(node, "a set list entry must be a song id or a mapping", ENTRY_FORMS)
        return None
    fields = reader.fields(node, "set list entry", ENTRY_KEYS, required=("song",))
    if fields is None or (song_node := fields.get("song")) is None:
        return None
    song_id = _song_id(reader, song_node, song_ids)
    follow = reader.boolean(n, "follow") if (n := fields.get("follow")) is not None else False
    gap = _gap(reader, n) if (n := fields.get("gap")) is not None else NO_GAP
    if gap is not None and gap != NO_GAP and follow is False:
        reader.problem(
            fields.values["gap"][0],
            "gap: is the pause before the next song starts by itself, but this entry does not follow",
            "add follow: true, or remove gap:",
        )
        return None
    if song_id is None or follow is None or gap is None:
        return None
    return SetlistEntry(song_id, follow, gap, reader.mark(node))


def _song_id(reader: Reader, node: Node, song_ids: Collection[str]) -> str | None:
    if not (isinstance(node, yaml.ScalarNode) and node.tag != NULL_TAG):
        reader.problem(node, "a set list entry must be a song id or a mapping", ENTRY_FORMS)
        return None
    song_id = reader.text(node, "set list song")
    if song_id is not None and song_id not in song_ids:
        reader.problem(node, f"song {quoted(song_id)} is not in the show", suggestion(song_id[:100], song_ids))
        return None
    return song_id


def _gap(reader: Reader, node: Node) -> Gap | None:
    """`gap: 2.5` (seconds), `gap: {seconds: 2.5}` or `gap: {bars: 2}` (of the next song's first tempo)."""
    what = f"gap must be seconds from 0 to {MAX_GAP_SECONDS}, or {{bars: N}}"
    if isinstance(node, yaml.ScalarNode):
        seconds = reader.number(node, "gap (seconds)", 0, MAX_GAP_SECONDS, "2.5")
        return GapSeconds(seconds) if seconds is not None else None
    fields = reader.fields(node, "gap", ("seconds", "bars"))
    if fields is None:
        return None
    if len(fields.values) != 1:
        reader.problem(node, what, "write gap: 2.5 (seconds) or gap: {bars: 2}, one of the two")
        return None
    if (n := fields.get("bars")) is not None:
        bars = reader.integer(n, "gap bars", 0, MAX_GAP_BARS, 2)
        return GapBars(bars) if bars is not None else None
    seconds_node = fields.get("seconds")
    assert seconds_node is not None
    seconds = reader.number(seconds_node, "gap seconds", 0, MAX_GAP_SECONDS, "2.5")
    return GapSeconds(seconds) if seconds is not None else None


def _key_node(node: Node, key: str) -> Node | None:
    if isinstance(node, yaml.MappingNode):
        return next((k for k, _ in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)
    return None
