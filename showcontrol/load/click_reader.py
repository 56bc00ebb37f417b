"""Reading earpiece clicks from a show's YAML: the song's click and count-in, and performers' own feeds
with their accents and spoken guide calls."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import yaml

from showcontrol.load.reader import NAME, AnyKey, Fields, Node, Reader, suggestion
from showcontrol.model.show import ClickFeed, ClickSettings, CountIn, GuideCalls

CLICK_KEYS = ("enabled", "level_db", "subdivide", "accents", "calls")


def read_count_in(reader: Reader, node: Node) -> CountIn:
    if isinstance(node, yaml.ScalarNode):
        return CountIn(reader.integer(node, "count_in bars", 0, 8) or 0)
    fields = reader.fields(node, "count_in", ("bars", "voice"))
    if fields is None:
        return CountIn()
    bars = (reader.integer(n, "count_in bars", 0, 8) or 0) if (n := fields.get("bars")) is not None else 1
    voice = bool(reader.boolean(n, "count_in voice")) if (n := fields.get("voice")) is not None else False
    return CountIn(bars, voice)


def read_click(
    reader: Reader, node: Node, base: ClickSettings, what: str, sections: Sequence[str], extra: tuple[str, ...] = ()
) -> tuple[ClickSettings, Fields | None]:
    """A click's settings over `base` (a performer's feed starts from the song's click); and its fields, for `extra` keys."""
    if isinstance(node, yaml.ScalarNode):
        return replace(base, enabled=bool(reader.boolean(node, what))), None
    fields = reader.fields(node, what, (*CLICK_KEYS, *extra))
    if fields is None:
        return base, None
    settings = ClickSettings(
        enabled=bool(reader.boolean(n, f"{what} enabled")) if (n := fields.get("enabled")) is not None else base.enabled,
        level_db=float(reader.number(n, f"{what} level_db", -60, 0, "-6") or -6)
        if (n := fields.get("level_db")) is not None
        else base.level_db,
        subdivide=(reader.integer(n, f"{what} subdivide", 1, 4) or 1) if (n := fields.get("subdivide")) is not None else base.subdivide,
        accents=_accents(reader, n, what) if (n := fields.get("accents")) is not None else base.accents,
        calls=_calls(reader, n, what, sections) if (n := fields.get("calls")) is not None else base.calls,
    )
    return settings, fields


def _accents(reader: Reader, node: Node, what: str) -> tuple[int, ...]:
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    return tuple(b for item in items if (b := reader.integer(item, f"{what} accented beat", 1, 32)) is not None)


def _calls(reader: Reader, node: Node, what: str, sections: Sequence[str]) -> GuideCalls | None:
    """`calls: true`, or `{beats: 8, words: {verse2: second verse}}`: a spoken call before each section."""
    if isinstance(node, yaml.ScalarNode):
        return GuideCalls() if reader.boolean(node, f"{what} calls") else None
    fields = reader.fields(node, f"{what} calls", ("beats", "words"))
    if fields is None:
        return None
    beats = reader.integer(n, "calls beats", 1, 32) if (n := fields.get("beats")) is not None else None
    words: dict[str, str] = {}
    if (n := fields.get("words")) is not None and (given := reader.fields(n, "calls words", AnyKey())) is not None:
        for name, (key_node, value) in given.values.items():
            if name not in sections:
                reader.problem(key_node, f"calls words for {name!r}: the song has no such section", suggestion(name, sections))
            elif text := reader.text(value, f"call for {name!r}"):
                words[name] = text
    return GuideCalls(beats, words)


def read_click_feeds(reader: Reader, node: Node, click: ClickSettings, count_in: CountIn, sections: Sequence[str]) -> tuple[ClickFeed, ...]:
    """Performers' own earpiece feeds, by name; each starts from the song's click and count-in."""
    fields = reader.fields(node, "click feeds", AnyKey())
    feeds = []
    for name, (key_node, value) in fields.values.items() if fields else ():
        if not NAME.match(name):
            reader.problem(key_node, f"click feed name {name!r} has spaces or symbols", "use letters, digits, '-' and '_', e.g. dancer-a")
            continue
        settings, feed_fields = read_click(reader, value, click, f"click feed {name!r}", sections, ("count_in",))
        own = feed_fields.get("count_in") if feed_fields is not None else None
        feeds.append(ClickFeed(name, settings, read_count_in(reader, own) if own is not None else count_in, reader.mark(key_node)))
    return tuple(feeds)
