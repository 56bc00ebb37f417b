"""The MQTT output: paho, driven by the asyncio loop of a network thread (io/mqtt_connection.py).

Cues at QoS 0 that are not retained are written by the dispatcher itself, at their deadline, on a
second connection (the cue line, io/mqtt_cue_line.py) that this thread opens and watches. Everything
else, and those cues whenever the line is not open or cannot take them at once, the dispatcher appends
to a queue, waking the thread once per burst; the thread hands them to paho in order and writes them in
that same turn of its loop. What was not written (or, at QoS 1 and 2, not acknowledged) when the
connection drops is queued again, in order.

Per output: a retained `{prefix}status` presence topic (`online`, with last will `offline`), retained
state topics (`state/transport`, `state/section`, `state/position`, `state/lyric`, `state/breath`,
`state/audio`, `state/setlist`; their payloads are codec/monitor.py's) that let a monitor join mid-song, and cue messages. While the broker is away the output reconnects with
backoff; cues queued meanwhile that are older than `max_delay_s` are dropped and logged rather than
fired late (a confetti cue must not go off 30 s after its beat), and the latest retained state is
republished on reconnect. A cue whose hand-over could not say how it ended ("queued (down)"), or that
left late, gets a record of its own in the show log when it is written (sent, with how late) or
dropped (with the reason); every such record names the cue. Lateness is measured against the cue's
deadline, when it is written, not when it was handed over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import paho.mqtt.client as mqtt

from showcontrol.beats import state_message
from showcontrol.codec import monitor as wire
from showcontrol.codec.mqtt_publish import publish_packet
from showcontrol.io.backoff import Backoff
from showcontrol.io.mqtt_connection import Connection
from showcontrol.io.mqtt_cue_line import CueLine, open_cue_line, paho_client
from showcontrol.io.output import LATE_NS, QUEUED, SENT, Health, Outcome, OutputOf, Result
from showcontrol.model.patch import MqttOutput
from showcontrol.model.show import MqttAction
from showcontrol.realtime import normal_priority
from showcontrol.timeline.events import Event
from showcontrol.timeline.sync import SyncPoint

log = logging.getLogger(__name__)

Report = Callable[[dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class Publication:
    topic: str
    payload: str | bytes
    qos: int
    retain: bool
    due_ns: int
    cue: bool
    packet: bytes | None = None  # for the cue line: QoS 0, not retained, built at load
    about: Mapping[str, Any] | None = None  # a cue's name and place, for the show log's records about it
    handed_ns: int = 0  # when the dispatcher handed it over
    owed: bool = False  # handed over while the broker was away: its final result is still to be logged


class MqttPublisher(OutputOf[Publication]):
    def __init__(
        self,
        spec: MqttOutput,
        report: Report | None = None,
        max_delay_s: float = 2.0,
        queue_size: int = 1000,
    ) -> None:
        super().__init__(spec.name, spec.latency_ms)
        self.spec = spec
        self._beat_payloads: Mapping[str, Mapping[int, bytes]] = {}  # by song: replaced whole, never changed in place
        self.prefix = spec.topic_prefix
        self.max_delay_ns = int(max_delay_s * 1e9)
        self._report = report or (lambda record: None)
        self._queue_size = queue_size
        self._loop: asyncio.AbstractEventLoop | None = None
        # Handed over by the dispatcher, taken by the network thread: deque appends and pops are atomic.
        self._pending: deque[Publication | None] = deque()
        self._wake_asked = False  # one loop wake-up per burst of sends, not one per message
        self._connection: Connection | None = None  # while connected: publishing goes straight to its paho client
        self._line: CueLine | None = None  # while open: the dispatcher writes QoS-0 cues on it itself
        self._session: asyncio.Future[bool] | None = None  # the connection's end: True when asked to stop
        # Handed to paho, not yet on the wire (or acknowledged), with when they were written.
        self._in_flight: list[tuple[Publication, mqtt.MQTTMessageInfo, int]] = []
        self._retained: dict[str, Publication] = {}
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._ready = threading.Event()
        self.connections = 0
        self.cue_connections = 0
        self._transport = wire.Transport()  # the latest transport state, republished with the next song
        self._next_song: str | None = None

    @property
    def cue_connection_open(self) -> bool:
        """Whether QoS-0 cues are written straight to the broker now (else they take the main connection)."""
        return self._line is not None

    def set_beats(self, song_id: str, beats: Mapping[int, wire.Position], keep: str | None = None) -> None:
        """What monitors show from each beat of `song_id` on (showcontrol.beats), by song frame: encoded now,
        as the dispatcher sends it right after the beat's cues. The table of `keep` (the song playing, while
        the one that follows it is armed) is kept beside it; each beat reads the table of the song whose
        transport was told last, which the song before's stop and this one's start keep in order."""
        kept = {keep: self._beat_payloads[keep]} if keep is not None and keep != song_id and keep in self._beat_payloads else {}
        self._beat_payloads = {**kept, song_id: {frame: wire.encode(position) for frame, position in beats.items()}}

    # -- dispatcher side -------------------------------------------------------------------
    def prepare(self, event: Event) -> Publication:
        action = event.payload
        assert isinstance(action, MqttAction)
        topic = self.prefix + action.topic
        direct = self.spec.cue_connection and action.qos == 0 and not action.retain
        packet = publish_packet(topic, action.payload.encode()) if direct else None
        about = {"cue": event.cue_name, "position": f"{event.position.bar}.{event.position.beat}", "song_frame": event.at_frame}
        return Publication(topic, action.payload, action.qos, action.retain, 0, True, packet, about)

    def _send(self, message: Publication, event: Event, due_ns: int) -> Result:
        line = self._line
        if message.packet is not None and line is not None and line.send(message.packet):
            return SENT
        owed = self.status.health is not Health.UP
        handed = Publication(
            message.topic, message.payload, message.qos, message.retain, due_ns, True, None, message.about, time.monotonic_ns(), owed
        )
        return self._enqueue(handed)

    def state(self, event: Event) -> None:
        message = state_message(event)
        if message is None:
            return
        beats = self._beat_payloads.get(self._transport.song or "")
        beat = beats.get(event.at_frame) if beats is not None and isinstance(message, wire.Position) else None
        self._publish_state(message, qos=0, payload=beat)

    def transport(self, state: str, song_id: str, position: str, sync: SyncPoint) -> None:
        self._transport = wire.Transport(state, song_id, position)
        self._publish_transport()

    def next_song(self, song_id: str, next_song: str | None) -> None:
        if self._transport.song != song_id:  # another song open (installed while stopped): from its top
            self._transport = wire.Transport("stopped", song_id, "0")
        self._next_song = next_song
        self._publish_transport()

    def _publish_transport(self) -> None:
        """With the set list's next song, which monitors show ("" after the last: none follows)."""
        self._publish_state(replace(self._transport, next_song=self._next_song or ""), qos=1)

    def set_list(self, songs: tuple[wire.SetSong, ...]) -> None:
        self._publish_state(wire.SetList(songs), qos=1)

    def audio(self, health: str) -> None:
        self._publish_state(wire.Audio(health), qos=1)

    def _publish_state(self, message: wire.Message, qos: int, payload: bytes | None = None) -> None:
        """Retained, so a monitor that joins later reads it; `payload` when it was encoded ahead."""
        encoded = wire.encode(message) if payload is None else payload
        self.count(self._enqueue(Publication(self.prefix + wire.topic_of(message), encoded, qos, True, time.monotonic_ns(), False)))

    def _enqueue(self, publication: Publication) -> Result:
        """Hand a publication to the network thread; the caller counts the result."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return Result(Outcome.DROPPED, "network thread not running")
        if len(self._pending) >= self._queue_size:
            self._tell(publication, "dropped: queue full")
            return Result(Outcome.DROPPED, "queue full")
        if publication.retain:
            self._retained[publication.topic] = publication
        self._pending.append(publication)
        if not self._wake_asked:  # the network thread clears it before it drains: this message is in that drain or the next
            self._wake_asked = True
            try:
                loop.call_soon_threadsafe(self._wake)
            except RuntimeError:  # loop closed between the check and the call
                return Result(Outcome.DROPPED, "network thread stopped")
        return QUEUED if self.status.health is Health.UP else Result(Outcome.QUEUED, self.status.health)

    # -- network thread ------------------------------------------------------------------
    def open(self) -> MqttPublisher:
        self._thread = threading.Thread(target=self._run_loop, name=f"mqtt-{self.name}", daemon=True)
        self._thread.start()
        self._ready.wait(5)
        return self

    def _wake(self) -> None:
        """On the network thread, at once: publish what is queued (nothing waits for a later turn of the loop)."""
        self._wake_asked = False
        session, connection = self._session, self._connection
        if connection is None or session is None or session.done():
            return  # not connected: the queue is drained once it is
        try:
            if self._publish_queued(connection):
                session.set_result(True)
        except ConnectionError as error:
            session.set_exception(error)

    def _run_loop(self) -> None:
        normal_priority()  # not real-time, unlike the other helpers: see realtime.py
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._ready.set()
        try:
            loop.run_until_complete(self._connect_forever())
        finally:
            self._account_for_undelivered()
            loop.run_until_complete(loop.shutdown_default_executor())  # a cue line still opening is closed
            loop.close()

    def _account_for_undelivered(self) -> None:
        """Cues still queued when the show closes (broker down) are dropped and logged, not forgotten."""
        self._requeue_unconfirmed()
        while self._pending:
            publication = self._pending.popleft()
            if publication is not None and publication.cue:
                self.status.counters.dropped += 1
                self._tell(publication, "dropped: undelivered at shutdown")

    def _client(self) -> mqtt.Client:
        client = paho_client(self.spec)
        client.will_set(self.prefix + wire.STATUS, wire.OFFLINE, qos=1, retain=True)
        return client

    async def _connect_forever(self) -> None:
        waits = Backoff(0.25, 5.0)
        while not self._stopped.is_set():
            connection = Connection(self._client())
            try:
                await connection.connect(self.spec.host, self.spec.port)
                self.connections += 1
                connection.client.publish(self.prefix + wire.STATUS, wire.ONLINE, qos=1, retain=True)
                for publication in list(self._retained.values()):
                    if not publication.cue:
                        connection.client.publish(publication.topic, publication.payload, qos=publication.qos, retain=True)
                connection.write_now()
                self.mark(Health.UP)
                waits.reset()
                await self._publish_until_stopped(connection)
                connection.client.publish(self.prefix + wire.STATUS, wire.OFFLINE, qos=1, retain=True)
                connection.write_now()
                await self._wait_for_confirmations()
                await connection.disconnect()
                return
            except (OSError, ValueError) as error:  # ValueError: paho refuses a host name
                self._requeue_unconfirmed()
                self.mark(Health.DOWN, f"broker {self.spec.host}:{self.spec.port}: {error}")
            finally:
                connection.close()
            if self._stopped.is_set():
                return
            await asyncio.sleep(waits.next_s())

    async def _publish_until_stopped(self, connection: Connection) -> None:
        """Publish what the dispatcher hands over until asked to stop; raises ConnectionError when the broker
        goes away (what paho had not yet written, or the broker not acknowledged, is then queued again)."""
        session = self._session = asyncio.get_running_loop().create_future()
        connection.ended.add_done_callback(lambda ended: _end_with(session, ended))
        self._connection = connection
        line_keeper = asyncio.create_task(self._keep_cue_line(session)) if self.spec.cue_connection else None
        try:
            self._wake()  # what was queued while connecting
            await session
        finally:
            self._line = None  # cues take the queue from now on
            if line_keeper is not None:
                line_keeper.cancel()
                await asyncio.gather(line_keeper, return_exceptions=True)  # it closes its line
            self._connection = None

    async def _keep_cue_line(self, session: asyncio.Future[bool]) -> None:
        """While the main connection is up: open the cue line, hand it to the dispatcher, and open another
        if it closes. A broker that refuses it costs nothing but speed: cues then take the main connection."""
        loop = asyncio.get_running_loop()
        waits, refused = Backoff(0.5, 30.0), ""
        while not session.done():
            opening = loop.run_in_executor(None, open_cue_line, self.spec)
            try:
                line = await asyncio.shield(opening)
            except asyncio.CancelledError:
                opening.add_done_callback(_close_if_opened)
                raise
            except (OSError, ConnectionError) as error:
                if str(error) != refused:  # once per reason, not at every retry
                    refused = str(error)
                    log.warning("output %s: no cue connection (%s); cues go through the main connection", self.name, error)
                await asyncio.sleep(waits.next_s())
                continue
            refused = ""
            ended = loop.create_future()
            loop.add_reader(line.fileno, _watch, line, ended)
            opened = time.monotonic()
            try:
                self._wake()  # cues handed over before now go first, on the main connection
                if session.done():
                    return
                self._line = line
                self.cue_connections += 1
                log.info("output %s: cue connection open", self.name)
                await ended
            finally:
                self._line = None
                loop.remove_reader(line.fileno)
                line.close("the main connection ended")
            log.warning("output %s: cue connection %s; cues go through the main connection until another opens", self.name, line.reason)
            if time.monotonic() - opened > 60:
                waits.reset()  # a line that served a while: the next one opens soon
            await asyncio.sleep(waits.next_s())

    def _publish_queued(self, connection: Connection) -> bool:
        """Hand every queued message to paho in order and write them now; True at the stop marker.

        A publish through aiomqtt would take three more turns of the loop per message (its confirmation, a
        writer callback, the socket's readiness), each one more chance for another thread to take the GIL:
        1.2 ms median to the wire on a busy machine, against 0.3 ms (bench/mqtt_path.py, bench/timing.py).
        """
        paho = connection.client
        stop = False
        while self._pending:
            publication = self._pending.popleft()
            if publication is None:
                stop = True
                break
            if publication.cue and time.monotonic_ns() - publication.due_ns > self.max_delay_ns:
                self._drop_stale(publication)
                continue
            try:
                info = paho.publish(publication.topic, publication.payload, publication.qos, publication.retain)
            except ValueError as error:  # a topic or payload paho refuses: that message only, never the thread
                self.status.counters.errors += 1
                self._tell(publication, f"error: {error}")
                continue
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                self._pending.appendleft(publication)
                raise ConnectionError(f"could not publish: {mqtt.error_string(info.rc)}")
            if publication.cue:
                connection.write_now()  # the cue leaves now, not after the state messages behind it are packed (~50 us each)
            self._in_flight.append((publication, info, time.monotonic_ns()))
        connection.write_now()
        self._count_confirmed()
        return stop

    def _drop_stale(self, publication: Publication) -> None:
        self.status.counters.dropped += 1
        late_ms = round((time.monotonic_ns() - publication.due_ns) / 1e6, 1)
        self._tell(publication, "dropped: stale after broker outage", late_ms=late_ms)

    def _tell(self, publication: Publication, result: str, **details: object) -> None:
        """A show-log record about one publication after its hand-over (kind `outcome`, so that counting a
        kind counts each cue once): which cue, and what became of it."""
        self._report(
            {"output": self.name, "kind": "outcome", **(publication.about or {}), "topic": publication.topic, "result": result, **details}
        )

    def _count_confirmed(self) -> None:
        """Cues paho has written (QoS 0) or the broker has acknowledged (QoS 1, 2) are sent; late if they
        were written more than LATE_NS after their deadline (unless the dispatcher's hand-over was, which
        it counted itself)."""
        waiting = []
        for publication, info, written_ns in self._in_flight:
            if not info.is_published():
                waiting.append((publication, info, written_ns))
            elif publication.cue:
                self.status.counters.sent += 1
                late_ns = written_ns - publication.due_ns
                late = late_ns > LATE_NS
                if late and publication.handed_ns - publication.due_ns <= LATE_NS:
                    self.status.counters.late += 1
                if late or publication.owed:
                    self._tell(publication, "sent", late_ms=round(late_ns / 1e6, 3))
        self._in_flight = waiting

    async def _wait_for_confirmations(self, timeout_s: float = 2.0) -> None:
        """At the end of the show: the last messages leave (or are acknowledged) before the goodbye."""
        deadline = time.monotonic() + timeout_s
        self._count_confirmed()
        while self._in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
            self._count_confirmed()

    def _requeue_unconfirmed(self) -> None:
        """After a lost connection: what paho had not written (or the broker had not acknowledged) goes back
        to the front of the queue, in order, to be retried (or dropped as stale) once reconnected."""
        self._count_confirmed()
        self._pending.extendleft(reversed([publication for publication, _, _ in self._in_flight]))
        self._in_flight = []

    def close(self) -> None:
        self._stopped.set()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            self._pending.append(None)
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._wake)
        if self._thread is not None:
            self._thread.join(timeout=5)


def _watch(line: CueLine, ended: asyncio.Future[None]) -> None:
    """When the cue line's socket turns readable: it ended, unless that was TLS housekeeping."""
    if line.check() and not ended.done():
        ended.set_result(None)


def _close_if_opened(opening: asyncio.Future[CueLine]) -> None:
    """A cue line that finished opening after its connection ended is closed, not leaked."""
    if not opening.cancelled() and opening.exception() is None:
        opening.result().close("the main connection ended while it opened")


def _end_with(session: asyncio.Future[bool], ended: asyncio.Future[None]) -> None:
    """The connection ended while publishing: the session ends with its reason."""
    if not session.done():
        error = None if ended.cancelled() else ended.exception()
        session.set_exception(error if isinstance(error, ConnectionError) else ConnectionError("connection ended"))
