"""Golden traces: each folder in tests/golden holds show.yaml and the trace it must compile to, exactly.

To add a case, write its show.yaml and run `SHOWCONTROL_UPDATE_GOLDEN=1 pytest tests/test_golden.py`,
then read the new trace.jsonl before committing it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from showcontrol.load.show_file import load_show
from showcontrol.offline import write_trace

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.parent for p in GOLDEN.glob("*/show.yaml"))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_trace_matches_golden(case: Path, tmp_path: Path) -> None:
    loaded = load_show(case / "show.yaml")
    produced = tmp_path / "trace.jsonl"
    for song in loaded.show.songs:
        write_trace(produced, loaded.timelines[song.id])
        expected = case / f"{song.id}.trace.jsonl"
        if os.environ.get("SHOWCONTROL_UPDATE_GOLDEN"):
            expected.write_text(produced.read_text())
        assert produced.read_text() == expected.read_text()
