"""The operator's full screen, drawn from a ShowStatus: a pure function of the snapshot and the terminal's size.

`render(status, width, height)` returns a rich renderable of exactly that size. At 80×24 it keeps what an
operator needs all the time (state, bar.beat, what is not ok, the next cues, the keys) and puts the set list
on one line; from 120×36 it gives the set list its own column and shows more cues and messages. Whatever is
not ok (the audio, an output) is listed first and named in the top panel's title, so no size hides it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich import box
from rich.console import Group, RenderableType
from rich.layout import Layout
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from showcontrol.status import (
    KeyHelp,
    LastTake,
    Level,
    Message,
    NextCue,
    NowPlaying,
    OutputHealth,
    SetListEntry,
    ShowStatus,
    TakeLogStatus,
)

STATES = {"playing": ("▶ PLAYING", "bold black on green"), "paused": ("⏸ PAUSED", "bold black on yellow"), "stopped": ("■ STOPPED", "bold")}
BIG_STYLES = {"playing": "bold green", "paused": "bold yellow"}  # the large digits: the state's colour, no background
HEALTH_STYLES = {"up": "green", "ok": "green", "connecting": "yellow", "silent": "bold yellow", "down": "bold red"}
LEVEL_STYLES = {Level.INFO: "", Level.QUESTION: "bold black on yellow", Level.WARNING: "yellow", Level.ERROR: "bold red"}
WIDE = (120, 36)  # from this size on, the roomy layout
KEY_GAP = "   "


@dataclass(frozen=True)
class Rows:
    """How many lines each part gets inside its panel, for one screen size."""

    head: int
    body: int
    show: int  # compact: the set list and the take log, one line each
    messages: int
    keys: int


def render(status: ShowStatus, width: int, height: int) -> RenderableType:
    """The whole screen for `status` at `width`×`height` columns and lines."""
    wide = width >= WIDE[0] and height >= WIDE[1]
    key_lines = wrap_keys(status.keys, status.typing, width - 4)
    rows = plan_rows(height, len(key_lines), len(status.messages), wide)
    layout = Layout(size=height)
    parts = [
        Layout(head_panel(status, rows.head, wide), name="head", size=rows.head + 2),
        Layout(name="body", size=rows.body + 2),
    ]
    if not wide:
        songs = Text.assemble(("set  ", "dim"), set_list_line(status.set_list, width - 9), no_wrap=True, overflow="ellipsis")
        take = Text.assemble(("     ", "dim"), take_text(status.takes.last), no_wrap=True, overflow="ellipsis")  # "take 3 of …"
        parts.append(Layout(panel("Set list and take log", Group(songs, take)), size=rows.show + 2))
    parts += [
        Layout(panel("Messages", message_lines(status.messages, rows.messages)), name="messages", size=rows.messages + 2),
        Layout(panel("Keys", Group(*key_lines)), name="keys", size=rows.keys + 2),
    ]
    layout.split_column(*parts)
    body = layout["body"]
    if wide:
        health = Layout(name="health")
        health.split_column(
            Layout(panel("Outputs and audio", health_table(status, rows.body - 4, wide))),
            Layout(panel("Take log", take_lines(status.takes, 2)), size=4),
        )
        body.split_row(
            Layout(panel("Next cues", cue_table(status.next_cues, rows.body, wide)), ratio=5),
            Layout(panel("Set list", set_list_table(status.set_list, rows.body)), ratio=3),
            Layout(health, ratio=4),
        )
    else:
        body.split_row(
            Layout(panel("Next cues", cue_table(status.next_cues, rows.body, wide)), ratio=1),
            Layout(panel("Outputs and audio", health_table(status, rows.body, wide)), ratio=1),
        )
    return layout


def plan_rows(height: int, keys: int, messages: int, wide: bool) -> Rows:
    """Lines per part: the keys and the top panel whole, messages as many as there are (a few), the rest to the body."""
    head = BIG_ROWS if wide else 2  # roomy: the height of the large digits
    show = 0 if wide else 2
    most_messages = 8 if wide else 2 if height < 30 else 4
    said = min(max(messages, 1), most_messages)
    keys = min(keys, 3)
    borders = 2 * (4 if wide else 5)
    body = max(height - borders - head - show - said - keys, 1)
    return Rows(head, body, show, said, keys)


def panel(title: str, content: RenderableType, style: str = "") -> Panel:
    return Panel(content, title=title, title_align="left", box=box.ROUNDED, border_style=style or "blue", padding=(0, 1))


def head_panel(status: ShowStatus, rows: int, wide: bool) -> Panel:
    """State, position and time on the first line; the song, tempo and loop on the second; trouble in the title.
    Roomy: bar.beat and the next cue's countdown in large digits either side, readable from across the room."""
    playing = status.playing
    label, style = STATES.get(playing.state, (playing.state.upper(), "bold"))
    first = Text(no_wrap=True, overflow="ellipsis")
    first.append(f" {label} ", style)
    stopped = playing.state == "stopped"
    if stopped:  # what GO does first, where the song stopped after it
        first.append(f"  GO from {playing.cued_bar}.{playing.cued_beat}", "bold")
        first.append(f"  stopped at {position_text(playing)}", "dim")
    else:
        first.append(f"  {position_text(playing)}", "bold")  # also beside the large digits: what a test or a reader finds
    first.append(f"  {playing.section}", "cyan")
    first.append(f"  {clock(playing.elapsed_s)}")
    first.append(f" / {clock(playing.remaining_s)} left", "dim")
    if playing.timecode:
        first.append(f"  TC {playing.timecode}")
    content: RenderableType = Group(first, song_line(playing))
    if wide:
        upcoming = status.next_cues[0] if status.next_cues else None
        third = Text(status.typing, "bold reverse") if status.typing else next_text(upcoming)
        grid = Table.grid(padding=(0, 2), expand=True)
        grid.add_column(no_wrap=True, style=BIG_STYLES.get(playing.state, "bold"))
        grid.add_column(ratio=1, no_wrap=True)
        grid.add_column(no_wrap=True, justify="right")
        shown = f"{playing.cued_bar}.{playing.cued_beat}" if stopped else f"{playing.bar}.{playing.beat}" if playing.bar >= 1 else "-"
        grid.add_row(
            Text(big(shown)),
            Group(first, song_line(playing), Text(), third),
            Text(big(f"{upcoming.in_s:.1f}" if upcoming else ""), "bold"),
        )
        content = grid
    trouble = trouble_text(status)
    return Panel(
        content,
        title=trouble or "showcontrol",
        title_align="left",
        box=box.HEAVY if trouble else box.ROUNDED,
        border_style="red" if trouble else "blue",
        padding=(0, 1),
        height=rows + 2,
    )


def next_text(cue: NextCue | None) -> Text:
    if cue is None:
        return Text("no more cues", "dim")
    return Text.assemble(
        ("next ", "dim"),
        (cue.name, "bold"),
        f" at {cue.at} → {cue.output}",
        ("   seconds to it →", "dim"),
        no_wrap=True,
        overflow="ellipsis",
    )


PIXELS = {  # a 3×5 pixel font, each pixel two cells wide: bar.beat and the next countdown from across the room
    "0": ("###", "# #", "# #", "# #", "###"),
    "1": (" # ", "## ", " # ", " # ", "###"),
    "2": ("###", "  #", "###", "#  ", "###"),
    "3": ("###", "  #", "###", "  #", "###"),
    "4": ("# #", "# #", "###", "  #", "  #"),
    "5": ("###", "#  ", "###", "  #", "###"),
    "6": ("###", "#  ", "###", "# #", "###"),
    "7": ("###", "  #", "  #", "  #", "  #"),
    "8": ("###", "# #", "###", "# #", "###"),
    "9": ("###", "# #", "###", "  #", "###"),
    ".": (" ", " ", " ", " ", "#"),
    "-": ("   ", "   ", "###", "   ", "   "),
}
BIG_ROWS = 5


def big(text: str) -> str:
    """`text` (digits, `.` and `-`) in five-line block digits; other characters are left out."""
    glyphs = [PIXELS[c] for c in text if c in PIXELS]
    return "\n".join(" ".join(glyph[row].replace("#", "██").replace(" ", "  ") for glyph in glyphs) for row in range(BIG_ROWS))


def position_text(playing: NowPlaying) -> str:
    """bar.beat, or "count-in" before bar 1 (a count-in or a gap before the song), never a negative bar."""
    return f"{playing.bar}.{playing.beat}" if playing.bar >= 1 else "count-in"


def song_line(playing: NowPlaying) -> Text:
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(playing.title or playing.song_id, "bold")
    if playing.title and playing.title != playing.song_id:
        line.append(f" ({playing.song_id})", "dim")
    details = [f"tempo {playing.tempo_percent:g} %"]
    if playing.speed != 1:
        details.append(f"speed {playing.speed:g}×")
    details.append(f"loop {playing.loop[0]}–{playing.loop[1]}" if playing.loop else "no loop")
    if playing.state == "paused":
        details.append(f"cued bar {playing.cued_bar}")
    line.append("  " + " · ".join(details))
    return line


def trouble_text(status: ShowStatus) -> str:
    """What is not ok, in a few words: `⚠ AUDIO SILENT (no device) · ⚠ down: monitors`."""
    audio = status.audio
    words = [] if audio.ok else [f"⚠ AUDIO {audio.text if audio.text != audio.health else audio.health.upper()}"]
    by_health: dict[str, list[str]] = {}
    for output in status.outputs:
        if not output.ok:
            by_health.setdefault(output.health, []).append(output.name)
    words += [f"⚠ {health}: {' '.join(names)}" for health, names in by_health.items()]
    return " · ".join(words)


def clock(seconds: float) -> str:
    """m:ss.s, to a tenth: what an eye takes in at a glance (the show log keeps the milliseconds)."""
    tenths = round(abs(seconds) * 10)
    return f"{'-' if seconds < 0 and tenths else ''}{tenths // 600}:{tenths % 600 / 10:04.1f}"


def cue_table(cues: Sequence[NextCue], rows: int, wide: bool) -> RenderableType:
    """Countdown, bar.beat and name of each next cue, in columns (plain lines: a rich Table costs more to draw)."""
    shown = cues[:rows]
    if not shown:
        return Text("no more cues", "dim")
    countdowns = [f"{cue.in_s:.1f} s" for cue in shown]
    counts, ats = max(map(len, countdowns)), max(len(cue.at) for cue in shown)
    names = [cue.name for cue in shown]
    repeated = len(set(names)) < len(names)  # the same name on two outputs: say which is which
    lines = []
    for index, (cue, countdown) in enumerate(zip(shown, countdowns, strict=True)):
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(countdown.rjust(counts), "bold" if index == 0 else "")
        line.append(f" {cue.at.ljust(ats)} ", "cyan")
        line.append(printable(cue.name))
        if wide or repeated:
            line.append(f"{'  ' if wide else ' '}→ {cue.output}", "dim")
        lines.append(line)
    return Group(*lines)


def health_table(status: ShowStatus, rows: int, wide: bool) -> RenderableType:
    """The audio, then every output, those not ok first; past `rows`, the ok ones are counted, never the others."""
    audio = status.audio
    trouble = [output for output in status.outputs if not output.ok]
    fine = [output for output in status.outputs if output.ok]
    room = rows - 1  # below the audio's line
    if len(status.outputs) > room:  # one line says how many more are up
        fine = fine[: max(room - 1 - len(trouble), 0)]
    table = [("audio", audio.text if not audio.ok else "ok", audio.health, audio.driver)]
    table += [(o.name, o.health, o.health, output_detail(o, wide)) for o in trouble + fine]
    names, healths = max(len(row[0]) for row in table), max(len(row[1]) for row in table)
    lines = [
        Text.assemble(
            f"{name.ljust(names)} ",
            (said.ljust(healths), HEALTH_STYLES.get(health, "bold red")),
            (f" {printable(detail)}", "dim"),
            no_wrap=True,
            overflow="ellipsis",
        )
        for name, said, health, detail in table
    ]
    hidden = len(status.outputs) - len(trouble) - len(fine)
    if hidden:
        lines.append(Text(f"+ {hidden} more up", "dim"))
    return Group(*lines)


def printable(text: str) -> str:
    """What a network peer or a file said, with no control character left to move the terminal's cursor."""
    return "".join(c if c.isprintable() else "?" for c in text)


def output_detail(output: OutputHealth, wide: bool) -> str:
    if output.last_error and not output.ok:
        return output.last_error
    return f"{output.sent} sent" + (f", {output.errors} errors" if output.errors else "") if wide or output.ok else ""


def set_list_line(entries: Sequence[SetListEntry], width: int) -> Text:
    """The set list on one line, from the song playing (or standing by): `▶ 3 Title · STANDBY 4 Next · 5 …`."""
    line = Text(no_wrap=True, overflow="ellipsis")
    current = next((n for n, e in enumerate(entries) if e.playing or e.standby), 0)
    for entry in entries[current:]:
        if line.cell_len >= width:
            break
        if line:
            line.append(" · ", "dim")
        line.append_text(entry_text(entry))
    return line


def set_list_table(entries: Sequence[SetListEntry], rows: int) -> RenderableType:
    """The set list, scrolled so that the songs playing and standing by are in view."""
    marked = [n for n, e in enumerate(entries) if e.playing or e.standby] or [0]
    first = max(min(marked[0] - 1, len(entries) - rows), 0)
    return Group(*(entry_text(entry) for entry in entries[first : first + rows]))


def entry_text(entry: SetListEntry) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    if entry.playing:
        text.append("▶ ", "bold green")
    if entry.standby:
        text.append("STANDBY", "bold black on yellow")
        text.append(" ")
    text.append(f"{entry.index} ", "dim")
    text.append(entry.title or entry.song_id, "bold" if entry.playing or entry.standby else "")
    return text


def take_lines(takes: TakeLogStatus, rows: int) -> RenderableType:
    if not takes.path:
        return Text("no take log", "dim")
    lines = [take_text(takes.last)]
    if takes.lost:
        lines.append(Text(f"⚠ {takes.lost} lines lost (disk full?)", "bold red"))
    if rows > 1:
        lines.append(Text(f"{takes.count} this run · {takes.path}", "dim", no_wrap=True, overflow="ellipsis"))
    return Group(*lines[:rows])


def take_text(last: LastTake | None) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    if last is None:
        text.append("no take yet: GO starts one", "dim")
        return text
    text.append(f"take {last.number} of {last.song_id} ")
    text.append(last.status, "bold" if last.status == "open" else "")
    text.append(f" · bar {last.from_bar}" + (f"–{last.to_bar}" if last.to_bar is not None else ""))
    if last.good is not None:
        text.append(" · ")
        text.append("GOOD" if last.good else "NO GOOD", "bold green" if last.good else "bold red")
    if last.note:
        text.append(f" · “{last.note}”", "italic")
    return text


def message_lines(messages: Sequence[Message], rows: int) -> RenderableType:
    if not messages:
        return Text("—", "dim")
    return Group(*(Text(printable(m.text), LEVEL_STYLES[m.level], no_wrap=True, overflow="ellipsis") for m in messages[-rows:]))


def wrap_keys(keys: Sequence[KeyHelp], typing: str, width: int) -> list[Text]:
    """The keys as lines of at most `width` columns, a key never split from what it does; what is being typed first."""
    lines: list[Text] = []
    line = Text(no_wrap=True)
    if typing:
        line.append(typing, "bold reverse")
    for key in keys:
        item = Text.assemble((key.keys, "bold cyan"), " ", key.does)
        if line and line.cell_len + len(KEY_GAP) + item.cell_len > width:
            lines.append(line)
            line = Text(no_wrap=True)
        if line:
            line.append(KEY_GAP)
        line.append_text(item)
    return [*lines, line]
