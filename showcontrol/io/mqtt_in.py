"""MQTT commands (aiomqtt, on a network thread of its own): `{prefix}command` in, `{prefix}reply` out.

The broker of one of the patch's MQTT outputs, with that output's credentials: who may publish on the
command topic is the broker's ACL to decide. A command is JSON: `{"command": "go", "args": [17],
"token": "...", "id": "any"}`; the reply, on `{prefix}reply`, carries the same `id`. With a token set
(the web remote's PIN, from the environment variable the patch names), a command without it is refused.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import threading
from typing import Any

import aiomqtt

from showcontrol.codec.monitor import COMMAND, REPLY
from showcontrol.control.commands import Command, Handle, Reply, error, parse_command
from showcontrol.control.counts import InputCounts
from showcontrol.errors import ShowControlError
from showcontrol.io.backoff import Backoff
from showcontrol.io.mqtt_cue_line import password_of, tls_files
from showcontrol.io.mqtt_subscriber import payload_of
from showcontrol.model.inputs import MqttInput
from showcontrol.model.patch import MqttOutput

log = logging.getLogger(__name__)
MAX_PAYLOAD = 4096
MIN_TOKEN = 6  # MQTT carries no sender address to block: a 6-digit PIN takes a day of tries at the rate limit
TOO_BIG = error(f"a command is at most {MAX_PAYLOAD} bytes")
NOT_JSON = error('a command is JSON: {"command": "go", "args": [], "token": "..."}')
NOT_AN_OBJECT = error('a command is a JSON object: {"command": "go"}')
NO_COMMAND = error('no "command" in the message')
MALFORMED = (TOO_BIG, NOT_JSON, NOT_AN_OBJECT, NO_COMMAND)  # answered, and counted as malformed
WRONG_TOKEN = error("wrong or missing token: this show's remote needs its PIN")


def command_of(payload: bytes, token: str | None) -> tuple[Command | Reply, str | None]:
    """A command payload -> (command or error reply, the request id to answer with). Pure."""
    if len(payload) > MAX_PAYLOAD:
        return TOO_BIG, None
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return NOT_JSON, None
    if not isinstance(data, dict):
        return NOT_AN_OBJECT, None
    request = data.get("id")
    request_id = str(request)[:64] if request is not None else None
    if token is not None and not hmac.compare_digest(str(data.get("token", "")).encode(), token.encode()):
        return WRONG_TOKEN, request_id
    verb, args = data.get("command"), data.get("args", [])
    if not isinstance(verb, str):
        return NO_COMMAND, request_id
    return parse_command(verb, args if isinstance(args, list) else [args]), request_id


class MqttCommandInput:
    """`with MqttCommandInput(spec, broker, controller.handle): ...` answers commands until closed."""

    def __init__(self, spec: MqttInput, broker: MqttOutput, handle: Handle) -> None:
        self.spec, self.broker = spec, broker
        self.topic, self.reply_topic = broker.topic_prefix + COMMAND, broker.topic_prefix + REPLY
        self._handle = handle
        self._token = os.environ.get(spec.token_env) if spec.token_env else None
        if spec.token_env and not self._token:
            raise ShowControlError(f"MQTT input: environment variable {spec.token_env} (the remote's token) is not set")
        if self._token is not None and len(self._token) < MIN_TOKEN:
            raise ShowControlError(
                f"MQTT input: the token in {spec.token_env} is shorter than {MIN_TOKEN} characters; at 10 tries a second it could be guessed"
            )
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._subscribed = threading.Event()
        self.counts = InputCounts()
        self.wrong_tokens = 0

    def __enter__(self) -> MqttCommandInput:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), name="mqtt-in", daemon=True)
        self._thread.start()
        if not self._subscribed.wait(3):
            log.warning("MQTT input: broker %s:%d not reached yet; retrying in the background", self.broker.host, self.broker.port)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(5)

    def _client(self) -> aiomqtt.Client:
        broker = self.broker
        tls = aiomqtt.TLSParameters(**tls_files(broker)) if broker.tls is not None else None
        return aiomqtt.Client(
            broker.host,
            broker.port,
            username=broker.username,
            password=password_of(broker),
            identifier=f"{broker.client_id}-commands" if broker.client_id else None,
            tls_params=tls,
            tls_insecure=broker.tls.insecure if broker.tls else None,
            keepalive=5,
            timeout=3,
        )

    async def _serve(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        session = asyncio.create_task(self._connect_forever())
        await self._stop.wait()
        session.cancel()
        await asyncio.gather(session, return_exceptions=True)

    async def _connect_forever(self) -> None:
        waits = Backoff(0.25, 5.0)
        while True:
            try:
                async with self._client() as client:
                    await client.subscribe(self.topic, qos=1)
                    self._subscribed.set()
                    waits.reset()
                    async for message in client.messages:
                        await self._answer(client, message)
            except aiomqtt.MqttError as failure:
                log.warning("MQTT input: %s; reconnecting", failure)
            await asyncio.sleep(waits.next_s())

    async def _answer(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        command, request_id = command_of(payload_of(message), self._token)
        reply = self._handle(command, "mqtt")
        if command in MALFORMED:
            self.counts.malformed += 1
        else:
            self.counts.count(reply)
        if command == WRONG_TOKEN:
            self.wrong_tokens += 1
            if self.wrong_tokens % 20 == 1:
                log.warning("MQTT input: %d commands with a wrong or missing token so far", self.wrong_tokens)
        data: dict[str, Any] = {**reply.as_dict(), **({"id": request_id} if request_id is not None else {})}
        await client.publish(self.reply_topic, json.dumps(data, ensure_ascii=False), qos=1)
