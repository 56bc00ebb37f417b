"""Calls into a JACK server with a deadline, which libjack has none of: a server that is stopped or hung
(SIGSTOP, a driver stuck in the kernel) blocks jack_client_open, jack_activate and jack_connect forever,
and with them a show's start or its audio watch.

Each call runs on a thread of its own, given `within_s`. Past that it is given up: the thread is left
blocked (a daemon), and what the call returns or raises once the server answers goes to its `late`
handler (a client opened too late is closed there). While it waits, every other call is refused at once:
one unanswered call says the server does not answer, and the next would only block another thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
Late = Callable[[object], None]  # what a given-up call returned, or the exception it raised


class ServerSilent(Exception):
    """The server did not answer a call within `within_s`, or (`within_s` None) the call was not made: an
    earlier one is still unanswered."""

    def __init__(self, within_s: float | None) -> None:
        self.within_s = within_s
        super().__init__(
            f"the JACK server did not answer within {within_s:g} s (stopped or hung?)"
            if within_s is not None
            else "the JACK server has not answered our last call yet (stopped or hung?)"
        )


_lock = threading.Lock()
_unanswered: set[threading.Thread] = set()  # calls given up on: nothing more is asked of the server while any waits


def _ignore(_outcome: object) -> None:
    pass


def within(call: Callable[[], T], within_s: float, late: Late = _ignore) -> T:
    """`call()`'s result (or its exception, raised here) if the server answers within `within_s`; else ServerSilent."""
    outcome: list[T | BaseException] = []

    def run() -> None:
        result: T | BaseException
        try:
            result = call()
        except BaseException as error:  # the caller's to see (jack.JackError), or the late handler's
            result = error
        with _lock:
            given_up = threading.current_thread() in _unanswered
            if not given_up:
                outcome.append(result)
        if given_up:
            try:
                late(result)  # before the server is asked anything else: a client closed there is gone before the next opens
            finally:
                with _lock:
                    _unanswered.discard(threading.current_thread())

    with _lock:
        if _unanswered:
            raise ServerSilent(None)
    caller = threading.Thread(target=run, name="jack-call", daemon=True)
    caller.start()
    caller.join(within_s)
    with _lock:
        if not outcome:
            _unanswered.add(caller)
            raise ServerSilent(within_s)
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


def unanswered() -> int:
    """How many calls still wait for the server (tests: none may be left to the next)."""
    with _lock:
        return len(_unanswered)
