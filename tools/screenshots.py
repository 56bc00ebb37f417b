"""The operator screen's pictures in docs/images/, taken from a real `showcontrol run` in tmux.

    python tools/screenshots.py [--show cues/demo/show.yaml] [--song ID] [--after 14]

At 80×24 and at 200×50: the demo show's whole set list (or `--song`'s one song) on SDL's dummy audio
driver (heard by nobody: the screen says SILENT), GO pressed on its first song (the set list panel shows
the one playing and the standby one after it), the pane captured with its colours (`tmux capture-pane -e`) `--after` seconds in.
The ANSI text goes through rich (Text.from_ansi, Console.export_svg) and headless chromium to a PNG,
which ImageMagick shrinks to a small palette image. Needs tmux, chromium and ImageMagick's `convert`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.terminal_theme import MONOKAI
from rich.text import Text

REPO = Path(__file__).resolve().parent.parent
IMAGES = REPO / "docs" / "images"
DEMO = REPO / "cues" / "demo" / "show.yaml"


def capture(show: Path, song: str | None, width: int, height: int, after_s: float, folder: Path) -> str:
    """The pane's text with its colours, `after_s` seconds after GO."""
    server = ["tmux", "-L", f"shots-{uuid.uuid4().hex[:8]}", "-f", "/dev/null"]
    one = f" --song {song}" if song else ""
    run = f"{sys.executable} -m showcontrol run {show}{one} --audio-driver dummy --log {folder / f'{width}.jsonl'} 2>/dev/null"
    subprocess.run([*server, "new-session", "-d", "-x", str(width), "-y", str(height), "-s", "s", f"cd {REPO} && {run}"], check=True)
    try:
        deadline = time.monotonic() + 60
        while "cued bar" not in subprocess.run([*server, "capture-pane", "-p", "-t", "s"], capture_output=True, text=True).stdout:
            if time.monotonic() > deadline:
                raise SystemExit(f"the screen did not come up at {width}x{height}")
            time.sleep(0.2)
        subprocess.run([*server, "send-keys", "-t", "s", "Space"], check=True)
        time.sleep(after_s)
        subprocess.run([*server, "send-keys", "-t", "s", "q"], check=True)  # the quit question, for the picture
        time.sleep(0.5)
        return subprocess.run([*server, "capture-pane", "-p", "-e", "-t", "s"], capture_output=True, text=True, check=True).stdout
    finally:
        subprocess.run([*server, "kill-server"], capture_output=True)


def to_png(ansi: str, width: int, height: int, png: Path, folder: Path) -> None:
    console = Console(record=True, width=width, height=height, file=open("/dev/null", "w"), force_terminal=True, color_system="truecolor")  # noqa: SIM115
    console.print(Text.from_ansi(ansi.rstrip("\n")), end="", crop=True, soft_wrap=False)
    svg = folder / f"{png.stem}.svg"
    svg.write_text(console.export_svg(title=f"showcontrol run — {width}×{height}", theme=MONOKAI))
    shot = folder / f"{png.stem}-full.png"
    pixels = (width * 13 + 60, height * 27 + 110)  # rich's SVG: about 12.2 px a column and 24.4 px a line, plus its frame
    subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--window-size={pixels[0]},{pixels[1]}",
            f"--screenshot={shot}",
            svg.as_uri(),
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(["convert", str(shot), "-trim", "-resize", "50%", "-colors", "32", "-strip", f"PNG8:{png}"], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--show", type=Path, default=DEMO)
    parser.add_argument("--song", help="one song only (default: the show's whole set list)")
    parser.add_argument("--after", type=float, default=14.0, help="seconds after GO (default 14)")
    args = parser.parse_args()
    IMAGES.mkdir(parents=True, exist_ok=True)
    if args.show.resolve() == DEMO:  # its tracks are synthesised, not kept in git: made the first time
        subprocess.run([sys.executable, "-m", "showcontrol", "demo", str(DEMO)], cwd=REPO, check=True, capture_output=True)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        for width, height in ((80, 24), (200, 50)):
            png = IMAGES / f"run-screen-{width}x{height}.png"
            to_png(capture(args.show.resolve(), args.song, width, height, args.after, folder), width, height, png, folder)
            print(f"{png.relative_to(REPO)}: {png.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
