"""Reading a song's (or a mashup track's) `rights:`: titles, writers and publishers with their shares and
societies, ISRC, ISWC, label and usage, each checked where it is written."""

from __future__ import annotations

import re
from collections.abc import Mapping
from fractions import Fraction

import yaml

from showcontrol.load.reader import Node, Reader, suggestion
from showcontrol.model.rights import (
    HUNDRED,
    ORIGINS,
    PUBLISHER_ROLES,
    SOCIETIES,
    USAGES,
    WRITER_ROLES,
    Party,
    Rights,
    iswc_check_digit,
    share_text,
)

RIGHTS_KEYS = ("title", "artist", "writers", "publishers", "isrc", "iswc", "label", "usage", "origin", "notes")
PARTY_KEYS = ("name", "role", "share", "society", "ipi")
_ISRC = re.compile(r"^([A-Z]{2})-?([A-Z0-9]{3})-?(\d{2})-?(\d{5})$")
_ISWC = re.compile(r"^T-?(\d{3})\.?(\d{3})\.?(\d{3})-?(\d)$")
_IPI = re.compile(r"^\d{9,11}$")
ALIASES = {"lyricist": "A", "lyrics": "A", "music": "C", "publisher": "E"}  # words people write for a role


def read_rights(reader: Reader, node: Node) -> Rights | None:
    fields = reader.fields(node, "rights", RIGHTS_KEYS)
    if fields is None:
        return None

    def text(key: str) -> str:
        value = fields.get(key)
        return (reader.text(value, f"rights {key}") or "") if value is not None else ""

    writers_node, publishers_node = fields.get("writers"), fields.get("publishers")
    return Rights(
        title=text("title"),
        artist=text("artist"),
        writers=_parties(reader, writers_node, "writer", WRITER_ROLES, "CA") if writers_node is not None else (),
        publishers=_parties(reader, publishers_node, "publisher", PUBLISHER_ROLES, "E") if publishers_node is not None else (),
        isrc=_isrc(reader, n) if (n := fields.get("isrc")) is not None else "",
        iswc=_iswc(reader, n) if (n := fields.get("iswc")) is not None else "",
        label=text("label"),
        usage=_code(reader, n, "usage", USAGES) if (n := fields.get("usage")) is not None else "",
        origin=(reader.choice(n, "rights origin", ORIGINS) or "") if (n := fields.get("origin")) is not None else "",
        mark=reader.mark(node),
    )


def _parties(reader: Reader, node: Node, what: str, roles: Mapping[str, str], default_role: str) -> tuple[Party, ...]:
    """Writers (or publishers), whose shares add up to 100 %: given for each, or for none (then split equally)."""
    read = [(item, _party(reader, item, what, roles, default_role)) for item in reader.items(node, f"{what}s")]
    parties = [(item, party, share) for item, (party, share) in read if party is not None]
    given = [share for _, _, share in parties if share is not None]
    if given and len(given) < len(parties):
        missing = next(item for item, _, share in parties if share is None)
        reader.problem(missing, f"this {what} has no share, but other {what}s have", f"give every {what} a share, e.g. share: 50")
        return ()
    if given and sum(given) != HUNDRED:
        reader.problem(
            node,
            f"the {what}s' shares add up to {share_text(sum(given, Fraction(0)))} %, not 100 %",
            f"the {what}s share 100 % between them ({' + '.join(share_text(s) for s in given)}); fix the splits",
        )
        return ()
    if not given and len(parties) > 1:
        reader.warn(node, f"no shares given for the {what}s: split equally", f"give each {what} its share from the publishing agreement")
    equal = HUNDRED / max(len(parties), 1)
    return tuple(Party(p.name, p.role, share if share is not None else equal, p.society, p.ipi, p.mark) for _, p, share in parties)


def _party(reader: Reader, node: Node, what: str, roles: Mapping[str, str], default_role: str) -> tuple[Party | None, Fraction | None]:
    fields = reader.fields(node, what, PARTY_KEYS, required=("name",))
    if fields is None or (name_node := fields.get("name")) is None or not (name := reader.text(name_node, f"{what} name")):
        return None, None
    role = default_role
    if (n := fields.get("role")) is not None:
        role = _code(reader, n, f"{what} role", roles) or default_role
    share = reader.number(n, f"{what} share", 0, 100, "50") if (n := fields.get("share")) is not None else None
    if share == 0:
        reader.problem(
            fields.get("share") or node, f"a {what} with a 0 % share is not on the cue sheet", "remove them, or give their share"
        )
    society = ""
    if (n := fields.get("society")) is not None and (word := reader.text(n, f"{what} society")):
        society = word.upper()
        if society not in SOCIETIES:
            reader.warn(n, f"society {word!r} is not one showcontrol knows", f"check its spelling: {suggestion(society, SOCIETIES)}")
    ipi = ""
    if (n := fields.get("ipi")) is not None:
        ipi = str(n.value) if isinstance(n, yaml.ScalarNode) else ""
        if not _IPI.match(ipi):
            reader.problem(n, f"IPI number {ipi or n.tag!r} must be 9 to 11 digits", "copy it from the society's repertoire database")
            ipi = ""
    return Party(name, role, share or Fraction(0), society, ipi, reader.mark(node)), share


def _isrc(reader: Reader, node: Node) -> str:
    text = str(node.value).strip().upper() if isinstance(node, yaml.ScalarNode) else ""
    match = _ISRC.match(text)
    if match is None:
        reader.problem(
            node,
            f"ISRC {text or 'value'!r} is not CC-XXX-YY-NNNNN",
            "12 characters: country, registrant, year and number, e.g. GB-XYZ-26-00001 (from the label)",
        )
        return ""
    return "".join(match.groups())


def _iswc(reader: Reader, node: Node) -> str:
    text = str(node.value).strip().upper() if isinstance(node, yaml.ScalarNode) else ""
    match = _ISWC.match(text)
    if match is None:
        reader.problem(node, f"ISWC {text or 'value'!r} is not T-DDD.DDD.DDD-C", "T, nine digits and a check digit, e.g. T-034.524.680-1")
        return ""
    digits, check = "".join(match.groups()[:3]), int(match.group(4))
    expected = iswc_check_digit(digits)
    if check != expected:
        reader.problem(
            node,
            f"ISWC {text} has check digit {check}, but its digits give {expected}",
            f"copy it again from the society's database (T-{digits[:3]}.{digits[3:6]}.{digits[6:]}-{expected} would be valid)",
        )
        return ""
    return f"T{digits}{check}"


def _code(reader: Reader, node: Node, what: str, codes: Mapping[str, str]) -> str:
    """A code of `codes` (VV, CA, ...), written as the code or as its words (visual vocal, composer/author)."""
    word = str(node.value).strip() if isinstance(node, yaml.ScalarNode) else ""
    words = {name: code for code, name in codes.items()} | ALIASES
    if word.upper() in codes:
        return word.upper()
    if words.get(word.lower()) in codes:
        return words[word.lower()]
    close = suggestion(word.lower(), [name for name, code in words.items() if code in codes])
    listed = ", ".join(f"{code} ({name})" for code, name in codes.items())
    reader.problem(node, f"{what} {word or 'value'!r} is not known", close if close.startswith("did you") else f"write one of {listed}")
    return ""
