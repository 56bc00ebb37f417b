"""How long loading a show of 1,000, 10,000 and 100,000 cues takes, beside the loader of a baseline commit in the same run.

    python bench/load.py                  # this tree, and the baseline (git merge-base HEAD main) for 1k and 10k
    python bench/load.py --baseline-all   # the baseline for 100k too (about 100 s on the baseline)
    python bench/load.py --baseline REV   # another baseline

Each figure is a fresh interpreter running `load_show` (the work `check` and `run` do before anything else);
`check` adds the interpreter and imports (about 0.3 s). Shows and the baseline's copy live in a temporary folder.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SIZES = (1_000, 10_000, 100_000)
RUNS = 3
TIMED = """
import sys, time
from pathlib import Path
from showcontrol.load.show_file import load_show
started = time.perf_counter()
load_show(Path(sys.argv[1]))
print(time.perf_counter() - started)
"""


def show_text(cues: int, patch: Path) -> str:
    """A click-only song at 120 BPM with `cues` cues, 64 to a bar, to OSC, MIDI and MQTT outputs in turn."""
    bars = cues // 64 + 2
    lines = [
        "version: 1",
        f"patch: {patch}",
        "songs:",
        "  - id: big",
        f"    end: {bars + 1}.1",
        "    tempo: [{bar: 1, bpm: 120}]",
        "    cues:",
    ]
    for i in range(cues):
        at = f"{i // 64 + 1}.{i % 64 // 16 + 1}.{i % 16 * 30}"
        lines.append(
            (
                f"      - {{at: {at}, name: c{i}, osc: {{to: lights, address: /eos/cue/1/{i}/fire}}}}",
                f"      - {{at: {at}, midi: {{to: keys, note_on: [60, 100], channel: 1}}}}",
                f"      - {{at: {at}, mqtt: {{to: monitors, topic: fx/c{i}, payload: go}}}}",
            )[i % 3]
        )
    return "\n".join(lines) + "\n"


def seconds(code_root: Path, show: Path) -> list[float]:
    runs = []
    for _ in range(RUNS):
        result = subprocess.run(  # run from the show's folder: `python -c` puts the current folder first on the path
            [sys.executable, "-c", TIMED, str(show)],
            capture_output=True,
            text=True,
            env={"PYTHONPATH": str(code_root)},
            cwd=show.parent,
            check=True,
        )
        runs.append(float(result.stdout))
    return runs


def baseline_tree(revision: str, folder: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, "showcontrol", "hardware"], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="git revision to compare with (default: git merge-base HEAD main)")
    parser.add_argument("--baseline-all", action="store_true", help="time the baseline on 100,000 cues too")
    args = parser.parse_args()
    revision = (
        args.baseline
        or subprocess.run(["git", "-C", str(REPO), "merge-base", "HEAD", "main"], capture_output=True, text=True, check=True).stdout.strip()
    )
    with tempfile.TemporaryDirectory(prefix="showcontrol-bench-load-") as temporary:
        folder = Path(temporary)
        old = baseline_tree(revision, folder / "baseline")
        assert (old / "showcontrol").is_dir()
        print(f"load_show, {RUNS} fresh interpreters each: median (min-max) seconds; baseline {revision[:10]}; noisy on a shared VM")
        print(f"{'cues':>8}  {'this tree':>22}  {'baseline':>22}  {'speed-up':>8}")
        for cues in SIZES:
            show = folder / f"{cues}.yaml"
            show.write_text(show_text(cues, REPO / "hardware/demo-stage.yaml"))
            new = seconds(REPO, show)
            before = seconds(old, show) if cues < 100_000 or args.baseline_all else None
            ratio = f"{statistics.median(before) / statistics.median(new):7.1f}x" if before else "       -"
            print(f"{cues:>8,}  {_spread(new):>22}  {_spread(before) if before else 'not run':>22}  {ratio}")


def _spread(runs: list[float]) -> str:
    return f"{statistics.median(runs):.3f} ({min(runs):.3f}-{max(runs):.3f})"


if __name__ == "__main__":
    main()
