"""Opens the remote inputs a patch enables (OSC, MQTT) around a running show, all feeding one Controller."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

from showcontrol.errors import ShowControlError
from showcontrol.model.inputs import Inputs, OscInput
from showcontrol.model.patch import MqttOutput
from showcontrol.remote.controller import Controller

if TYPE_CHECKING:
    from showcontrol.app import ShowRunner


def effective_inputs(patch_inputs: Inputs, osc_port: int | None) -> Inputs:
    """`run --osc-in PORT`: OSC on that port, over UDP and TCP, from loopback unless the patch allows more."""
    if osc_port is None:
        return patch_inputs
    osc = patch_inputs.osc
    quick = replace(osc, port=osc_port) if osc is not None else OscInput(osc_port, ("udp", "tcp"))
    return replace(patch_inputs, osc=quick)


@contextmanager
def remote_inputs(runner: ShowRunner, osc_port: int | None = None) -> Iterator[Controller]:
    """The controller every input (and the keys) shares, with the patch's inputs listening while inside."""
    from showcontrol.io.midi_in import MidiCommandInput
    from showcontrol.io.mqtt_in import MqttCommandInput
    from showcontrol.io.osc_in import OscInputServer

    controller = Controller(runner)
    inputs = effective_inputs(runner.loaded.show.patch.inputs, osc_port)
    with ExitStack() as stack:
        if inputs.osc is not None:
            osc = stack.enter_context(OscInputServer(inputs.osc, controller.handle))
            controller.inputs[f"OSC in ({'+'.join(inputs.osc.transports)} port {inputs.osc.port})"] = osc.counts
        if inputs.mqtt is not None:
            broker = runner.loaded.show.patch.outputs.get(inputs.mqtt.output)
            if not isinstance(broker, MqttOutput):
                raise ShowControlError(f"MQTT input: {inputs.mqtt.output!r} is not an MQTT output of the patch")
            mqtt = stack.enter_context(MqttCommandInput(inputs.mqtt, broker, controller.handle))
            controller.inputs[f"MQTT in ({mqtt.topic})"] = mqtt.counts
        if inputs.midi is not None:
            midi = stack.enter_context(MidiCommandInput(inputs.midi, controller.handle, runner.options.midi_api))
            controller.inputs[f"MIDI in ({inputs.midi.port})"] = midi.counts
        yield controller


def any_enabled(inputs: Inputs) -> bool:
    return inputs.osc is not None or inputs.mqtt is not None or inputs.midi is not None
