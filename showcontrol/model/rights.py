"""A song's rights data as frozen values: what a music cue sheet reports about each use.

The work (title, writers, publishers, their shares and societies, ISWC), the recording (artist,
ISRC, label) and how the production uses it (the usage code). Codes follow the cue sheets the US
societies take (ASCAP/BMI through RapidCue) and CWR's role codes; docs/takes-and-cuesheets.md cites them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from showcontrol.errors import SourceMark

NO_MARK = SourceMark("<none>", 0, 0)

USAGES = {  # code: what it means on screen
    "VV": "visual vocal",
    "VI": "visual instrumental",
    "BV": "background vocal",
    "BI": "background instrumental",
    "MT": "main title",
    "ET": "end title",
    "OT": "opening theme",
    "CT": "closing theme",
    "EE": "logo",
}
# The same uses in DDEX's terms (allowed-value sets of its Cue composite): CueUseType, VocalType,
# VisualPerceptionType, ThemeType; "" where the code does not say.
DDEX_USES = {
    "VV": ("OnScreenMusic", "Vocal", "Visual", ""),
    "VI": ("OnScreenMusic", "Instrumental", "Visual", ""),
    "BV": ("Background", "Vocal", "Background", ""),
    "BI": ("Background", "Instrumental", "Background", ""),
    "MT": ("Theme", "", "Background", "TitleTheme"),
    "ET": ("Theme", "", "Background", "ClosingTheme"),
    "OT": ("Theme", "", "Background", "OpeningTheme"),
    "CT": ("Theme", "", "Background", "ClosingTheme"),
    "EE": ("AudioLogo", "", "Background", ""),
}
ORIGINS = {  # where the music comes from, and DDEX's CueOrigin for it
    "preexisting": "PreexistingMusic",  # an existing recording: what playback shows mostly use (the default)
    "commissioned": "SpeciallyCommissionedMusic",  # written for this production
    "library": "LibraryMusic",  # production music
}
WRITER_ROLES = {"CA": "composer/author", "C": "composer", "A": "author", "AR": "arranger", "AD": "adapter", "TR": "translator"}
PUBLISHER_ROLES = {"E": "original publisher", "SE": "sub-publisher", "AM": "administrator"}
SOCIETIES = (  # CISAC performing-right societies a cue sheet names most often; NS: no society, PD: public domain
    "ASCAP", "BMI", "SESAC", "GMR", "SOCAN", "PRS", "IMRO", "GEMA", "SACEM", "SIAE", "SGAE", "SPA", "SABAM",
    "BUMA", "STIM", "TONO", "KODA", "TEOSTO", "STEF", "AKM", "SUISA", "ZAIKS", "OSA", "ARTISJUS", "APRA",
    "JASRAC", "KOMCA", "CASH", "MUST", "COMPASS", "IPRS", "SAMRO", "SADAIC", "UBC", "ECAD", "SACM", "SAYCO",
    "APDAYC", "SCD", "AGADU", "MCSC", "RAO", "NS", "PD",
)  # fmt: skip
HUNDRED = Fraction(100)


@dataclass(frozen=True, slots=True)
class Party:
    """A writer or publisher: `role` is a CWR code (CA, C, A, AR, ... / E, SE, AM), `share` a percentage
    of the writers' (or the publishers') 100 %, `society` their performing-right society."""

    name: str
    role: str
    share: Fraction
    society: str = ""
    ipi: str = ""  # the society's Interested Party Information number, 9 to 11 digits
    mark: SourceMark = field(default=NO_MARK, compare=False)


@dataclass(frozen=True, slots=True)
class Rights:
    """What a cue sheet says about one work as recorded. Empty text is "not given": a mashup's track
    takes what it leaves empty from its song (`over`)."""

    title: str = ""
    artist: str = ""
    writers: tuple[Party, ...] = ()
    publishers: tuple[Party, ...] = ()
    isrc: str = ""  # 12 characters, no hyphens: CC XXX YY NNNNN
    iswc: str = ""  # T and 10 digits, no punctuation (the last is a check digit)
    label: str = ""
    usage: str = ""  # a key of USAGES
    origin: str = ""  # a key of ORIGINS ("": preexisting)
    mark: SourceMark = field(default=NO_MARK, compare=False)

    def over(self, song: Rights | None) -> Rights:
        """These rights, with what they leave empty taken from the song's (a mashup's source recording)."""
        if song is None:
            return self
        return Rights(
            self.title or song.title,
            self.artist or song.artist,
            self.writers or song.writers,
            self.publishers or song.publishers,
            self.isrc or song.isrc,
            self.iswc or song.iswc,
            self.label or song.label,
            self.usage or song.usage,
            self.origin or song.origin,
            self.mark,
        )


def isrc_text(isrc: str) -> str:
    """GBXYZ2600001 as people write it: GB-XYZ-26-00001."""
    return f"{isrc[:2]}-{isrc[2:5]}-{isrc[5:7]}-{isrc[7:]}" if len(isrc) == 12 else isrc


def iswc_text(iswc: str) -> str:
    """T0345246801 as people write it: T-034.524.680-1."""
    return f"T-{iswc[1:4]}.{iswc[4:7]}.{iswc[7:10]}-{iswc[10]}" if len(iswc) == 11 else iswc


def iswc_check_digit(digits: str) -> int:
    """ISO 15707's check digit over the nine digits after the T: 1 + Σ i·dᵢ, then 10 minus that mod 10."""
    total = 1 + sum(i * int(d) for i, d in enumerate(digits, start=1))
    return (10 - total % 10) % 10


def share_text(share: Fraction) -> str:
    """50 → '50', 100/3 → '33.33'."""
    return f"{float(share):.2f}".rstrip("0").rstrip(".")
