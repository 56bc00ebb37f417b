"""The cue line: a second connection to the broker, on which the dispatcher writes QoS-0 cues itself.

Why: a cue handed to the network thread waits until that ordinary-priority thread runs, and on a busy
machine it is queued behind the very process the real-time dispatcher has just preempted (ftrace: up to
a scheduler slice). Written by the dispatcher at its deadline as a PUBLISH packet built at load time, a
cue leaves in one send().

The network thread opens the line (paho: CONNECT with the patch's credentials and TLS, then CONNACK),
watches it and closes it; only the dispatcher writes on it. Keep-alive is off, since nothing but cues
travels on it: a lost broker is noticed by the main connection, which pings, and which closes the line
when it ends. A send that cannot complete at once (an error, a full socket buffer, a partial write) ends the
line and returns False, so the cue takes the main connection: the dispatcher never waits.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import ssl
import threading
import time
from typing import Any, TypedDict

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from showcontrol.model.patch import MqttOutput

# paho leaves Nagle's algorithm on: a cue published just after a state message then waits for the
# broker's delayed ACK (measured: p99 42 ms publish->receive on loopback; see mosquitto#433).
NO_NAGLE = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
CONNACK_TIMEOUT_S = 3.0


def password_of(spec: MqttOutput) -> str | None:
    return os.environ.get(spec.password_env) if spec.password_env else None


class TlsFiles(TypedDict):
    ca_certs: str | None
    certfile: str | None
    keyfile: str | None


def tls_files(spec: MqttOutput) -> TlsFiles:
    """The patch's TLS files as paho's tls_set (and aiomqtt's TLSParameters) name them."""
    tls = spec.tls
    assert tls is not None
    return TlsFiles(
        ca_certs=str(tls.ca_file) if tls.ca_file else None,
        certfile=str(tls.cert_file) if tls.cert_file else None,
        keyfile=str(tls.key_file) if tls.key_file else None,
    )


def paho_client(spec: MqttOutput, suffix: str = "") -> mqtt.Client:
    """A paho client with the patch's client id (and `suffix`: one id per connection), credentials and TLS."""
    client_id = f"{spec.client_id}{suffix}" if spec.client_id else ""  # empty: the broker names it
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    if spec.username:
        client.username_pw_set(spec.username, password_of(spec))
    if spec.tls is not None:
        client.tls_set(**tls_files(spec))
        client.tls_insecure_set(spec.tls.insecure)
    return client


class CueLine:
    """An open connection that only the dispatcher writes on; the network thread watches and closes it.

    Either side may end the line (`_end`: shut down, so the broker drops a partial packet and the socket
    turns readable); only the network thread releases the file descriptor (`close`), after it stopped
    watching it, so that no descriptor number is reused under its event loop's watch.
    """

    def __init__(self, sock: socket.socket, client: mqtt.Client) -> None:
        self._sock = sock
        self._client = client  # paho closes the socket when it is collected: kept alive with the line
        self._lock = threading.Lock()  # a TLS connection must not be read and written at once
        self.fileno = sock.fileno()
        self._readable = select.poll()
        self._readable.register(self.fileno, select.POLLIN | select.POLLRDHUP)
        self.ended = False
        self.reason = ""

    def send(self, packet: bytes) -> bool:
        """Write the whole packet now, or end the line and return False; never waits, never raises."""
        if not self._lock.acquire(blocking=False):
            return False  # the network thread is checking or closing the line: this cue takes the other way
        try:
            if self.ended or self._readable.poll(0):
                # Readable: the broker is closing the line (it sends nothing else). Written now, the cue
                # would be taken by the kernel and lost with the connection; the network thread decides.
                return False
            try:
                written = self._sock.send(packet)
            except OSError as error:  # ssl.SSLWantWriteError included: the socket buffer is full
                self._end(f"write failed: {error}")
                return False
            if written != len(packet):
                self._end(f"socket buffer full ({written} of {len(packet)} bytes written)")
                return False
            return True
        finally:
            self._lock.release()

    def check(self) -> bool:
        """On the network thread, when the socket turns readable: True once the line has ended. The broker
        sends nothing on this line; readable means it closed it (TLS housekeeping is read and ignored),
        or the dispatcher ended it."""
        with self._lock:
            if self.ended:
                return True
            try:
                data = self._sock.recv(1)
            except (BlockingIOError, ssl.SSLWantReadError):
                return False
            except OSError as error:
                self._end(f"connection lost: {error}")
                return True
            self._end("closed by the broker" if not data else "the broker sent a packet on a line it should only receive on")
            return True

    def close(self, reason: str) -> None:
        """On the network thread, once it no longer watches the socket."""
        with self._lock:
            if not self.ended:
                self._end(reason)
            self._sock.close()

    def _end(self, reason: str) -> None:
        self.ended, self.reason = True, reason
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)


def open_cue_line(spec: MqttOutput, timeout_s: float = CONNACK_TIMEOUT_S) -> CueLine:
    """Connect and wait for the broker's CONNACK (blocking: run off the event loop). Raises OSError,
    or ConnectionError with the broker's reason (a wrong password, a broker that insists on keep-alive)."""
    client = paho_client(spec, "-cues")
    answers: list[Any] = []
    client.on_connect = lambda _client, _data, _flags, reason, _properties: answers.append(reason)
    client.connect(spec.host, spec.port, keepalive=0)
    deadline = time.monotonic() + timeout_s
    while not answers and time.monotonic() < deadline:
        if client.loop(timeout=0.05) != mqtt.MQTT_ERR_SUCCESS:
            break
    sock = client.socket()
    if not answers or answers[0].is_failure or not isinstance(sock, socket.socket):
        reason = str(answers[0]) if answers else "no answer from the broker"
        client.disconnect()
        raise ConnectionError(reason)
    sock.setsockopt(*NO_NAGLE)
    return CueLine(sock, client)
