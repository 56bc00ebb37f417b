"""Reading a song's tempo map from its YAML: entries, meters with their beat groups, beat units."""

from __future__ import annotations

import re
from fractions import Fraction

import yaml

from showcontrol.errors import quoted
from showcontrol.load.reader import Node, Reader
from showcontrol.model.show import Meter, TempoChange, default_groups

TEMPO_KEYS = ("bar", "bpm", "meter", "groups", "beat_unit", "ramp_bars")


_METER = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


TEMPO_EXAMPLE = "tempo: [{bar: 1, bpm: 120, meter: 4/4}]"


def read_tempo(reader: Reader, node: Node) -> tuple[TempoChange, ...]:
    """The tempo map, or () when a value of it was reported bad: a map without that entry (or with the meter before
    it) would only add false problems, "starts at bar 25" or "bar 22 is in 4/4", to the one the user must fix."""
    reported = len(reader.problems)
    entries = reader.items(node, "tempo")
    if not entries and isinstance(node, yaml.SequenceNode):
        reader.problem(node, "the tempo map is empty", f"add at least one entry: {TEMPO_EXAMPLE}")
    changes: list[TempoChange] = []
    bpm: Fraction | None = None
    meter = Meter(4, 4, (1, 1, 1, 1))
    for entry in entries:
        fields = reader.fields(entry, "tempo entry", TEMPO_KEYS, required=("bar",))
        if fields is None:
            continue
        bar = reader.integer(n, "tempo bar", 1, 99999) if (n := fields.get("bar")) is not None else None
        if (n := fields.get("meter")) is not None:
            meter = _meter(reader, n, fields.get("groups")) or meter
        elif (n := fields.get("groups")) is not None:
            meter = _meter_groups(reader, n, meter.numerator, meter.denominator) or meter
        beat_unit = read_beat_unit(reader, n) if (n := fields.get("beat_unit")) is not None else Fraction(1, 4)
        if (n := fields.get("bpm")) is not None:
            value = reader.number(n, "bpm", 10, 500, "120")
            bpm = value * beat_unit * 4 if value is not None and beat_unit is not None else bpm
        elif not changes:
            reader.problem(entry, "the first tempo entry has no bpm", "add bpm: ..., e.g. {bar: 1, bpm: 120, meter: 4/4}")
        ramp = (reader.integer(n, "ramp_bars", 1, 999) or 0) if (n := fields.get("ramp_bars")) is not None else 0
        if bar is not None and bpm is not None:
            changes.append(TempoChange(bar, bpm, meter, ramp, reader.mark(entry)))
    return tuple(changes) if len(reader.problems) == reported else ()


def _meter(reader: Reader, node: Node, groups_node: Node | None) -> Meter | None:
    text = str(node.value) if isinstance(node, yaml.ScalarNode) else ""
    match = _METER.match(text)
    if not match:
        reader.problem(node, f"meter {quoted(text or 'value')} is not a time signature", "write it like 4/4, 6/8 or 7/8")
        return None
    numerator, denominator = int(match.group(1)), int(match.group(2))
    if not 1 <= numerator <= 32:
        reader.problem(node, f"meter {text}: a bar needs 1 to 32 beats, not {numerator}", "e.g. 4/4")
        return None
    if denominator not in (1, 2, 4, 8, 16, 32):
        reader.problem(node, f"meter {text}: the note value {denominator} is not a power of two", "use 2, 4, 8 or 16, e.g. 7/8")
        return None
    if groups_node is not None:
        return _meter_groups(reader, groups_node, numerator, denominator)
    return Meter(numerator, denominator, default_groups(numerator, denominator))


def _meter_groups(reader: Reader, node: Node, numerator: int, denominator: int) -> Meter | None:
    groups = [g for item in reader.items(node, "groups") if (g := reader.integer(item, "group size", 1, 32)) is not None]
    if sum(groups) != numerator:
        reader.problem(
            node, f"groups add up to {sum(groups)}, but {numerator}/{denominator} has {numerator} beats", "e.g. groups: [2, 2, 3] for 7/8"
        )
        return None
    return Meter(numerator, denominator, tuple(groups))


def read_beat_unit(reader: Reader, node: Node) -> Fraction | None:
    try:
        unit = Fraction(str(node.value)) if isinstance(node, yaml.ScalarNode) else None
    except (ValueError, ZeroDivisionError):
        unit = None
    if unit is None or unit <= 0 or unit > 2 or unit.denominator & (unit.denominator - 1):
        reader.problem(
            node,
            f"beat_unit {quoted(str(getattr(node, 'value', '')))} is not a note value",
            "write 1/4 (quarter, the default), 1/8, 3/8 (dotted quarter) or 1/2",
        )
        return None
    return unit
