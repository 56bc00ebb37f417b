"""The types of a profile action's parameters (`params: {cue: number, list: integer}` in hardware/profiles/*.yaml).

A value put into an OSC address or MQTT topic becomes part of a path on the device: `cue: "1/../../key/go_0"`
must never reach `/eos/cue/1/1/../../key/go_0/fire`. So every type but `text` is a word without `/`, whitespace
or `..`, and `text` (a console command line, a message to show) is allowed only in arguments and payloads.
"""

from __future__ import annotations

import math
import re
from typing import Any

PARAM_TYPES = {
    "number": "a number such as 12 or 12.5",
    "integer": "a whole number",
    "level": "a level from 0 to 1",
    "name": "a name of letters, digits, '-', '_' or '.'",
    "text": "text",
}
IN_PATHS = ("address", "topic")  # the template keys whose fields become part of a path on the device
_NUMBER = re.compile(r"^\d{1,9}(\.\d{1,6})?$")
_NAME = re.compile(r"^[A-Za-z0-9_.+-]{1,64}$")
MAX_TEXT = 1000


def inferred_type(fmt: str | None) -> str:
    """An undeclared field's type, from its format: `{n:02d}` an integer, `{x:f}` a number, else a name."""
    return "integer" if fmt and fmt.endswith("d") else "number" if fmt else "name"


def checked(kind: str, value: Any) -> Any | None:
    """`value` as a parameter of type `kind` takes it (a number for number, integer, level), or None if it does not fit."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None  # a YAML 1.1 boolean (`on`), a list, a mapping, nothing
    if kind == "text":
        return value if isinstance(value, str) and len(value) <= MAX_TEXT else None
    if kind == "name":
        text = str(value)
        return value if _NAME.match(text) and ".." not in text else None
    if isinstance(value, str):
        if not _NUMBER.match(value.strip()):
            return None
        value = float(value) if "." in value else int(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if kind == "integer":
        return int(value) if float(value).is_integer() and 0 <= value < 2**31 else None
    if kind == "level":
        return float(value) if 0 <= value <= 1 else None
    return value if 0 <= value < 1e9 and _NUMBER.match(f"{value:g}" if isinstance(value, float) else str(value)) else None
