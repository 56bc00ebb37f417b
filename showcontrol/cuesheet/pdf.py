"""The cue sheet as a printable PDF, laid out like the ones productions file: the production's header,
one row per use with its rights, the legend of codes, and page n of N. Only this module imports
reportlab (BSD): its platypus tables break across pages and repeat their heading row."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape, letter
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from showcontrol.cuesheet.sheet import CueSheet, Use, duration_text
from showcontrol.model.rights import PUBLISHER_ROLES, USAGES, WRITER_ROLES, Party, isrc_text, iswc_text, share_text

PAPERS = {"letter": landscape(letter), "a4": landscape(A4)}
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")  # Debian's fonts-dejavu-core: every Latin, Greek and Cyrillic name
INK, RULE, BAND = colors.HexColor("#1a1a1a"), colors.HexColor("#8c8c8c"), colors.HexColor("#eef1f5")


def _fonts() -> tuple[str, str, str]:
    """Regular, bold and italic: DejaVu Sans where installed, else the PDF's own Helvetica (Latin-1 only)."""
    try:
        for name, file in (
            ("CueSans", "DejaVuSans.ttf"),
            ("CueSans-Bold", "DejaVuSans-Bold.ttf"),
            ("CueSans-Oblique", "DejaVuSans-Oblique.ttf"),
        ):
            if name not in pdfmetrics.getRegisteredFontNames():
                pdfmetrics.registerFont(TTFont(name, str(DEJAVU / file)))
        pdfmetrics.registerFontFamily("CueSans", normal="CueSans", bold="CueSans-Bold", italic="CueSans-Oblique", boldItalic="CueSans-Bold")
    except (OSError, TTFError):
        return "Helvetica", "Helvetica-Bold", "Helvetica-Oblique"
    return "CueSans", "CueSans-Bold", "CueSans-Oblique"


def cue_sheet_pdf(sheet: CueSheet, paper: str = "letter", prepared_by: str = "showcontrol") -> bytes:
    regular, bold, italic = _fonts()
    page_size = PAPERS[paper]
    margin = 0.45 * inch
    styles = {
        "cell": ParagraphStyle("cell", fontName=regular, fontSize=7.6, leading=9.4, textColor=INK),
        "small": ParagraphStyle("small", fontName=regular, fontSize=6.4, leading=8, textColor=colors.HexColor("#555555")),
        "right": ParagraphStyle("right", fontName=regular, fontSize=7.6, leading=9.4, textColor=INK, alignment=2),
        "head": ParagraphStyle("head", fontName=bold, fontSize=7.2, leading=8.6, textColor=colors.white),
        "title": ParagraphStyle("title", fontName=bold, fontSize=17, leading=21, textColor=INK),
        "label": ParagraphStyle("label", fontName=regular, fontSize=6.8, leading=8.4, textColor=colors.HexColor("#555555")),
        "value": ParagraphStyle("value", fontName=bold, fontSize=9.5, leading=11.5, textColor=INK),
    }
    width = page_size[0] - 2 * margin
    story: list[Any] = [
        Paragraph("MUSIC CUE SHEET", styles["title"]),
        Spacer(0, 4),
        _header_table(sheet, styles, width),
        Spacer(0, 10),
        _uses_table(sheet.uses, styles, width, bold, italic),
        Spacer(0, 8),
        Paragraph(_legend(), styles["small"]),
    ]
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=page_size,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin + 10,
        title=f"Music cue sheet: {sheet.header.series} {sheet.header.episode}".strip(),
        author=sheet.header.company or prepared_by,
        creator=prepared_by,
    )
    footer = f"{sheet.header.series}{' — ' + sheet.header.episode if sheet.header.episode else ''} · prepared with {prepared_by}"
    document.build(story, canvasmaker=_numbered(footer, regular, margin))
    return buffer.getvalue()


def _header_table(sheet: CueSheet, styles: dict[str, ParagraphStyle], width: float) -> Table:
    head = sheet.header

    def cell(label: str, value: str) -> list[Paragraph]:
        return [Paragraph(escape(label.upper()), styles["label"]), Paragraph(escape(value) or "—", styles["value"])]

    rows = [
        [cell("Series / production title", head.series), cell("Episode title", head.episode), cell("Episode number", head.episode_number)],
        [cell("Production number", head.production), cell("Date", head.date), cell("Production company", head.company)],
        [cell("Music cues", str(len(sheet.uses))), cell("Total music duration", duration_text(sheet.total_s)), cell("Version", "Original")],
    ]
    table = Table(rows, colWidths=[width * 0.42, width * 0.33, width * 0.25])
    table.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 0.8, INK),
                ("INNERGRID", (0, 0), (-1, -1), 0.4, RULE),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    return table


COLUMNS = (
    "Seq",
    "Cue #",
    "Title / artist / codes",
    "Composers / authors · society · share",
    "Publishers · society · share",
    "Use",
    "Timing in",
    "Timing out",
    "Dur.",
)
SHARES = (0.035, 0.045, 0.19, 0.235, 0.215, 0.035, 0.09, 0.09, 0.055)


def _uses_table(uses: Sequence[Use], styles: dict[str, ParagraphStyle], width: float, bold: str, italic: str) -> Table:
    rows: list[list[Any]] = [[Paragraph(escape(name), styles["head"]) for name in COLUMNS]]
    for use in uses:
        rights = use.rights
        title = [f"<font name='{bold}'>{escape(rights.title)}</font>"]
        if rights.artist:
            title.append(f"<font name='{italic}'>{escape(rights.artist)}</font>")
        if rights.label:
            title.append(f"<font size='6.4' color='#555555'>{escape(rights.label)}</font>")
        for code, value in (("ISRC", isrc_text(rights.isrc)), ("ISWC", iswc_text(rights.iswc))):
            if value:
                title.append(f"<font size='6.4' color='#555555'>{code} {escape(value)}</font>")
        if use.mashup:
            title.append(f"<font size='6.4' color='#555555'>one source of the mashup {escape(use.mashup)}</font>")
        rows.append(
            [
                Paragraph(str(use.sequence), styles["cell"]),
                Paragraph(escape(use.cue), styles["cell"]),
                Paragraph("<br/>".join(title), styles["cell"]),
                _parties(rights.writers, styles, width * SHARES[3] - 8),
                _parties(rights.publishers, styles, width * SHARES[4] - 8),
                Paragraph(f"<font name='{bold}'>{escape(rights.usage) or '—'}</font>", styles["cell"]),
                Paragraph(escape(use.timing_in), styles["cell"]),
                Paragraph(escape(use.timing_out), styles["cell"]),
                Paragraph(f"<font name='{bold}'>{duration_text(use.duration_s)}</font>", styles["cell"]),
            ]
        )
    table = Table(rows, colWidths=[width * share for share in SHARES], repeatRows=1)
    style = [
        ("BACKGROUND", (0, 0), (-1, 0), INK),
        ("BOX", (0, 0), (-1, -1), 0.8, INK),
        ("LINEBELOW", (0, 1), (-1, -1), 0.3, RULE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
    ]
    style += [("BACKGROUND", (0, row), (-1, row), BAND) for row in range(2, len(rows), 2)]
    table.setStyle(TableStyle(style))
    return table


def _parties(parties: Sequence[Party], styles: dict[str, ParagraphStyle], width: float) -> Table | Paragraph:
    """A small table in the cell, one row per party: name and role, society, share; aligned however names wrap."""
    if not parties:
        return Paragraph("—", styles["cell"])
    rows = [
        [
            Paragraph(f"{escape(party.name)} <font color='#555555'>({party.role})</font>", styles["cell"]),
            Paragraph(escape(party.society), styles["cell"]),
            Paragraph(f"{share_text(party.share)}&nbsp;%", styles["right"]),
        ]
        for party in parties
    ]
    table = Table(rows, colWidths=[width * 0.6, width * 0.22, width * 0.18])
    table.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                               ("TOPPADDING", (0, 0), (-1, -1), 0), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5), ("RIGHTPADDING", (0, 0), (0, -1), 4),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))  # fmt: skip
    return table


def _legend() -> str:
    usages = ", ".join(f"<b>{code}</b> {name}" for code, name in USAGES.items())
    writers = ", ".join(f"<b>{code}</b> {name}" for code, name in WRITER_ROLES.items())
    publishers = ", ".join(f"<b>{code}</b> {name}" for code, name in PUBLISHER_ROLES.items())
    return (
        f"Usage: {usages}. Roles: {writers}; {publishers}. Writers' shares total 100 % and publishers' shares total 100 %. "
        "Timing in and out: the playback timecode (song time where a song has none); durations to the nearest second."
    )


def _numbered(footer: str, font: str, margin: float) -> type[Canvas]:
    """A canvas that writes 'page n of N' and the footer once the page count is known."""

    class NumberedCanvas(Canvas):  # type: ignore[misc]  # reportlab has no type hints
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            count = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                width, _ = self._pagesize
                self.setFont(font, 7)
                self.setFillColor(colors.HexColor("#555555"))
                self.drawString(margin, margin - 2, footer)
                self.drawRightString(width - margin, margin - 2, f"Page {self._pageNumber} of {count}")
                super().showPage()
            super().save()

    return NumberedCanvas
