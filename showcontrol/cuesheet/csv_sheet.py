"""The cue sheet as CSV for the rights agencies: one row per interested party (writer or publisher) of
each use, the production's header and the use repeated on every row, as flat cue-sheet imports take it.
A use without parties still has its row."""

from __future__ import annotations

import csv
import io

from showcontrol.cuesheet.sheet import CueSheet, Use, duration_text, iso_duration
from showcontrol.model.rights import DDEX_USES, ORIGINS, USAGES, Party, isrc_text, iswc_text, share_text

COLUMNS = (
    "Series Title", "Episode Title", "Episode Number", "Production Number", "Date", "Production Company",
    "Sequence", "Cue Number", "Cue Title", "Usage", "Usage Description", "Timing In", "Timing Out",
    "Duration", "Duration Seconds", "Duration ISO 8601", "Artist", "ISRC", "ISWC", "Label",
    "Party Type", "Role", "Party Name", "Society", "Share %", "IPI",
    "DDEX CueUseType", "DDEX VocalType", "DDEX VisualPerceptionType", "DDEX ThemeType", "DDEX CueOrigin",
    "Song", "Take", "Mashup",
)  # fmt: skip


def cue_sheet_csv(sheet: CueSheet) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180, what spreadsheet imports expect
    writer.writerow(COLUMNS)
    head = sheet.header
    header = (head.series, head.episode, head.episode_number, head.production, head.date, head.company)
    for use in sheet.uses:
        parties: list[tuple[str, Party | None]] = [("writer", p) for p in use.rights.writers]
        parties += [("publisher", p) for p in use.rights.publishers]
        for kind, party in parties or [("", None)]:
            writer.writerow((*header, *_use_cells(use), *_party_cells(kind, party), *_ddex_cells(use), use.song, use.take, use.mashup))
    return buffer.getvalue()


def _use_cells(use: Use) -> tuple[str, ...]:
    rights = use.rights
    return (
        str(use.sequence),
        use.cue,
        rights.title,
        rights.usage,
        USAGES.get(rights.usage, ""),
        use.timing_in,
        use.timing_out,
        duration_text(use.duration_s),
        f"{use.duration_s:.1f}",
        iso_duration(use.duration_s),
        rights.artist,
        isrc_text(rights.isrc),
        iswc_text(rights.iswc),
        rights.label,
    )


def _ddex_cells(use: Use) -> tuple[str, ...]:
    rights = use.rights
    return (*DDEX_USES.get(rights.usage, ("", "", "", "")), ORIGINS[rights.origin or "preexisting"])


def _party_cells(kind: str, party: Party | None) -> tuple[str, ...]:
    if party is None:
        return ("", "", "", "", "", "")
    return (kind, party.role, party.name, party.society, share_text(party.share), party.ipi)
