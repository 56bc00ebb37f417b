"""The `showcontrol` command: a thin layer over the library that turns errors into messages and exit codes."""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import queue
import sys
import time
from collections.abc import Sequence
from enum import IntEnum
from fractions import Fraction
from pathlib import Path

from showcontrol import __version__
from showcontrol.audio.files import read_audio
from showcontrol.audio.speech import speech_available
from showcontrol.errors import AudioFileError, Problem, ShowControlError, ShowFileError
from showcontrol.load.show_file import LoadedShow, load_show
from showcontrol.report import check_summary, timeline_text
from showcontrol.timeline.events import Kind

log = logging.getLogger("showcontrol")


class ExitStatus(IntEnum):
    OK = 0
    FAILED = 1
    BAD_INPUT = 2
    SILENT = 3  # the show played, but on no audio device: nothing was heard


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
    timeline.add_argument("--rate", type=int, help="sample rate for frame numbers (default: the patch's)")
    render = show_command("render", "render a song's multichannel audio (track, click, LTC) and event trace offline")
    render.add_argument("--song", help="song id (default: the first song)")
    render.add_argument("-o", "--output", type=Path, required=True, help="audio file to write (.wav, .flac)")
    render.add_argument("--trace", type=Path, help="also write the event trace as JSON lines")
    render.add_argument("--rate", type=int, help="sample rate (default: the patch's)")
    render.add_argument("--subtype", help="sample format, e.g. PCM_24 (default) or FLOAT")
    run = show_command("run", "play a song through the audio interface and fire its cues, locked to the audio clock")
    run.add_argument("--song", help="song id (default: the first song)")
    run.add_argument("--from", dest="start", metavar="BAR|SECTION", help="start from this bar or section, with the count-in as pre-roll")
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
    run.add_argument("--headless", action="store_true", help="no status line or keys even on a terminal: play once and exit")
    run.add_argument("--count-in", type=int, metavar="BARS", help="bars of count-in when starting from a later bar (default: the song's)")
    run.add_argument("--loop", metavar="A-B|SECTION", help="loop bars A to B (or a section) until released with l")
    run.add_argument(
        "--stop-fade", type=float, default=0.5, metavar="SECONDS", help="fade-out of the track when stopped mid-song (default 0.5)"
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
    monitor.add_argument("--exit-after", type=float, metavar="SECONDS", help="close after this long (for tests and screenshots)")
    commands.add_parser(
        "devices",
        help="list audio drivers and output devices, and MIDI ports",
        description="List SDL audio drivers, the output devices of the default driver with channel counts, and MIDI ports.",
    )
    demo = commands.add_parser(
        "demo",
        help="synthesise the demo show's tracks if missing, then render the demo",
        description="Synthesise the demo show's tracks (first time only), then render its first song.",
    )
    demo.add_argument("--show", type=Path, default=Path("cues/demo/show.yaml"), help="the demo show file")
    demo.add_argument("-o", "--output", type=Path, default=Path("demo.wav"))
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


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    listener = _log_through_a_queue(args.verbose)
    try:
        status = _dispatch(args)
    finally:
        listener.stop()
    if getattr(args, "exit_at_once", False):  # an audio device left open: SDL's teardown would wait for its hung server
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    return status


def _dispatch(args: argparse.Namespace) -> int:
    try:
        return int(COMMANDS[args.command](args))
    except ShowFileError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        count = len(error.problems)
        print(f"{count} problem{'s' if count != 1 else ''} found; nothing was played or written.", file=sys.stderr)
        return ExitStatus.BAD_INPUT
    except ShowControlError as error:
        print(f"showcontrol: {error}", file=sys.stderr)
        return ExitStatus.FAILED
    except KeyboardInterrupt:
        return ExitStatus.FAILED


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
    from showcontrol.demo import make_missing_demo_tracks

    for path in make_missing_demo_tracks(args.show):
        print(f"synthesised {path} (a demo show's track, made the first time it is needed)", file=sys.stderr)
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
        raise ShowControlError(f"no song {song!r} in {loaded.show.path}; songs: {', '.join(ids)}")
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
    if (layout := _layout_warning(loaded)) is not None:
        print(f"warning: {layout}", file=sys.stderr)
        warnings += 1
    print(f"OK: {len(loaded.show.songs)} song(s), {warnings} warning(s)")
    return ExitStatus.OK


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

    loaded = _load(args)
    song_id = _song_id(loaded, args.song)
    started = time.perf_counter()
    try:
        result = render_song(
            loaded, song_id, args.output, args.trace, ProgressBar(f"render {song_id}", audio_rate=loaded.sample_rate), args.subtype
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
    if not args.show.exists():
        raise ShowControlError(f"{args.show} not found: run this from the showcontrol checkout, or pass --show")
    args.song, args.patch, args.trace, args.rate, args.subtype = None, None, None, None, None
    return cmd_render(args)


def cmd_run(args: argparse.Namespace) -> ExitStatus:
    from showcontrol.app import RunOptions, ShowRunner
    from showcontrol.realtime import helper_priority
    from showcontrol.ui.console import run_headless, run_terminal

    loaded = _load(args)
    song_id = _song_id(loaded, args.song)
    if not 0 <= args.stop_fade <= 10:
        raise ShowControlError(f"--stop-fade {args.stop_fade}: give 0 to 10 seconds")
    options = RunOptions(
        song_id,
        _start_bar(loaded, song_id, args.start),
        args.audio_driver,
        args.require_audio,
        args.midi_api,
        args.log,
        args.stop_fade,
        _count_in(args.count_in),
        args.audio_device,
    )
    interactive = not args.headless and sys.stdin.isatty() and sys.stdout.isatty()
    loop = _loop_bars(loaded, song_id, args.loop) if args.loop else None
    runner = ShowRunner(loaded, options)
    try:
        with runner:
            if loop is not None:
                runner.loop(*loop)
            log.info(
                "%s %s from bar %d on audio driver %s (%s); show log %s",
                "cued (space to go):" if interactive else "playing",
                song_id,
                options.start_bar,
                runner.driver,
                runner.device.name,
                runner.showlog.path if runner.showlog else "-",
            )
            with helper_priority():  # after opening (which may stretch audio for seconds): see realtime.py
                if interactive:
                    run_terminal(runner)
                else:
                    run_headless(runner)
    finally:  # however the run ended: an audio device left open makes the process end without SDL's teardown
        args.exit_at_once = runner.audio_left_open
    print(run_report(runner))
    if runner.audio_incidents:  # a service must see that nothing was heard
        return ExitStatus.FAILED
    return ExitStatus.SILENT if runner.link.fell_back else ExitStatus.OK


def _start_bar(loaded: LoadedShow, song_id: str, start: str | None) -> int:
    if start is None:
        return 1
    if start.isdigit():
        last_bar = loaded.timelines[song_id].last_bar
        if not 1 <= int(start) <= last_bar:
            raise ShowControlError(f"--from {start}: {song_id} has bars 1-{last_bar}")
        return int(start)
    sections = {s.name: s.bar for s in loaded.show.song(song_id).sections}
    if start not in sections:
        raise ShowControlError(f"--from {start}: no such bar or section in {song_id}; sections: {', '.join(sections) or 'none'}")
    return sections[start]


def _count_in(bars: int | None) -> int | None:
    if bars is not None and not 0 <= bars <= 8:
        raise ShowControlError(f"--count-in {bars}: give 0 to 8 bars")
    return bars


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
    raise ShowControlError(f"--loop {text}: give bars like 9-16 or a section of {song_id} ({', '.join(n for _, n in starts) or 'none'})")


def run_report(runner: object) -> str:
    from showcontrol.app import ShowRunner
    from showcontrol.audio.link import health_text

    assert isinstance(runner, ShowRunner)
    stats = runner.dispatcher.stats
    lines = [
        f"{runner.song.id}: fired {stats.fired} events, {stats.late} late (> 1 ms), worst {stats.max_late_ns / 1e6:.2f} ms; "
        f"audio callbacks failed: {runner.device.callback_errors}",
        f"  audio: {runner.device.name} ({runner.driver}), now {health_text(runner.link.health)}"
        + "".join(f"; {incident}" for incident in runner.audio_incidents),
    ]
    for name, output in runner.outputs.items():
        c = output.status.counters
        lines.append(
            f"  {name}: {output.status.health}, sent {c.sent}, late {c.late}, dropped {c.dropped}, errors {c.errors}"
            + (f" (last: {output.status.last_error})" if output.status.last_error else "")
        )
    if (showlog := runner.showlog) is not None:
        lost = f" ({showlog.lost} lines could not be written: {showlog.last_error})" if showlog.lost else ""
        lines.append(f"show log: {showlog.path}{lost}")
    return "\n".join(lines)


def cmd_monitor(args: argparse.Namespace) -> ExitStatus:
    import dataclasses
    import json
    import os

    from showcontrol.monitor.subscriber import Subscriber
    from showcontrol.monitor.window import run_window

    host, _, port = args.broker.rpartition(":") if ":" in args.broker else (args.broker, ":", "1883")
    if not port.isdigit():
        raise ShowControlError(f"--broker {args.broker}: give HOST:PORT, e.g. 10.0.0.5:1883")
    subscriber = Subscriber(host, int(port), args.prefix, args.username, os.environ.get("SHOWCONTROL_MQTT_PASSWORD")).start()
    try:
        shown = run_window(subscriber, args.fullscreen, args.screenshot, args.exit_after, args.performer)
    except Exception as error:  # pygame.error: no display; report it plainly
        raise ShowControlError(
            f"cannot open the monitor window: {error} (on a machine without a screen, set SDL_VIDEODRIVER=dummy or use Xvfb)"
        ) from None
    finally:
        subscriber.stop()
    if args.exit_after is not None:  # a timed run is a check or a screenshot: say what was shown
        print(json.dumps(dataclasses.asdict(shown), ensure_ascii=False))
    return ExitStatus.OK


def cmd_devices(args: argparse.Namespace) -> ExitStatus:
    from showcontrol.audio.channel_map import one_to_one_up_to
    from showcontrol.audio.device import AudioDeviceError, available_drivers, output_devices, start_audio_driver, stop_audio_driver
    from showcontrol.audio.jack_device import jack_ports_text
    from showcontrol.audio.pulse_sinks import sink_layouts
    from showcontrol.io.midi import output_port_names

    print(f"audio drivers: {', '.join(available_drivers())}")
    try:
        driver = start_audio_driver(None)
        print(f"audio outputs ({driver}):")
        devices = output_devices()
        layouts = sink_layouts() if driver == "pulseaudio" else {}
        if not devices:
            print(f"  none: {SILENT_FALLBACK}")
        for device in devices:
            channels = f"{device.channels} channels" if device.channels else "channels unknown"
            layout = layouts.get(device.name)
            laid_out = f"; {','.join(layout)}: streams of up to {one_to_one_up_to(layout)} channels land 1:1" if layout else ""
            print(f"  {device.name} ({channels}{f', {device.sample_rate} Hz' if device.sample_rate else ''}{laid_out})")
        stop_audio_driver()
    except AudioDeviceError as error:
        print(f"audio outputs: none ({error}): {SILENT_FALLBACK}")
    print(jack_ports_text())
    midi_systems = 0
    for api in ("alsa", "jack"):
        try:
            names = output_port_names(api)
            print(f"MIDI outputs ({api}): {', '.join(names) if names else 'none'}")
            midi_systems += 1
        except Exception as error:  # rtmidi raises assorted errors when a MIDI system is absent
            print(f"MIDI outputs ({api}): unavailable ({str(error).strip() or type(error).__name__})")
    if not midi_systems:
        print(MIDI_HINT)
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


COMMANDS = {
    "check": cmd_check,
    "timeline": cmd_timeline,
    "render": cmd_render,
    "run": cmd_run,
    "devices": cmd_devices,
    "monitor": cmd_monitor,
    "demo": cmd_demo,
}
