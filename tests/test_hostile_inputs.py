"""Files no corpus case can hold (FIFOs, devices, folders, tens of megabytes) and commands whose output goes
nowhere: each gets its answer in bounded time, exit 2 (or 1 for the output), and no traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from conftest import REPO, as_a

from showcontrol.audio.speech import speak_all, speech_available
from showcontrol.cli import main
from showcontrol.errors import ShowFileError
from showcontrol.load.limits import MAX_FILE_BYTES, MAX_ITEMS
from showcontrol.load.reader import compose_file
from showcontrol.load.show_file import load_show

SONG = "version: 1\nsongs:\n  - id: s\n    end: 9.1\n    tempo: [{bar: 1, bpm: 120}]\n"


def problems_of(path: Path, patch: Path | None = None) -> list[str]:
    started = time.monotonic()
    with pytest.raises(ShowFileError) as caught:
        load_show(path, patch)
    assert time.monotonic() - started < 10
    return [str(p) for p in caught.value.problems]


def showcontrol(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "showcontrol", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def test_a_fifo_a_folder_a_device_and_an_empty_file_as_the_show(tmp_path: Path) -> None:
    fifo = tmp_path / "show.yaml"
    os.mkfifo(fifo)  # nobody writes to it: opening it for reading would wait forever
    (tmp_path / "empty.yaml").write_bytes(b"")
    assert problems_of(fifo) == [f"{fifo}:1:1: show file is a pipe, device or socket, not a file — give the path of a YAML file"]
    assert problems_of(tmp_path) == [f"{tmp_path}:1:1: show file is a folder, not a file — give the path of a YAML file"]
    assert problems_of(Path("/dev/zero")) == [
        "/dev/zero:1:1: show file is a pipe, device or socket, not a file — give the path of a YAML file"
    ]
    assert problems_of(tmp_path / "empty.yaml") == [
        f"{tmp_path / 'empty.yaml'}:1:1: show file is empty — start from docs/show-file.md or cues/demo/"
    ]


def test_a_device_as_the_patch(tmp_path: Path) -> None:
    show = tmp_path / "show.yaml"
    show.write_text(SONG)
    assert problems_of(show, Path("/dev/zero")) == [
        "/dev/zero:1:1: patch file is a pipe, device or socket, not a file — give the path of a YAML file"
    ]


@pytest.mark.parametrize("kind", ["fifo", "folder", "device", "empty", "text"])
def test_what_is_not_audio_as_a_track(tmp_path: Path, kind: str) -> None:
    track = tmp_path / "track.wav"
    if kind == "fifo":
        os.mkfifo(track)
    elif kind == "folder":
        track.mkdir()
    elif kind == "empty":
        track.write_bytes(b"")
    elif kind == "text":
        track.write_text("not audio at all\n" * 100)
    audio = "/dev/zero" if kind == "device" else "track.wav"
    show = tmp_path / "show.yaml"
    show.write_text(f"version: 1\nsongs:\n  - id: s\n    audio: {audio}\n    tempo: [{{bar: 1, bpm: 120}}]\n")
    shown = "/dev/zero" if kind == "device" else str(track)
    expected = {
        "fifo": f"{shown} is a pipe, device or socket, not an audio file",
        "folder": f"{shown} is a folder, not an audio file",
        "device": f"{shown} is a pipe, device or socket, not an audio file",
        "empty": "track.wav is empty (0 bytes)",
        "text": "track.wav cannot be decoded as audio (Error opening",
    }[kind]
    [problem] = problems_of(show)
    assert problem.startswith(f"{show}:4:12: {expected}")


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as file:
        file.truncate(MAX_FILE_BYTES + 1)  # sparse: 16 MB of NULs that are never read
    assert problems_of(big) == [
        f"{big}:1:1: show file is {MAX_FILE_BYTES + 1:,} bytes; the limit is {MAX_FILE_BYTES:,} — split the show into smaller files"
    ]


def test_a_file_of_millions_of_values_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    dense = tmp_path / "dense.yaml"
    dense.write_text("version: 1\nsongs: [" + "1," * MAX_ITEMS + "1]\n")
    [problem] = problems_of(dense)
    assert f"the limit is {MAX_ITEMS:,}" in problem


def test_unreadable_files_say_permission_denied() -> None:
    """Not "System error" (libsndfile's word for it) nor a traceback: run as an unprivileged user, as root reads all."""
    runner = (
        []
        if os.geteuid() != 0
        else [shutil.which("setpriv") or pytest.skip("setpriv is needed to drop root"), "--reuid=65534", "--regid=65534", "--clear-groups"]
    )
    private = [folder for folder in (REPO, *REPO.parents) if runner and not folder.stat().st_mode & 0o001]
    if private:  # e.g. a checkout inside `mktemp -d` (0700): the unprivileged user cannot even import showcontrol
        pytest.skip(f"{private[0]} is closed to other users, so the unprivileged user cannot run this checkout")
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        folder.chmod(0o755)
        (folder / "locked.yaml").write_text(SONG)
        (folder / "locked.wav").write_bytes(b"RIFF")
        (folder / "show.yaml").write_text("version: 1\nsongs:\n  - id: s\n    audio: locked.wav\n    tempo: [{bar: 1, bpm: 120}]\n")
        for name in ("locked.yaml", "locked.wav"):
            (folder / name).chmod(0)
        (folder / "show.yaml").chmod(0o644)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        for show, expected in (
            ("locked.yaml", "locked.yaml:1:1: show file cannot be read: permission denied"),
            ("show.yaml", "show.yaml:4:12: locked.wav cannot be read: permission denied"),
        ):
            result = subprocess.run(
                [*runner, sys.executable, "-m", "showcontrol", "check", show], capture_output=True, text=True, cwd=folder, env=env
            )
            assert result.returncode == 2 and result.stderr.startswith(expected), result.stderr


def test_a_foreign_file_is_never_echoed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`patch: /etc/shadow`: the report says what the file is not, and prints nothing of it."""
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$s3cr3t:19000:0:99999:7:::\nbin:*:19000:0:99999:7:::\n")
    show = tmp_path / "show.yaml"
    show.write_text(f"version: 1\npatch: {secret}\nsongs: [{{id: s, end: 9.1, tempo: [{{bar: 1, bpm: 120}}]}}]\n")
    assert main(["check", str(show)]) == 2
    err = capsys.readouterr().err
    assert "s3cr3t" not in err and "root:" not in err and "bin:" not in err
    assert f"{secret}:1:1: this is not a patch" in err


def test_escape_sequences_from_a_file_reach_the_terminal_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    show = tmp_path / "show.yaml"
    show.write_text(SONG + '    "\\e[2J\\e]0;owned\\a": 1\n    lyrics: [{at: 1.1, text: "\\e[31mred"}]\n')
    assert main(["check", str(show)]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err
    assert "\\x1b[2J\\x1b]0;owned\\x07" in err


def test_yaml_1_1_keys_are_words(tmp_path: Path) -> None:
    """`ma3: {off: 1}`: the key is the action off, as written, not the boolean false."""
    (tmp_path / "patch.yaml").write_text("version: 1\noutputs:\n  ma3: {type: osc, host: 127.0.0.1, profile: grandma3}\n")
    show = tmp_path / "show.yaml"
    show.write_text(
        "version: 1\npatch: patch.yaml\nsongs:\n  - id: s\n    end: 9.1\n    tempo: [{bar: 1, bpm: 120}]\n"
        "    cues: [{at: 1.1, ma3: {off: 1}}]\n"
    )
    [cue] = load_show(show).show.songs[0].cues
    assert [(a.address, a.args) for a in cue.actions] == [("/cmd", ("Off Sequence 1",))]  # type: ignore[union-attr]


def test_check_and_timeline_write_nothing_for_a_demo_show(tmp_path: Path) -> None:
    """A demo show whose tracks are missing: check and timeline report it and create nothing, anywhere."""
    outside = tmp_path / "elsewhere"
    folder = tmp_path / "show"
    folder.mkdir()
    show = folder / "show.yaml"
    show.write_text(
        f"version: 1\ndemo: true\nsongs:\n  - id: s\n    audio: {outside}/deep/s.flac\n    end: 5.1\n    tempo: [{{bar: 1, bpm: 120}}]\n"
    )
    for command in ("check", "timeline"):
        result = showcontrol(command, str(show), cwd=tmp_path)
        assert result.returncode == 2 and f"showcontrol demo {show}" in result.stderr, result.stderr
    made = showcontrol("demo", str(show), cwd=tmp_path)
    assert made.returncode == 2
    assert "is outside the show's folder" in made.stderr and "Traceback" not in made.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["show"] and [p.name for p in folder.iterdir()] == ["show.yaml"]


def test_the_demo_command_refuses_a_show_that_is_not_a_demo(tmp_path: Path) -> None:
    show = tmp_path / "show.yaml"
    show.write_text(SONG)
    result = showcontrol("demo", str(show), cwd=tmp_path)
    assert result.returncode == 2 and "this show is not a demo" in result.stderr


def test_a_closed_pipe_and_a_full_disk_end_the_output_cleanly(tmp_path: Path) -> None:
    show = tmp_path / "show.yaml"
    show.write_text("version: 1\nsongs:\n  - id: s\n    end: 400.1\n    tempo: [{bar: 1, bpm: 120}]\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    reader = subprocess.Popen(
        [sys.executable, "-m", "showcontrol", "timeline", str(show), "--click"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert reader.stdout is not None and reader.stderr is not None
    reader.stdout.readline()
    reader.stdout.close()  # `| head -1`
    assert reader.wait(timeout=60) == 1
    err = reader.stderr.read().decode()
    assert "Traceback" not in err and "Broken pipe" not in err and "Exception ignored" not in err
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "showcontrol", "check", str(show)], stdout=full, stderr=subprocess.PIPE, text=True, env=env
        )
    assert result.returncode == 1
    assert result.stderr.endswith("\nshowcontrol: cannot write the output: No space left on device\n")
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(not speech_available(), reason="espeak-ng is not installed")
def test_a_guide_call_that_looks_like_an_option_is_spoken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    spoken = speak_all(["-wout.wav", "--help"], 48000)
    assert set(spoken) == {"-wout.wav", "--help"} and all(len(v) > 4800 for v in spoken.values())
    assert list(tmp_path.iterdir()) == []


def test_merge_keys_in_a_payload_merge(tmp_path: Path) -> None:
    """Payloads are built from nodes now (keys as written, duplicates refused): `<<: *base` still merges, the keys beside it win."""
    show = tmp_path / "show.yaml"
    (tmp_path / "patch.yaml").write_text("version: 1\noutputs:\n  monitors: {type: mqtt, host: 127.0.0.1}\n")
    show.write_text(
        SONG.replace("version: 1\n", "version: 1\npatch: patch.yaml\n")
        + "    notes: {base: &base {look: red, level: 1}}\n"
        + "    cues: [{at: 1.1, mqtt: {to: monitors, topic: look, payload: {<<: *base, level: 0.5}}}]\n"
    )
    [cue] = load_show(show).show.songs[0].cues
    assert cue.actions[0].payload == '{"look":"red","level":0.5}'  # type: ignore[union-attr]


def _tags(node: yaml.Node) -> list[tuple[str, str]]:
    if isinstance(node, yaml.MappingNode):
        return [(node.tag, ""), *(t for pair in node.value for n in pair for t in _tags(n))]
    if isinstance(node, yaml.SequenceNode):
        return [(node.tag, ""), *(t for n in node.value for t in _tags(n))]
    return [(node.tag, str(node.value))]


@pytest.mark.parametrize(
    "text",
    [
        (REPO / "cues/demo/show.yaml").read_text(encoding="utf-8"),
        (REPO / "hardware/demo-stage.yaml").read_text(encoding="utf-8"),
        "a: [yes, No, on, OFF, ~, null, '', 1, 0x1F, 0o17, 1_000, 1.5e3, .inf, -.NaN, 2001-12-14, 2001-12-14t21:59:43.10-05:00,"
        " '1', \"true\", <<, =, !!str 3, 1:30, -1, +1, 0b101, {a: 1}, [1]]\n",
    ],
)
def test_the_fast_loader_tags_values_as_the_safe_loader_does(tmp_path: Path, text: str) -> None:
    """libyaml composes, and plain scalars are resolved once per distinct text: the tags are PyYAML's safe loader's."""
    path = tmp_path / "file.yaml"
    path.write_text(text, encoding="utf-8")
    assert _tags(as_a(yaml.Node, compose_file(path, "file"))) == _tags(as_a(yaml.Node, yaml.compose(text, Loader=yaml.SafeLoader)))
