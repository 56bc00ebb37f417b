"""The `showcontrol` command: a thin layer over the library that turns errors into messages and exit codes."""

from __future__ import annotations

import argparse
import contextlib
import logging
import logging.handlers
import os
import queue
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from enum import IntEnum
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

from showcontrol import __version__
from showcontrol.atomic_write import target_file, target_folder, write_bytes
from showcontrol.audio.files import read_audio
from showcontrol.audio.speech import speech_available
from showcontrol.control.counts import InputCounts
from showcontrol.errors import AudioFileError, BadInputError, Problem, ShowControlError, ShowFileError, escaped
from showcontrol.load.show_file import LoadedShow, load_show
from showcontrol.model.position import BarBeat
from showcontrol.model.show import Meter
from showcontrol.report import check_summary, timeline_text
from showcontrol.timeline.events import Kind
from showcontrol.timeline.start import TOP, resolve_start, start_text

log = logging.getLogger("showcontrol")


class ExitStatus(IntEnum):
    OK = 0
    FAILED = 1
    BAD_INPUT = 2
    SILENT = 3  # the show played, but on no audio device: nothing was heard
    STOPPED_BY_SIGINT = 128 + 2  # `run` ended by a signal before the song's end, cleanly: the shell's numbers
    STOPPED_BY_SIGTERM = 128 + 15


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="showcontrol", description="Show control locked to the artist track's audio clock.")
    parser.add_argument("--version", action="version", version=f"showcontrol {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def show_command(name: str, text: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("show", type=Path, help="show file (YAML)")
        command.add_argument("--patch", type=Path, help="use this hardware patch instead of the show's own (another venue)")
        return command

    show_command("check", "validate a show file, its patch and audio; print a summary")
    timeline = show_command("timeline", "list every event of the compiled timeline")
    timeline.add_argument("--song", help="only this song (default: all)")
    timeline.add_argument("--format", choices=("table", "csv", "json"), default="table")
    timeline.add_argument("--click", action="store_true", help="include click and count-in hits")
    timeline.add_argument("--sync", action="store_true", help="include MIDI clock ticks and MTC quarter frames")
    timeline.add_argument(
        "--rate", type=sample_rate, metavar="HZ", help="sample rate for frame numbers, 8000-384000 (default: the patch's)"
    )
    render = show_command("render", "render a song's multichannel audio (track, click, LTC) and event trace offline")
    render.add_argument("--song", help="song id (default: the first song)")
    render.add_argument("-o", "--output", type=Path, required=True, help="audio file to write (.wav, .flac)")
    render.add_argument("--trace", type=Path, help="also write the event trace as JSON lines")
    render.add_argument("--rate", type=sample_rate, metavar="HZ", help="sample rate, 8000-384000 (default: the patch's)")
    render.add_argument("--subtype", help="sample format, e.g. PCM_24 (default) or FLOAT")
    render.add_argument("--from", dest="start", metavar="POSITION", help=FROM_HELP)
    render.add_argument("--count-in", type=whole_number(0, 8), metavar="BARS", help="bars of count-in before a later --from")
    run = show_command("run", "play the show's set list (or one --song) through the audio interface, cues locked to its clock")
    run.add_argument("--song", help="play only this song (default: the whole show, its set list with the first song standby)")
    run.add_argument("--from", dest="start", metavar="POSITION", help=FROM_HELP)
    run.add_argument(
        "--audio-driver",
        help="SDL audio driver (pulseaudio, alsa, dummy, disk, ...); default: SDL's choice. "
        "dummy plays to nobody and keeps time only within 3-4 %% of the wall clock",
    )
    run.add_argument("--audio-device", metavar="NAME", help="play on this output (part of its name; see `devices`) instead of the patch's")
    run.add_argument("--require-audio", action="store_true", help="fail instead of falling back to the silent dummy driver")
    run.add_argument(
        "--midi-api", choices=("auto", "alsa", "jack"), default="auto", help="MIDI system (default: ALSA if present, else JACK)"
    )
    run.add_argument("--log", type=Path, help="show log (JSON lines; default showlogs/TIME-SONG.jsonl)")
    run.add_argument(
        "--takes",
        type=Path,
        metavar="FILE",
        help="take log (JSON lines; default the show's own beside the show log: showlogs/FOLDER-NAME.takes.jsonl)",
    )
    run.add_argument(
        "--headless",
        action="store_true",
        help="no screen or keys even on a terminal: play the set through (with --song: that song once) and exit "
        "(with --loop: loop until SIGINT or SIGTERM)",
    )
    run.add_argument(
        "--count-in", type=whole_number(0, 8), metavar="BARS", help="bars of count-in when starting from a later bar (default: the song's)"
    )
    run.add_argument(
        "--loop", metavar="A-B|SECTION", help="loop bars A to B (or a section) until released with l (headless: until a signal)"
    )
    _remote_arguments(run)
    run.add_argument(
        "--stop-fade",
        type=decimal_number(0, 10),
        default=0.5,
        metavar="SECONDS",
        help="fade-out of the track when stopped mid-song (default 0.5)",
    )
    for command in (timeline, render, run):
        pace = command.add_mutually_exclusive_group()
        pace.add_argument("--speed", type=speed_factor, default=Fraction(1), metavar="FACTOR", help=SPEED_HELP)
        pace.add_argument("--tempo", type=tempo_percent, metavar="PERCENT", help=TEMPO_HELP)
        command.add_argument(
            "--realtime-timecode",
            action="store_true",
            help="at another --tempo or --speed, keep LTC and MTC at their nominal rate (cameras), counting from the song's start",
        )
    monitor = commands.add_parser(
        "monitor",
        help="the performers' playback monitor: a window fed by the engine's MQTT state",
        description="Show song, section, bar.beat with a beat flash, lyrics, breath marks, the next cue and timecode, "
        "from the engine's MQTT state topics (retained, so it can start mid-song). Runs on any machine that reaches the broker.",
    )
    monitor.add_argument("--broker", default="127.0.0.1:1883", metavar="HOST:PORT", help="the show's MQTT broker (default 127.0.0.1:1883)")
    monitor.add_argument(
        "--prefix", default="showcontrol/demo/", help="the patch's topic_prefix for the monitors output (default: the demo's)"
    )
    monitor.add_argument("--username", help="MQTT username (the password from $SHOWCONTROL_MQTT_PASSWORD)")
    monitor.add_argument("--fullscreen", action="store_true")
    monitor.add_argument(
        "--performer", metavar="NAME", help="one performer's monitor: only their lyric lines and breaths (and lines everyone sings)"
    )
    monitor.add_argument("--screenshot", type=Path, help="save what the window shows to this PNG when exiting (with --exit-after)")
    monitor.add_argument(
        "--exit-after",
        type=decimal_number(0, 86400),
        metavar="SECONDS",
        help="close this long after the broker first answered, or after the start if it never does (for tests and screenshots)",
    )
    commands.add_parser(
        "devices",
        help="list audio drivers and output devices, the JACK server's ports, and MIDI ports",
        description="List SDL audio drivers, the output devices of the default driver with channel counts and layouts, "
        "the running JACK server's rate, period and audio ports with their playback latency (and how to start one if none runs), "
        "and MIDI ports.",
    )
    demo = commands.add_parser(
        "demo",
        help="synthesise a demo show's missing tracks (inside its folder); with -o, also render its first song",
        description="Write the tracks a show marked `demo: true` names and that do not exist yet, synthesised from its "
        "tempo maps, inside the show's folder. Nothing else writes them: check, timeline and run report them missing.",
    )
    demo.add_argument("show", type=Path, nargs="?", default=Path("cues/demo/show.yaml"), help="the demo show (default cues/demo/show.yaml)")
    demo.add_argument("-o", "--output", type=Path, help="also render the show's first song to this audio file")
    _takes_and_cuesheet_parsers(commands)
    add_analysis_commands(commands)
    _web_parser(commands)
    return parser


def _log_through_a_queue(verbose: bool) -> logging.handlers.QueueListener:
    """Log records are queued and written by a listener thread: no thread of the show ever waits on stderr."""
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    console = logging.StreamHandler()
    # On a terminal, a record starts on a cleared line: `run`'s status line is redrawn below it.
    fresh_line = "\r\x1b[2K" if sys.stderr.isatty() else ""
    console.setFormatter(logging.Formatter(f"{fresh_line}%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(records)]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    listener = logging.handlers.QueueListener(records, console)
    listener.start()
    return listener


_log_listener: logging.handlers.QueueListener | None = None  # main's: see _log_written


def _log_written() -> None:
    """Return once every record logged so far is on stderr (the listener, stopped, writes what is queued;
    then it is started again): before `run`'s full screen takes the terminal, so that no line lands on it."""
    if _log_listener is not None:
        _log_listener.stop()
        _log_listener.start()


def main(argv: Sequence[str] | None = None) -> int:
    global _log_listener
    try:
        args = _parser().parse_args(argv)
    except SystemExit as done:  # --help, --version or a usage error: their text is output too
        return _flushed(done.code if isinstance(done.code, int) else ExitStatus.BAD_INPUT)
    listener = _log_listener = _log_through_a_queue(args.verbose)
    try:
        status = _dispatch(args)
    finally:
        listener.stop()
        _log_listener = None
    status = _flushed(status)
    if getattr(args, "exit_at_once", False):  # an audio device left open (a hung server, PipeWire's JACK): no teardown waits on it
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    return status


def _flushed(status: int) -> int:
    """The command's output all written; a reader gone (`| head -1`) or a full disk (`> /dev/full`) is an exit
    status and, for the disk, one line on stderr, never a traceback (at exit either, where Python would flush again)."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _drop_stdout()
        return ExitStatus.FAILED
    except OSError as error:
        _drop_stdout()
        print(f"showcontrol: cannot write the output: {error.strerror or error}", file=sys.stderr)
        return ExitStatus.FAILED
    return status


def _drop_stdout() -> None:
    """Point stdout at /dev/null, so what is still buffered goes nowhere instead of failing again at exit."""
    with contextlib.suppress(OSError, ValueError):  # not a real file (a test's capture): nothing flushes it at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _dispatch(args: argparse.Namespace) -> int:
    try:
        return int(COMMANDS[args.command](args))
    except BrokenPipeError:
        return _flushed(ExitStatus.FAILED)
    except ShowFileError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        count = len(error.problems)
        print(f"{count} problem{'s' if count != 1 else ''} found; nothing was played or written.", file=sys.stderr)
        return ExitStatus.BAD_INPUT
    except BadInputError as error:
        print(escaped(f"showcontrol: {error}"), file=sys.stderr)
        return ExitStatus.BAD_INPUT
    except ShowControlError as error:
        print(escaped(f"showcontrol: {error}"), file=sys.stderr)
        return ExitStatus.FAILED
    except OSError as error:  # writing the command's output (a print to a full disk): not the show's fault
        if error.filename is not None:
            raise
        _drop_stdout()
        print(f"showcontrol: cannot write the output: {error.strerror or error}", file=sys.stderr)
        return ExitStatus.FAILED
    except KeyboardInterrupt:
        return ExitStatus.FAILED


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high`, else a usage error (argparse names the option)."""
    return _number_in(int, "a whole number", low, high)


def decimal_number(low: float, high: float) -> Callable[[str], float]:
    """An argparse type: a finite number from `low` to `high` (nan and inf are neither)."""
    return _number_in(float, "a number", low, high)


N = TypeVar("N", int, float)


def _number_in(kind: Callable[[str], N], what: str, low: N, high: N) -> Callable[[str], N]:
    def parse(text: str) -> N:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}: give {low:g} to {high:g}") from None
        if not low <= value <= high:  # false for nan too
            raise argparse.ArgumentTypeError(f"{text} is outside {low:g}-{high:g}")
        return value

    return parse


MIN_RATE, MAX_RATE = 8000, 384000
sample_rate = whole_number(MIN_RATE, MAX_RATE)


SPEED_HELP = "playback speed for film work: audio, click, cues and timecode together (pullup, pulldown, 2, 2.5, 4, ...)"
NAMED_SPEEDS = {"pullup": Fraction(1001, 1000), "pulldown": Fraction(1000, 1001), "normal": Fraction(1)}


def speed_factor(text: str) -> Fraction:
    """--speed: pullup/pulldown (0.1 %, as film transfers need) or a factor from 0.25 to 4."""
    try:
        speed = NAMED_SPEEDS.get(text.lower().replace("-", "")) or Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a speed: use pullup, pulldown or a factor such as 2 or 2.5") from None
    if not Fraction(1, 4) <= speed <= 4:
        raise argparse.ArgumentTypeError(f"speed {text} is outside 0.25-4")
    return speed


TEMPO_HELP = "rehearsal tempo, 50-200 %%: the track is time-stretched with its pitch kept (cached on disk); click, cues and timecode follow"
FROM_HELP = (
    "start from a bar (13), bar.beat (13.3), section (chorus1), bar of a section (chorus1:2) or song time (1:30, 1:30.5: "
    "the beat at or before it), with the count-in as pre-roll ending there"
)


def tempo_percent(text: str) -> Fraction:
    """--tempo 75 (or 75%): a speed with the pitch kept."""
    try:
        percent = Fraction(text.strip().removesuffix("%"))
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a tempo: give a percentage such as 75") from None
    if not 50 <= percent <= 200:
        raise argparse.ArgumentTypeError(f"tempo {text} is outside 50-200 %")
    return percent / 100


def _load(args: argparse.Namespace) -> LoadedShow:
    tempo = getattr(args, "tempo", None)
    speed = tempo if tempo is not None else getattr(args, "speed", Fraction(1))
    loaded = load_show(
        args.show,
        args.patch,
        getattr(args, "rate", None),
        speed=speed,
        keep_pitch=tempo is not None,
        realtime_timecode=getattr(args, "realtime_timecode", False),
    )
    for warning in loaded.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if _has_calls(loaded) and not speech_available():
        print(
            "warning: the show has spoken guide calls but espeak-ng is not installed, so they are silent (apt-get install espeak-ng)",
            file=sys.stderr,
        )
    return loaded


def _has_calls(loaded: LoadedShow) -> bool:
    return any(c.calls is not None for song in loaded.show.songs for c in (song.click, *(f.click for f in song.click_feeds)))


def _song_id(loaded: LoadedShow, song: str | None) -> str:
    ids = [s.id for s in loaded.show.songs]
    if song is None:
        return ids[0]
    if song not in ids:
        raise BadInputError(f"no song {song!r} in {loaded.show.path}; songs: {', '.join(ids)}")
    return song


def cmd_check(args: argparse.Namespace) -> ExitStatus:
    loaded = _load(args)
    problems = []
    for song in loaded.show.songs:  # headers were read while loading; decode fully so corrupt data shows now, not live
        for track in song.tracks:
            try:
                read_audio(track.audio, loaded.sample_rate)
            except AudioFileError as error:
                problems.append(Problem(track.mark, str(error), "re-export the file; WAV, FLAC, OGG and MP3 load"))
    if problems:
        raise ShowFileError(problems)
    print(check_summary(loaded))
    warnings = len(loaded.warnings)
    for warning in (_absent_device_warning(loaded), _layout_warning(loaded)):
        if warning is not None:
            print(f"warning: {warning}", file=sys.stderr)
            warnings += 1
    print(f"OK: {len(loaded.show.songs)} song(s), {warnings} warning(s)")
    return ExitStatus.OK


def _absent_device_warning(loaded: LoadedShow) -> str | None:
    """The patch's own audio device, where the running sound server has no output of that name (None: it
    has, the patch takes the default, or no server answers: `check` may run on another machine)."""
    from showcontrol.audio.link import named_device
    from showcontrol.audio.pulse_sinks import sink_layouts

    audio = loaded.show.patch.audio
    if audio.backend == "jack" or not named_device(audio.device) or not (outputs := sink_layouts()):
        return None
    wanted = str(audio.device).lower()
    if any(wanted in name.lower() for name in outputs):
        return None
    return (
        f"the patch's audio device {audio.device!r} is not among this machine's sound server's outputs now: "
        "`run` will not play until it is there (connect it; `showcontrol devices` lists them)"
    )


def _layout_warning(loaded: LoadedShow) -> str | None:
    """Where the running sound server's device cannot take the patch's channels 1:1 (None: it can, or no server)."""
    from showcontrol.audio.link import patch_layout_warning

    audio = loaded.show.patch.audio
    if audio.backend == "jack":  # JACK ports are mono: every channel lands on its own port
        return None
    return patch_layout_warning(audio) if audio.channels > 2 or any(k > 1 for c in audio.routes.values() for k in c) else None


def cmd_timeline(args: argparse.Namespace) -> ExitStatus:
    loaded = _load(args)
    ids = [_song_id(loaded, args.song)] if args.song else [s.id for s in loaded.show.songs]
    hidden = {kind for kind, shown in ((Kind.CLICK, args.click), (Kind.BEAT, args.click), (Kind.SYNC, args.sync)) if not shown}
    print(timeline_text([loaded.timelines[i] for i in ids], args.format, hidden))
    return ExitStatus.OK


def cmd_render(args: argparse.Namespace) -> ExitStatus:
    from showcontrol.offline import render_song
    from showcontrol.ui.progress import ProgressBar

    for path in (args.output, args.trace):
        if path is not None:
            target_file(path)
    loaded = _load(args)
    song_id = _song_id(loaded, args.song)
    started = time.perf_counter()
    try:
        result = render_song(
            loaded,
            song_id,
            args.output,
            args.trace,
            ProgressBar(f"render {song_id}", audio_rate=loaded.sample_rate),
            args.subtype,
            _start(loaded, song_id, args.start),
            args.count_in,
        )
    except OSError as error:
        raise ShowControlError(f"cannot write {args.output}: {error.strerror or error}") from None
    elapsed = time.perf_counter() - started
    seconds = result.frames / result.sample_rate
    print(
        f"wrote {args.output}: {seconds:.1f} s, {result.channels} channels at {result.sample_rate} Hz, "
        f"{result.events} events{f', trace {args.trace}' if args.trace else ''} ({seconds / elapsed:.0f}x real time)"
    )
    return ExitStatus.OK


def cmd_demo(args: argparse.Namespace) -> ExitStatus:
    from showcontrol.demo import make_demo_tracks

    if not args.show.exists():
        raise BadInputError(f"{args.show} not found: run this from the showcontrol checkout, or give the demo show's path")
    written = make_demo_tracks(args.show)
    for path in written:
        print(f"synthesised {path}")
    if not written:
        print(f"{args.show}: every track exists; nothing synthesised")
    if args.output is None:
        return ExitStatus.OK
    args.song, args.patch, args.trace, args.rate, args.subtype, args.start, args.count_in = None, None, None, None, None, None, None
    return cmd_render(args)


def cmd_run(args: argparse.Namespace) -> ExitStatus:
    from showcontrol.app import RunOptions, ShowRunner
    from showcontrol.realtime import helper_priority
    from showcontrol.remote.inputs import any_enabled, effective_inputs, remote_inputs
    from showcontrol.ui.console import StopSignals, run_headless, run_terminal

    loaded = _load(args)
    _check_audio_options(loaded, args)
    song_id = _song_id(loaded, args.song)  # the song --from and --loop are about: --song's, or the set's first
    options = RunOptions(
        song_id if args.song is not None else None,
        _start(loaded, song_id, args.start),
        args.audio_driver,
        args.require_audio,
        args.midi_api,
        args.log,
        args.stop_fade,
        args.count_in,
        takes_path=args.takes,
        audio_device=args.audio_device,
    )
    interactive = not args.headless and sys.stdin.isatty() and sys.stdout.isatty()
    loop = _loop_bars(loaded, song_id, args.loop) if args.loop else None
    runner = ShowRunner(loaded, options)
    inputs = effective_inputs(loaded.show.patch.inputs, args.osc_in)
    signals = StopSignals()
    quit_by: signal.Signals | None = None  # Ctrl-C at the terminal: a key there, the exit status of a SIGINT
    try:
        signals.catch()  # from here on a signal ends the show in order (also one while it opens: SDL then leaves both to us)
        with runner, remote_inputs(runner, args.osc_in) as controller:
            if loop is not None:
                runner.loop(*loop)
            log.info(
                "%s %s%s from %s on audio driver %s (%s); show log %s",
                "cued (space to go):" if interactive else "waiting for a remote GO:" if any_enabled(inputs) else "playing",
                song_id,
                f" (1 of a set of {len(runner.setlist)})" if len(runner.setlist) > 1 else "",
                start_text(options.start),
                runner.driver,
                runner.device.name,
                runner.showlog.path if runner.showlog else "-",
            )
            with helper_priority():  # after opening (which may stretch audio for seconds): see realtime.py
                if interactive:
                    quit_by = run_terminal(runner, stop=signals.stop, controller=controller, log_written=_log_written)
                elif any_enabled(inputs):
                    while not signals.stop.wait(0.2):  # a show machine driven remotely waits for its GO
                        pass
                else:
                    run_headless(runner, signals.stop)
        if signals.received is not None:
            again = f" ({signals.repeated} more ignored)" if signals.repeated else ""
            log.warning("stopped by %s%s; the final state was published", signals.received.name, again)
        print(run_report(runner, controller.inputs))
    finally:  # however the run ended: an audio device left open makes the process end without SDL's teardown
        args.exit_at_once = runner.audio_left_open
        signals.ignore_the_rest()
    if runner.audio_incidents:
        return ExitStatus.FAILED  # a service must see that nothing, or not everything, was heard
    ended_by = signals.received or quit_by
    if ended_by is not None:
        return ExitStatus(128 + ended_by)
    return ExitStatus.SILENT if runner.link.fell_back else ExitStatus.OK


# -- remote control and web surfaces (docs/remote.md) ---------------------------------------------------
def _web_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    web = commands.add_parser(
        "web",
        help="serve the performer page and the operator remote (live state from the broker over WebSockets)",
        description="Serve /performer (?performer=NAME) and /remote over HTTP: static pages that subscribe to the show's MQTT "
        "state through the broker's WebSockets listener; the remote's commands go through the broker to the engine, with the PIN.",
    )
    web.add_argument("--broker", required=True, metavar="HOST:PORT", help="the broker's WebSockets listener, as the browsers reach it")
    web.add_argument("--prefix", default="showcontrol/demo/", help="the topic_prefix of the patch's MQTT output (default: the demo's)")
    web.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080)")
    web.add_argument("--host", default="0.0.0.0", help="address to serve on (default: every interface, for the phones)")


def cmd_web(args: argparse.Namespace) -> ExitStatus:
    from showcontrol.web.server import WebServer, page_config

    host, _, port = args.broker.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ShowControlError(f"--broker {args.broker!r}: give HOST:PORT of the broker's WebSockets listener, e.g. 10.0.0.2:9001")
    try:
        server = WebServer(page_config(host, int(port), args.prefix), args.host, args.port)
    except OSError as error:
        raise ShowControlError(f"cannot serve on {args.host}:{args.port}: {error.strerror or error}") from None
    with server:
        log.info("web pages on http://%s:%d/performer and /remote; broker ws://%s:%s", args.host, server.port, host, port)
        server.serve_until_signalled()
    return ExitStatus.OK


def _remote_arguments(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "--osc-in",
        type=int,
        metavar="PORT",
        help="take OSC commands (/showcontrol/go, ...) on this UDP and TCP port, from this machine only unless the patch's inputs allow more",
    )


def _start(loaded: LoadedShow, song_id: str, text: str | None) -> BarBeat:
    """--from, resolved on the song's timeline; exit 2 saying what exists."""
    if text is None:
        return TOP
    try:
        return resolve_start(text, loaded.timelines[song_id], loaded.show.song(song_id).sections)
    except ValueError as error:
        raise BadInputError(f"--from {escaped(text[:80])}: {error}") from None


def _check_audio_options(loaded: LoadedShow, args: argparse.Namespace) -> None:
    """--audio-driver must name a driver SDL has. It and --audio-device choose an SDL output: on a patch
    that plays through JACK they would be ignored, and the operator would believe the show plays where they said."""
    from showcontrol.audio.device import available_drivers

    if args.audio_driver is not None and args.audio_driver not in (drivers := available_drivers()):
        raise BadInputError(f"--audio-driver {args.audio_driver}: SDL has no such audio driver; give one of {', '.join(drivers)}")
    if loaded.show.patch.audio.backend != "jack":
        return
    for option, value in (("--audio-device", args.audio_device), ("--audio-driver", args.audio_driver)):
        if value is not None:
            raise BadInputError(
                f"{option} {value}: this patch plays through JACK (audio.backend: jack), whose ports it names in audio.ports; "
                f"leave {option} out, or use a patch with the SDL backend"
            )


def _loop_bars(loaded: LoadedShow, song_id: str, text: str) -> tuple[int, int]:
    """--loop 9-16, or --loop chorus1 (that section, up to the next one)."""
    song, timeline = loaded.show.song(song_id), loaded.timelines[song_id]
    first, dash, last = text.partition("-")
    if dash and first.isdigit() and last.isdigit() and 1 <= int(first) <= int(last):
        return int(first), int(last)
    starts = sorted((s.bar, s.name) for s in song.sections)
    for index, (bar, name) in enumerate(starts):
        if name == text:
            return bar, (starts[index + 1][0] - 1 if index + 1 < len(starts) else timeline.last_bar)
    raise BadInputError(f"--loop {text}: give bars like 9-16 or a section of {song_id} ({', '.join(n for _, n in starts) or 'none'})")


def missed_text(frames: int, sample_rate: int) -> str:
    """The audio of the cycles the show's JACK callback never ran for: a gap the audience heard, and ours."""
    return f"{frames * 1000 / sample_rate:.1f} ms" if frames else "none"


def run_report(runner: object, inputs: Mapping[str, InputCounts] | None = None) -> str:
    from showcontrol.app import ShowRunner
    from showcontrol.audio.link import health_text

    assert isinstance(runner, ShowRunner)
    stats = runner.dispatcher.stats
    played = list(dict.fromkeys(runner.played)) or [runner.song.id]
    songs = played[0] if len(played) == 1 else f"{len(runner.played)} songs played ({', '.join(played)})"
    lines = [
        f"{songs}: fired {stats.fired} events, {stats.late} late (> 1 ms), worst {stats.max_late_ns / 1e6:.2f} ms; "
        f"audio callbacks failed: {runner.device.callback_errors}"
        + (f"; JACK xruns: {runner.device.xruns}" if runner.device.xruns is not None else "")
        + (
            f", cycles missed: {missed_text(runner.device.missed_frames, runner.sample_rate)}"
            if runner.device.missed_frames is not None
            else ""
        ),
        f"  audio: {runner.device.name} ({runner.driver}), now {health_text(runner.link.health)}"
        + (f"; not heard (the device's layout): {', '.join(runner.link.unheard)}" if runner.link.unheard else "")
        + "".join(f"; {incident}" for incident in runner.audio_incidents),
    ]
    for name, output in runner.outputs.items():
        c = output.status.counters
        lines.append(
            f"  {name}: {output.status.health}, sent {c.sent}, late {c.late}, dropped {c.dropped}, errors {c.errors}"
            + (f" (last: {output.status.last_error})" if output.status.last_error else "")
        )
    for name, counts in (inputs or {}).items():  # what the remote inputs were sent: commands taken, refused, dropped
        lines.append(f"  {name}: {counts.text()}")
    lines += [f"  preparing: {note}" for note in runner.preparation_notes]  # the stem maker's fallbacks
    if (showlog := runner.showlog) is not None:
        lost = f" ({showlog.lost} lines could not be written: {showlog.last_error})" if showlog.lost else ""
        lines.append(f"show log: {showlog.path}{lost}")
    if runner.takes.path is not None:
        lost = f"; {runner.takes.lost} lines could not be written" if runner.takes.lost else ""
        lines.append(f"take log: {runner.takes.path} ({runner.takes.count} take{'s' if runner.takes.count != 1 else ''} this run{lost})")
    return "\n".join(lines)


def cmd_monitor(args: argparse.Namespace) -> ExitStatus:
    import dataclasses
    import json
    import os

    from showcontrol.io.mqtt_subscriber import MqttSubscriber
    from showcontrol.monitor.window import run_window

    host, _, port = args.broker.rpartition(":") if ":" in args.broker else (args.broker, ":", "1883")
    if not port.isdigit():
        raise BadInputError(f"--broker {args.broker}: give HOST:PORT, e.g. 10.0.0.5:1883")
    if args.screenshot is not None:
        target_file(args.screenshot)  # a device, a FIFO or a missing folder: said now, not after the window ran
    try:
        with MqttSubscriber(host, int(port), args.prefix, args.username, os.environ.get("SHOWCONTROL_MQTT_PASSWORD")) as subscriber:
            shown = run_window(subscriber, args.fullscreen, args.screenshot, args.exit_after, args.performer)
    except Exception as error:  # pygame.error: no display; report it plainly
        raise ShowControlError(
            f"cannot open the monitor window: {error} (on a machine without a screen, set SDL_VIDEODRIVER=dummy or use Xvfb)"
        ) from None
    if args.exit_after is not None:  # a timed run is a check or a screenshot: say what was shown
        print(json.dumps(dataclasses.asdict(shown), ensure_ascii=False))
    return ExitStatus.OK


def cmd_devices(args: argparse.Namespace) -> ExitStatus:
    from showcontrol.audio.channel_map import one_to_one_up_to
    from showcontrol.audio.device import AudioDeviceError, available_drivers, output_devices, start_audio_driver, stop_audio_driver
    from showcontrol.audio.jack_server import JackServer, NoServer, ask_server, server_lines
    from showcontrol.audio.pulse_sinks import sink_layouts
    from showcontrol.io.midi import output_port_names

    def say(line: str) -> None:
        print(escaped(line))  # device and port names come from drivers and servers: no raw terminal escapes

    say(f"audio drivers: {', '.join(available_drivers())}")
    try:
        driver = start_audio_driver(None)
        say(f"audio outputs ({driver}):")
        devices = output_devices()
        layouts = sink_layouts() if driver == "pulseaudio" else {}
        if not devices:
            say(f"  none: {SILENT_FALLBACK}")
        for device in devices:
            channels = f"{device.channels} channels" if device.channels else "channels unknown"
            layout = layouts.get(device.name)
            laid_out = f"; {','.join(layout)}: streams of up to {one_to_one_up_to(layout)} channels land 1:1" if layout else ""
            say(f"  {device.name} ({channels}{f', {device.sample_rate} Hz' if device.sample_rate else ''}{laid_out})")
        stop_audio_driver()
    except AudioDeviceError as error:
        say(f"audio outputs: none ({error}): {SILENT_FALLBACK}")
    server = ask_server()
    for line in server_lines(server):
        say(line)
    jack_hung = isinstance(server, NoServer) and server.hung  # rtmidi's own client would wait for it forever
    midi_systems = 0
    for api in ("alsa", "jack"):
        if api == "jack" and jack_hung:
            say("MIDI outputs (jack): not asked (the JACK server does not answer)")
            continue
        try:
            names = output_port_names(api)
            say(f"MIDI outputs ({api}): {', '.join(names) if names else 'none'}")
            midi_systems += 1
        except Exception as error:  # rtmidi raises assorted errors when a MIDI system is absent
            say(f"MIDI outputs ({api}): unavailable ({str(error).strip() or type(error).__name__})")
    if not midi_systems and isinstance(server, JackServer):
        say(JACK_MIDI_HINT)
    elif not midi_systems and not jack_hung:
        say(MIDI_HINT)
    return ExitStatus.OK


# -- takes and the music cue sheet ---------------------------------------------------------------------------


def _takes_and_cuesheet_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    takes = commands.add_parser(
        "takes",
        help="list the takes of take logs; mark the last take good or no good, or note on it",
        description="List every take (GO) that `run` logged: song, take number, from and to bar, times, timecode in and out, "
        "tempo, status (complete, interrupted, aborted) and marks. With --good, --no-good or --note, mark a take of one log.",
    )
    takes.add_argument(
        "logs",
        nargs="+",
        type=Path,
        metavar="LOG",
        help="take log(s) (showlogs/FOLDER-NAME.takes.jsonl: each show's own, beside its show logs)",
    )
    takes.add_argument("--format", choices=("table", "csv", "json"), default="table")
    takes.add_argument("--song", help="only this song's takes")
    verdict = takes.add_mutually_exclusive_group()
    verdict.add_argument("--good", dest="good", action="store_const", const=True, help="mark the last take (or --take) good")
    verdict.add_argument("--no-good", dest="good", action="store_const", const=False, help="mark it no good")
    takes.add_argument("--note", help="a short note on it")
    takes.add_argument("--take", metavar="ID", help="the take to mark, by its id (DAY/SONG/N, in --format csv or json)")
    sheet = commands.add_parser(
        "cuesheet",
        help="write the production's music cue sheet (CSV for the rights agencies, or a printable PDF)",
        description="The music cue sheet: the production's header, and per use its cue number, title, writers and publishers "
        "with shares and societies, usage code, timing in and out and duration, from the show file's rights: and the chosen "
        "takes (those marked good, else every complete take), or the whole show without --takes.",
    )
    sheet.add_argument("show", type=Path, help="show file (YAML)")
    sheet.add_argument("--patch", type=Path, help="the hardware patch, if the show's own is not here")
    sheet.add_argument("--takes", nargs="+", type=Path, metavar="LOG", help="take log(s): only what was taken (default: the whole show)")
    sheet.add_argument("-o", "--output", type=Path, required=True, help="cuesheet.csv or cuesheet.pdf")
    sheet.add_argument("--series", help="series or production title (default: the show's title)")
    sheet.add_argument("--episode", default="", help="episode title")
    sheet.add_argument("--episode-number", default="", metavar="NUMBER")
    sheet.add_argument("--production", default="", metavar="NUMBER", help="production number")
    sheet.add_argument("--date", type=_iso_date, help="YYYY-MM-DD (default: today)")
    sheet.add_argument("--company", default="", help="production company")
    sheet.add_argument("--paper", choices=("letter", "a4"), default="letter", help="PDF paper, landscape (default letter)")


def _iso_date(text: str) -> str:
    import datetime

    try:
        return datetime.date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: write YYYY-MM-DD") from None


def cmd_cuesheet(args: argparse.Namespace) -> ExitStatus:
    from showcontrol.cuesheet.csv_sheet import cue_sheet_csv
    from showcontrol.cuesheet.sheet import Header, cue_sheet, duration_text
    from showcontrol.takes.log import read_takes

    kind = args.output.suffix.lower()
    if kind not in (".csv", ".pdf"):
        raise BadInputError(f"-o {args.output}: write a .csv (for the rights agencies) or a .pdf (to print)")
    target_file(args.output)
    loaded = _load(args)
    takes = read_takes(_existing_logs(args.takes)) if args.takes else None
    header = Header(
        args.series or loaded.show.title,
        args.episode,
        args.episode_number,
        args.production,
        args.date or time.strftime("%Y-%m-%d"),
        args.company,
    )
    sheet = cue_sheet(loaded, takes, header)
    for note in sheet.notes:
        print(f"note: {note}", file=sys.stderr)
    if kind == ".csv":
        data = cue_sheet_csv(sheet).encode("utf-8-sig")  # the BOM tells spreadsheets it is UTF-8
    else:
        try:
            from showcontrol.cuesheet.pdf import cue_sheet_pdf
        except ImportError:
            raise ShowControlError("a PDF cue sheet needs reportlab: pip install 'showcontrol[pdf]' (or write a .csv)") from None
        data = cue_sheet_pdf(sheet, args.paper, f"showcontrol {__version__}")
    write_bytes(args.output, data)
    print(f"wrote {args.output}: {len(sheet.uses)} use(s), {duration_text(sheet.total_s)} of music")
    return ExitStatus.OK


def _existing_logs(paths: Sequence[Path]) -> list[Path]:
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise BadInputError(
            f"no take log at {', '.join(missing)} (`run` writes FOLDER-NAME.takes.jsonl beside its show log, or --takes FILE)"
        )
    return list(paths)


def cmd_takes(args: argparse.Namespace) -> ExitStatus:
    from showcontrol.takes.listing import takes_text
    from showcontrol.takes.log import TakeLog, read_takes

    logs = _existing_logs(args.logs)
    takes = [t for t in read_takes(logs) if args.song is None or t.song == args.song]
    if args.good is not None or args.note is not None:
        if len(logs) != 1:
            raise BadInputError("mark takes in one take log at a time")
        with TakeLog(logs[0]) as take_log:
            marked = take_log.mark(args.good, args.note, args.take)
        if marked is None:
            raise BadInputError(f"no take {args.take!r} in {logs[0]}" if args.take else f"{logs[0]} has no takes yet")
        takes = [t for t in read_takes(logs) if t.take_id == marked.take_id]  # as marked now
    print(takes_text(takes, args.format))
    return ExitStatus.OK


SILENT_FALLBACK = (
    "`run` falls back to SDL's silent dummy driver, says `audio: SILENT (no device)` and exits with status 3 "
    "(the dummy driver keeps time only within 3-4 % of the wall clock)"
)
MIDI_HINT = (
    "no MIDI system here (no /dev/snd/seq, no JACK server). MIDI ports, virtual ones too, come with a JACK server: "
    "`jackd -d dummy` needs no sound card (`--midi-api auto` then finds it); on PipeWire, give the patch audio backend: "
    "jack and run under `pw-jack`: the JACK client carries the MIDI outputs too"
)

JACK_MIDI_HINT = (
    "the JACK server answers, but rtmidi's own libjack does not reach it (PipeWire's JACK): give the patch audio backend: "
    "jack, and the show's JACK client carries the MIDI outputs"
)


COMMANDS = {
    "check": cmd_check,
    "timeline": cmd_timeline,
    "render": cmd_render,
    "run": cmd_run,
    "devices": cmd_devices,
    "monitor": cmd_monitor,
    "demo": cmd_demo,
    "takes": cmd_takes,
    "cuesheet": cmd_cuesheet,
    "web": cmd_web,
}


# ---- From a recording to a mapped song, and back to the performers: analyze (issue 17) ----------------------------

ANALYZE_DESCRIPTION = """Track the beats and bar lines of a recording and draft its song entry: first_downbeat, meter and a
tempo map that follows the recording (one tempo where it is steady, a change at the bar where it changes, a ramp
where it drifts, a tempo every bar or few for a live recording, a meter entry where bars of another length are
heard, such as a 7/8 bridge), with each entry's confidence as a comment and warnings where the tracker is unsure.
Of a file with more than two channels (a rendered mix) only channels 1 and 2 are analysed, or --channels.
Prints YAML (audio: as given, relative to where you run it), or writes it into a show with --write and --song
(audio: relative to the show's folder; comments and everything else in the file kept; checked like
`showcontrol check` before it replaces the file).

The tracker is showcontrol's own (numpy, MIT licence, like the rest): no model weights, nothing downloaded,
fine for commercial productions. Measured accuracy: docs/analysis.md and bench/analyze.py."""


def add_analysis_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    analyze = commands.add_parser(
        "analyze",
        help="draft a song's tempo map from its recording",
        description=ANALYZE_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    analyze.add_argument("track", type=Path, help="the recording (WAV, FLAC, OGG, MP3)")
    analyze.add_argument(
        "--meter", type=meter_hint, help="the meter: 4/4, 3/4, 6/8, 7/8 or 7/8=2+2+3 with its beat groups (default: 4/4 or 3/4, as heard)"
    )
    analyze.add_argument(
        "--bpm",
        type=bpm_range,
        metavar="MIN-MAX",
        help="the BPM range of the pulse you would tap: quarters, dotted quarters in 6/8, eighths in 7/8",
    )
    analyze.add_argument(
        "--bar1",
        type=decimal_number(0, 86400),
        metavar="SECONDS",
        help="where bar 1 beat 1 sounds in the file, roughly (the nearest beat is taken)",
    )
    analyze.add_argument(
        "--sections", type=sections_hint, default={}, metavar="NAME=BAR,...", help="sections to write, e.g. intro=1,verse1=9"
    )
    analyze.add_argument(
        "--channels",
        type=channel_list,
        metavar="N,...",
        help="the channels to analyse, from 1 (default: 1,2; a rendered mix carries click and LTC too)",
    )
    analyze.add_argument("--write", type=Path, metavar="SHOW.yaml", help="write the entry into this show file instead of printing it")
    analyze.add_argument("--song", help="the song's id (default: from the file name); --write replaces that song's map or adds the song")
    plot = commands.add_parser(
        "plot",
        help="draw a song's waveform with its bar grid, sections, lyrics, breaths and cues to a PNG",
        description="Draw a song as a picture to check its map by eye: the track's waveform with the bar and beat grid and "
        "bar numbers, sections, lyric lines and breath marks, and each output's cues on a lane of its own. "
        "Needs matplotlib: pip install 'showcontrol[plot]'.",
    )
    plot.add_argument("show", type=Path, help="show file (YAML)")
    plot.add_argument("--song", help="song id (default: the first song)")
    plot.add_argument("-o", "--output", type=Path, required=True, help="PNG to write")
    plot.add_argument("--bars", metavar="A-B", help="only bars A to B (e.g. 9-16)")
    plot.add_argument("--patch", type=Path, help="use this hardware patch instead of the show's own")
    practice = commands.add_parser(
        "practice",
        help="render practice files for performers: track, their click and calls, at rehearsal tempos, for a phone",
        description="For each performer (their click feed, or the song's click) and each tempo: NAME.mp3 with chapters at the "
        "sections and the lyrics, NAME.flac, and NAME.lrc with the lyrics and breath marks timed to the file. The track is "
        "time-stretched with its pitch kept (cached, as `run --tempo` does).",
    )
    practice.add_argument("show", type=Path, help="show file (YAML)")
    practice.add_argument("--song", help="song id (default: the first song)")
    practice.add_argument("--performer", help="only this performer (default: every performer with a click feed)")
    practice.add_argument(
        "--tempo", dest="tempos", type=tempo_list, default=[Fraction(100)], metavar="PERCENT,...", help="tempos, e.g. 75,90,100"
    )
    practice.add_argument("-o", "--output", type=Path, required=True, help="folder for the pack (made if missing)")
    practice.add_argument("--patch", type=Path, help="use this hardware patch instead of the show's own")
    practice.set_defaults(rate=PRACTICE_RATE)
    merge = commands.add_parser(
        "merge",
        help="fold the markers dropped in `run` (c, y, b) into the show, checked as `check` checks it",
        description="Fold a marks file written by `run` (SHOW.SONG.marks.yaml) into the show: cue markers become cues "
        "(firing --cue-action), lyric markers new lyric lines to fill in, and breath markers the breath of the line after "
        "them (a breath already written is kept and the conflict reported, unless --replace); new lines go in order among "
        "the old ones, and every change is listed. The rest of the file and its comments are kept; the result is loaded as `check` loads it before it "
        "replaces the show, atomically.",
    )
    merge.add_argument("show", type=Path, help="show file (YAML)")
    merge.add_argument("marks", type=Path, help="the marks file")
    merge.add_argument(
        "--cue-action",
        metavar="YAML",
        help="what each cue marker fires, {n} counting them: e.g. 'lights: {cue: {n}}' or 'osc: {to: lights, address: /go}'",
    )
    merge.add_argument("--first", type=whole_number(0, 1_000_000), default=1, metavar="N", help="the first cue marker's {n} (default 1)")
    merge.add_argument(
        "--replace", action="store_true", help="let breath markers replace breaths already written (default: keep them and warn)"
    )
    merge.set_defaults(patch=None)


def meter_hint(text: str) -> Meter:
    from showcontrol.analyze import parse_meter

    try:
        return parse_meter(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def bpm_range(text: str) -> tuple[float, float]:
    low, dash, high = text.partition("-")
    try:
        values = (float(low), float(high)) if dash else (float(low) * 0.9, float(low) * 1.1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a range such as 90-130, or one BPM") from None
    if not 20 <= values[0] < values[1] <= 600:
        raise argparse.ArgumentTypeError(f"{text!r}: give MIN-MAX between 20 and 600 BPM, MIN below MAX")
    return values


def channel_list(text: str) -> list[int]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items or not all(item.isdigit() and int(item) >= 1 for item in items):
        raise argparse.ArgumentTypeError(f"{text!r}: give channel numbers from 1, e.g. 1,2")
    return [int(item) for item in items]


def sections_hint(text: str) -> dict[str, int]:
    sections = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, equals, bar = item.partition("=")
        if not equals or not bar.strip().isdigit() or not name.strip() or int(bar) < 1:
            raise argparse.ArgumentTypeError(f"{item!r}: write sections as NAME=BAR, e.g. intro=1,verse1=9")
        sections[name.strip()] = int(bar)
    return sections


def _song_slug(path: Path) -> str:
    slug = "-".join("".join(c if c.isalnum() else " " for c in path.stem.lower()).split())
    return slug or "song"


def cmd_analyze(args: argparse.Namespace) -> ExitStatus:
    from showcontrol.analysis.draft import Hints
    from showcontrol.analyze import draft_for_file, song_entry
    from showcontrol.load.roundtrip import entry_text, write_song
    from showcontrol.ui.progress import ProgressBar

    if args.song is not None and not args.song.strip():
        raise BadInputError("--song needs an id")
    draft = draft_for_file(args.track, Hints(args.meter, args.bpm, args.bar1), ProgressBar(f"analyze {args.track.name}"), args.channels)
    song_id = args.song or _song_slug(args.track)
    if args.write:  # a show reads audio: relative to its own folder
        audio, note = os.path.relpath(args.track.resolve(), args.write.resolve().parent), None
    else:
        audio = str(args.track)
        note = (
            f"audio: {audio} is relative to the folder analyze ran in ({Path.cwd()}); a show file reads it relative to its own "
            "folder: change it when you paste, or let --write SHOW.yaml write it so"
        )
        if args.track.is_absolute():
            note = None
    entry = song_entry(draft, song_id, audio, args.sections, args.track.name, note)
    if args.write is None:
        print(entry_text(entry), end="")
    else:
        added = write_song(args.write, entry, lambda written: _validate_show(written, args.write))
        print(
            f"{'added' if added else 'updated'} song {song_id} in {args.write}: {len(draft.tempo)} tempo entries, bar 1 at {float(draft.first_downbeat):.3f} s"
        )
    for warning in draft.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return ExitStatus.OK


def _validate_show(written: Path, show: Path) -> None:
    """`check`'s loading of a show about to be written (as `show`); its problems refuse the write."""
    import dataclasses

    try:
        load_show(written)
    except ShowFileError as error:
        raise ShowFileError(
            dataclasses.replace(p, mark=dataclasses.replace(p.mark, path=str(show))) if p.mark.path == str(written) else p
            for p in error.problems
        ) from None


def cmd_plot(args: argparse.Namespace) -> ExitStatus:
    from showcontrol.chart import bar_range, song_chart

    try:
        from showcontrol.plot import draw_chart, track_envelope
    except ImportError:
        raise ShowControlError("plot needs matplotlib: pip install 'showcontrol[plot]' (or pip install matplotlib)") from None
    loaded = _load(args)
    song_id = _song_id(loaded, args.song)
    timeline = loaded.timelines[song_id]
    try:
        bars = bar_range(args.bars, timeline.last_bar) if args.bars else None
    except ValueError as error:
        raise BadInputError(str(error)) from None
    song = loaded.show.song(song_id)
    chart = song_chart(timeline, f"{song.title or song.id}" + (f" — bars {bars[0]}-{bars[1]}" if bars else ""), bars)
    target_file(args.output)
    try:
        draw_chart(chart, track_envelope(timeline, chart.start, chart.end), args.output)
    except OSError as error:
        raise ShowControlError(f"cannot write {args.output}: {error.strerror or error}") from None
    print(
        f"wrote {args.output}: {song_id}, {len(chart.bar_lines)} bars, {sum(len(m) for _, m in chart.lanes)} cues on {len(chart.lanes)} outputs"
    )
    return ExitStatus.OK


PRACTICE_RATE = 44100  # what phones and MP3 players expect


def tempo_list(text: str) -> list[Fraction]:
    """--tempo 75,90,100: percentages, each 50-200."""
    return [tempo_percent(item) * 100 for item in text.split(",") if item.strip()] or [Fraction(100)]


def cmd_practice(args: argparse.Namespace) -> ExitStatus:
    from showcontrol.practice import make_pack
    from showcontrol.ui.progress import ProgressBar

    target_folder(args.output)  # `-o /dev/null` or a file: a clear exit 2 now, not "File exists" after loading
    loaded = _load(args)
    song_id = _song_id(loaded, args.song)
    started = time.perf_counter()
    try:
        made = make_pack(loaded, song_id, args.performer, args.tempos, args.output, ProgressBar(f"practice {song_id}"))
    except OSError as error:
        raise ShowControlError(f"cannot write into {args.output}: {error.strerror or error}") from None
    for pack in made:
        print(
            f"{pack.performer or 'everyone'} at {float(pack.tempo_percent):g} %: {', '.join(p.name for p in pack.paths)} ({pack.seconds:.0f} s)"
        )
    print(f"wrote {len(made) * 3} files into {args.output} in {time.perf_counter() - started:.1f} s")
    return ExitStatus.OK


def cmd_merge(args: argparse.Namespace) -> ExitStatus:
    from showcontrol.load.marks_file import read_marks
    from showcontrol.load.roundtrip import Merge, merge_markers
    from showcontrol.marks import fold_lyrics

    loaded = _load(args)
    song_id, markers = read_marks(args.marks)
    song, timeline = loaded.show.song(_song_id(loaded, song_id)), loaded.timelines[song_id]
    for kind, at in markers:
        if (problem := timeline.tempo.check(at)) is not None:
            raise BadInputError(f"{args.marks}: {kind} marker at {at}: {problem}")
    cue_marks = [at for kind, at in markers if kind == "cue"]
    if cue_marks and not args.cue_action:
        raise BadInputError(
            f"{len(cue_marks)} cue markers: say what they fire with --cue-action, e.g. --cue-action 'lights: {{cue: {{n}}}}'"
        )
    cues = [(str(at), f"mark {n}", str(args.cue_action).replace("{n}", str(n))) for n, at in enumerate(cue_marks, start=args.first)]

    def frame(at: BarBeat) -> int:
        return timeline.tempo.frame(at, timeline.sample_rate)

    events = timeline.of_kind(Kind.LYRIC)
    lines = [
        (
            next(e.at_frame for e in events if e.payload is lyric),
            None if lyric.breath is None else str(lyric.breath),
            f"lyric line {n} (at {lyric.at})",
        )
        for n, lyric in enumerate(song.lyrics, start=1)
    ]
    fold = fold_lyrics(
        lines,
        [(frame(at), str(at)) for kind, at in markers if kind == "lyric"],
        [(frame(at), str(at)) for kind, at in markers if kind == "breath"],
        args.replace,
    )
    lyric_marks = [str(at) for kind, at in markers if kind == "lyric"]
    new_lines = [(final, lyric_marks[new], f"(line at {lyric_marks[new]})") for final, new in fold.inserts]
    merge_markers(args.show, song_id, Merge(cues, new_lines, fold.breaths), lambda written: _validate_show(written, args.show))
    for cue_at, name, _ in cues:
        print(f"cue {name!r} added at {cue_at}")
    for change in fold.changes:
        print(change)
    for conflict in fold.conflicts:
        print(f"warning: {conflict}", file=sys.stderr)
    print(
        f"merged into {song_id}: {len(cues)} cues, {len(new_lines)} lyric lines, {len(fold.breaths)} breaths written"
        + (f", {len(fold.conflicts)} markers not taken (see the warnings)" if fold.conflicts else "")
    )
    return ExitStatus.OK


COMMANDS["analyze"] = cmd_analyze
COMMANDS["merge"] = cmd_merge
COMMANDS["practice"] = cmd_practice
COMMANDS["plot"] = cmd_plot
