"""What the user types on the command line: a number out of range is a usage error, and every bad input the user
typed exits 2 (a run that failed exits 1), with a message that names the option, never a show line."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile

from showcontrol.cli import main

SHOW = "version: 1\nsongs:\n  - id: s\n    end: 4.1\n    tempo: [{bar: 1, bpm: 120}]\n    sections: {intro: 1}\n"


@pytest.fixture
def show(tmp_path: Path) -> Path:
    path = tmp_path / "show.yaml"
    path.write_text(SHOW)
    return path


BAD_NUMBERS = [
    ("render", "--rate", "7"),
    ("render", "--rate", "0"),
    ("render", "--rate", "99999999999"),
    ("render", "--rate", "48k"),
    ("timeline", "--rate", "-5"),
    ("run", "--count-in", "-1"),
    ("run", "--count-in", "9"),
    ("run", "--stop-fade", "-1"),
    ("run", "--stop-fade", "nan"),
    ("run", "--stop-fade", "inf"),
    ("run", "--tempo", "20"),
    ("run", "--speed", "0"),
    ("plot", "--bars", "9-2"),
]


@pytest.mark.parametrize(("command", "option", "value"), BAD_NUMBERS)
def test_a_number_out_of_range_is_a_usage_error(
    tmp_path: Path, show: Path, command: str, option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = ["-o", str(tmp_path / ("o.png" if command == "plot" else "o.wav"))] if command in ("render", "plot") else []
    assert main([command, str(show), *out, f"{option}={value}"]) == 2
    err = capsys.readouterr().err
    assert option in err and str(show) not in err.replace(f"{show}:", "")
    assert "Traceback" not in err and "relative to the show file" not in err
    assert not (tmp_path / "o.wav").exists()


@pytest.mark.parametrize("rate", ["8000", "384000"])
def test_the_rates_at_the_ends_of_the_range_render(tmp_path: Path, show: Path, rate: str) -> None:
    out = tmp_path / "o.wav"
    assert main(["render", str(show), "-o", str(out), "--rate", rate]) == 0
    assert soundfile.info(str(out)).samplerate == int(rate)


@pytest.mark.parametrize(
    "args",
    [
        ["run", "SHOW", "--headless", "--audio-driver", "dummy", "--from", "nosuch"],
        ["run", "SHOW", "--headless", "--audio-driver", "dummy", "--from", "99"],
        ["run", "SHOW", "--headless", "--audio-driver", "dummy", "--loop", "nosuch"],
        ["run", "SHOW", "--headless", "--audio-driver", "dummy", "--song", "nosuch"],
        ["run", "SHOW", "--headless", "--audio-driver", "nosuch"],
        ["timeline", "SHOW", "--song", "nosuch"],
        ["render", "SHOW", "-o", "OUT.ogv"],
        ["cuesheet", "SHOW", "-o", "OUT.txt"],
        ["cuesheet", "SHOW", "-o", "OUT.csv", "--takes", "OUT.nosuch.jsonl"],
    ],
)
def test_what_the_user_typed_wrong_exits_2(tmp_path: Path, show: Path, args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    typed = [a.replace("SHOW", str(show)).replace("OUT", str(tmp_path / "out")) for a in args]
    assert main(typed) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("showcontrol: ") and "Traceback" not in err
