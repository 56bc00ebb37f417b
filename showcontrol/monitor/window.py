"""The monitor window: big, high-contrast text readable from 5 m, drawn from a MonitorView.

Drawing is a pure function of the view and the time (so a screenshot shows exactly what a performer
sees); the loop only drains the subscriber's queue, draws at 30 fps and handles quit.
"""

from __future__ import annotations

import io
import os
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import pygame

from showcontrol.atomic_write import write_bytes
from showcontrol.io.mqtt_subscriber import MqttSubscriber
from showcontrol.monitor.state import MonitorView, apply

BACKGROUND = (12, 12, 16)
OFFLINE_BACKGROUND = (150, 18, 18)  # a whole screen that says: not live
FLASH = {"downbeat": (150, 90, 0), "beat": (20, 50, 110)}
PALE = (250, 200, 200)
WHITE, GREY, CYAN, RED, GREEN, AMBER = (240, 240, 240), (140, 140, 150), (90, 220, 255), (230, 60, 60), (80, 200, 120), (255, 190, 60)


class Fonts:
    def __init__(self, height: int) -> None:
        self.huge = pygame.font.Font(None, height // 3)
        self.big = pygame.font.Font(None, height // 10)
        self.medium = pygame.font.Font(None, height // 16)
        self.small = pygame.font.Font(None, height // 24)


def draw(screen: pygame.Surface, fonts: Fonts, view: MonitorView, now_s: float) -> None:
    width, height = screen.get_size()
    flash = view.flash(now_s)
    screen.fill(FLASH[flash] if flash else BACKGROUND if view.live else OFFLINE_BACKGROUND)

    def text(font: pygame.font.Font, words: str, color: tuple[int, int, int], center_y: int, x: int | None = None) -> None:
        surface = font.render(words, True, color)
        rect = surface.get_rect(center=(width // 2, center_y)) if x is None else surface.get_rect(midleft=(x, center_y))
        if rect.width > width - 20:  # long lyrics: shrink to fit rather than cut
            surface = pygame.transform.smoothscale(surface, (width - 20, max(1, int(rect.height * (width - 20) / rect.width))))
            rect = surface.get_rect(center=(width // 2, center_y))
        screen.blit(surface, rect)

    margin = height // 20
    title = "  ·  ".join(part for part in (view.song, view.section) if part) or "waiting for the show"
    title += f"  ·  for {view.performer}" if view.performer else ""
    text(fonts.medium, title, WHITE, margin, x=margin)
    if view.timecode:
        surface = fonts.medium.render(f"TC {view.timecode}", True, GREY)
        screen.blit(surface, surface.get_rect(midright=(width - margin, margin)))
    for row, (topic, problem) in enumerate(view.bad):  # a message that could not be read: said, small, in a corner
        surface = fonts.small.render(_cut(f"bad message on {topic}: {problem}", 70), True, AMBER)
        screen.blit(surface, surface.get_rect(topright=(width - margin, 2 * margin + row * fonts.small.get_linesize())))
    link, color = _link(view)
    surface = fonts.small.render(link, True, color)
    screen.blit(surface, surface.get_rect(midright=(width - margin, height - margin)))
    if not view.live:  # nothing shown is happening now: the performers must not follow it
        headline, reason = OFFLINE_WARNINGS["engine" if view.connected else "broker"]
        text(fonts.huge, headline, WHITE, int(height * 0.36))
        text(fonts.big, reason, WHITE, int(height * 0.6))
        if view.bar is not None:
            text(fonts.medium, f"last heard: bar {view.bar}.{view.beat}, {view.transport}", PALE, int(height * 0.75))
        return
    if view.audio != "ok":  # the track the performers follow is not heard: they must know before anyone calls it
        text(fonts.medium, AUDIO_WARNINGS.get(view.audio, f"AUDIO {view.audio.upper()}"), RED, int(height * 0.15))
    if view.transport == "paused":
        text(fonts.huge, "PAUSED", AMBER, int(height * 0.33))
        if view.bar is not None:
            text(fonts.medium, f"at {view.bar}.{view.beat}", AMBER, int(height * 0.48))
    else:
        position = f"{view.bar}.{view.beat}" if view.bar is not None and view.transport != "stopped" else view.transport.upper()
        text(fonts.huge, position, AMBER if view.downbeat and flash else WHITE, int(height * 0.33))
    if view.transport == "stopped" and view.next_up:  # between songs: which number is next, before anything else
        text(fonts.big, view.next_up if view.set_played else f"next: {view.next_up}", AMBER, int(height * 0.58))
    else:
        text(fonts.big, view.line(view.lyric, view.lyric_performer), WHITE, int(height * 0.58))
        text(fonts.medium, view.line(view.next_lyric, view.next_lyric_performer), GREY, int(height * 0.67))
    if view.transport != "stopped" and view.next_up and not view.set_played:
        surface = fonts.small.render(_cut(f"next song: {view.next_up}", 50), True, GREY)
        screen.blit(surface, surface.get_rect(center=(width // 2, height - margin)))
    if view.breath_in_beats is not None and view.transport == "playing":
        beats = view.breath_in_beats
        text(fonts.big, "BREATHE" if beats == 0 else f"breathe — {beats} beat{'s' if beats != 1 else ''}", CYAN, int(height * 0.78))
    countdown = view.cue_countdown(now_s)
    if countdown:
        name, seconds = countdown
        text(fonts.small, f"next cue: {name} in {seconds:.1f} s", GREY, height - margin, x=margin)


AUDIO_WARNINGS = {
    "lost": "AUDIO LOST — the track is not heard",
    "stalled": "AUDIO STALLED — the track has stopped",
    "silent": "AUDIO SILENT (no device) — the track is not heard",
}
OFFLINE_WARNINGS = {
    "engine": ("ENGINE OFFLINE", "the show is not running: nothing here is live"),
    "broker": ("NO CONNECTION", "cannot reach the show's broker: nothing here is live"),
}


def _cut(words: str, limit: int) -> str:
    return words if len(words) <= limit else words[: limit - 1] + "…"


def _link(view: MonitorView) -> tuple[str, tuple[int, int, int]]:
    if not view.connected:
        return "no broker — reconnecting", RED
    if view.engine == "offline":
        return "engine offline", RED
    return ("connected", GREEN) if view.engine == "online" else ("broker connected, no engine yet", AMBER)


def save_png(screen: pygame.Surface, path: Path) -> None:
    """What the window shows, as a PNG written whole or not at all, like every file showcontrol writes."""
    png = io.BytesIO()
    pygame.image.save(screen, png, "png")  # the format by name: the temporary file's name would say nothing
    write_bytes(path, png.getvalue())


def run_window(
    subscriber: MqttSubscriber,
    fullscreen: bool = False,
    screenshot: Path | None = None,
    exit_after_s: float | None = None,
    performer: str | None = None,
) -> MonitorView:
    """Run until closed (or `exit_after_s` after it first had the broker, or after the start if it never
    does: a screenshot shows the show's state, however long the broker took to answer); returns what was on
    screen last."""
    pygame.display.init()
    pygame.font.init()
    try:
        screen = pygame.display.set_mode((0, 0) if fullscreen else (1280, 720), pygame.FULLSCREEN if fullscreen else 0)
        pygame.display.set_caption("showcontrol monitor")
        fonts = Fonts(screen.get_height())
        view, started, clock = MonitorView(performer=performer), time.monotonic(), pygame.time.Clock()
        live_since: float | None = None  # when the broker first answered
        while True:
            now = time.monotonic()
            while not subscriber.messages.empty():
                topic, payload = subscriber.messages.get()
                view = apply(view, topic, payload, now)
            if view.connected != subscriber.connected:
                view = replace(view, connected=subscriber.connected)
            if live_since is None and view.connected and now - started < (exit_after_s or 0):
                live_since = now
            if any(
                e.type == pygame.QUIT or (e.type == pygame.KEYDOWN and e.key in (pygame.K_ESCAPE, pygame.K_q)) for e in pygame.event.get()
            ):
                return view
            draw(screen, fonts, view, now)
            pygame.display.flip()
            if exit_after_s is not None and now - (live_since or started) >= exit_after_s:
                if screenshot is not None:
                    save_png(screen, screenshot)
                return view
            clock.tick(30)
    finally:
        pygame.display.quit()
