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
    """The server did not answer a call within its deadline, or has not answered an earlier one yet."""


_lock = threading.Lock()
_unanswered: threading.Thread | None = None  # a call given up on: nothing more is asked of the server


def _ignore(_outcome: object) -> None:
    pass


def within(call: Callable[[], T], within_s: float, late: Late = _ignore) -> T:
    """`call()`'s result (or its exception, raised here) if the server answers within `within_s`; else ServerSilent."""
    global _unanswered
    outcome: list[T | BaseException] = []

    def run() -> None:
        global _unanswered
        result: T | BaseException
        try:
            result = call()
        except BaseException as error:  # the caller's to see (jack.JackError), or the late handler's
            result = error
        with _lock:
            given_up = threading.current_thread() is _unanswered
            if given_up:
                _unanswered = None
            else:
                outcome.append(result)
        if given_up:
            late(result)

    with _lock:
        if _unanswered is not None:
            raise ServerSilent("the JACK server has not answered our last call yet (stopped or hung?)")
    caller = threading.Thread(target=run, name="jack-call", daemon=True)
    caller.start()
    caller.join(within_s)
    with _lock:
        if not outcome:
            _unanswered = caller
            raise ServerSilent(f"the JACK server did not answer within {within_s:g} s (stopped or hung?)")
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result
