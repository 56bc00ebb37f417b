"""The output seam: a typed result that reads as the show log's words, the books kept once in the base
for every output, and the one reconnect policy (doubling, capped, jittered) that outputs and monitors share."""

from __future__ import annotations

import pytest

from showcontrol.io.backoff import JITTER, Backoff
from showcontrol.io.output import SENT, Health, Outcome, OutputOf, Result
from showcontrol.model.position import BarBeat
from showcontrol.model.show import OscAction
from showcontrol.timeline.events import Event, Kind

EVENT = Event(0, BarBeat(1), Kind.OSC, "lights", OscAction("lights", "/go", ()))


@pytest.mark.parametrize(
    ("result", "words"),
    [
        (SENT, "sent"),
        (Result(Outcome.QUEUED), "queued"),
        (Result(Outcome.QUEUED, Health.DOWN), "queued (down)"),
        (Result(Outcome.DROPPED, "queue full"), "dropped: queue full"),
        (Result(Outcome.ERROR, "10.0.0.5:8000: Connection refused"), "error: 10.0.0.5:8000: Connection refused"),
    ],
)
def test_a_result_is_typed_and_reads_as_the_show_logs_words(result: Result, words: str) -> None:
    assert result == words and f"rebuild: {result}" == f"rebuild: {words}"
    assert result.outcome.value == words.split(":")[0].split(" ")[0]


class Device(OutputOf[int]):
    """One output whose device does what the test says (the base's books are what is tested)."""

    def __init__(self) -> None:
        super().__init__("lights", 0.0)
        self.port_open = True
        self.fails: Exception | None = None
        self.got: list[int] = []

    def prepare(self, event: Event) -> int:
        return event.at_frame

    def _unavailable(self) -> str | None:
        return None if self.port_open else "no MIDI port matching 'keys'"

    def _send(self, message: int, event: Event, due_ns: int) -> Result:
        if self.fails is not None:
            raise self.fails
        self.got.append(message)
        return SENT


def test_the_base_keeps_the_books_for_every_output() -> None:
    device = Device()
    assert device.send(1, EVENT, 0) == "sent"
    device.port_open = False
    assert device.send(2, EVENT, 0) == "dropped: no MIDI port matching 'keys'"
    device.port_open, device.fails = True, OSError(111, "Connection refused")
    result = device.send(3, EVENT, 0)  # whatever the library raises never reaches the dispatcher
    assert result.outcome is Outcome.ERROR and result == "error: [Errno 111] Connection refused"
    device.fails = ValueError()
    assert device.send(4, EVENT, 0) == "error: ValueError"
    counters = device.status.counters
    assert (counters.sent, counters.dropped, counters.errors) == (1, 1, 2) and device.got == [1]
    assert device.status.health is Health.DOWN and device.status.last_error == "ValueError"


def test_waits_double_up_to_the_longest_each_within_the_jitter_and_start_over_after_a_success() -> None:
    waits = Backoff(0.25, 4.0)
    drawn = [waits.next_s() for _ in range(8)]
    nominal = [0.25, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    assert all(n * (1 - JITTER) <= d <= n * (1 + JITTER) for d, n in zip(drawn, nominal, strict=True))
    waits.reset()
    assert 0.25 * (1 - JITTER) <= waits.next_s() <= 0.25 * (1 + JITTER)
    spread = {round(Backoff(1.0, 1.0).next_s(), 6) for _ in range(50)}
    assert len(spread) > 40  # monitors that lost one broker together do not knock again in one instant
