"""Real peers for integration tests: Mosquitto, UDP receivers, JACK's dummy backend. Started here, stopped by pid."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None) -> None:
    """Until something listens on `port` (generous: a loaded machine starts a daemon slowly); with `process`,
    that it is still running then, so that a port another program took meanwhile is not mistaken for it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise PortTaken(f"exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
        except OSError:
            time.sleep(0.05)
            continue
        if process is None or process.poll() is None:
            return
    raise TimeoutError(f"nothing listening on {port}")


class PortTaken(OSError):
    """A daemon that could not listen on the free port picked for it: another program took it first."""


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path


def make_tls_files(folder: Path) -> TlsFiles:
    """A throwaway CA and a server certificate for 127.0.0.1, made with openssl for this test only."""
    ca, ca_key, cert, key, request = (folder / n for n in ("ca.pem", "ca.key", "server.pem", "server.key", "server.csr"))
    extensions = folder / "san.ext"
    extensions.write_text("subjectAltName=IP:127.0.0.1\n")

    def openssl(*args: str | Path) -> None:
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)

    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=showcontrol test CA", "-keyout", ca_key, "-out", ca
    )
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", request)
    openssl(
        "x509", "-req", "-in", request, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-days", "2", "-extfile", extensions, "-out", cert
    )
    return TlsFiles(ca, cert, key)


@dataclass
class Broker:
    """A Mosquitto broker on a loopback port; can be killed and restarted on the same port.

    With `tls` and `users` it is what a venue should run: TLS only, and no anonymous clients.
    """

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    tls: TlsFiles | None = None
    users: dict[str, str] = field(default_factory=dict)
    websockets_port: int | None = None  # a second listener for browsers (Mosquitto binds it on every interface)
    started_once: bool = False  # clients know its port from then on: a restart keeps it

    @property
    def client_args(self) -> list[str]:
        """What mosquitto_sub and mosquitto_pub need to get in."""
        args = ["--cafile", str(self.tls.ca)] if self.tls else []
        for user, password in list(self.users.items())[:1]:
            args += ["-u", user, "-P", password]
        return args

    def start(self) -> None:
        """Start (or restart, on the same port). A first start whose port another program took between
        `free_port` and mosquitto's bind (tests run beside other suites) moves to another free port."""
        for _ in range(3):
            try:
                self._start()
                return
            except PortTaken:
                if self.started_once:
                    raise
                self.port = free_port()
                if self.websockets_port is not None:
                    self.websockets_port = free_port()
        self._start()

    def _start(self) -> None:
        config = self.folder / "mosquitto.conf"
        lines = [
            f"listener {self.port} 127.0.0.1",
            f"allow_anonymous {'false' if self.users else 'true'}",
            "persistence false",
            "set_tcp_nodelay true",  # as docs/hardware.md says a show's broker should run
            "log_dest stderr",
            *(f"log_type {kind}" for kind in ("error", "warning", "notice", "information", "subscribe")),  # `subscribed` reads it
        ]
        if self.websockets_port is not None:
            lines += [f"listener {self.websockets_port}", "protocol websockets"]
        if self.tls:
            lines += [f"cafile {self.tls.ca}", f"certfile {self.tls.cert}", f"keyfile {self.tls.key}"]
        if self.users:
            passwords = self.folder / "passwords"
            passwords.write_text("")
            for user, password in self.users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(passwords), user, password], check=True, capture_output=True)
            lines.append(f"password_file {passwords}")
        if os.geteuid() == 0:
            lines.append("user root")
        config.write_text("\n".join(lines) + "\n")
        log_path = self.folder / "broker.log"
        runs_before = self._runs_logged(log_path)
        with open(log_path, "ab") as broker_log:
            self.process = subprocess.Popen(["mosquitto", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=broker_log)
        try:
            wait_for_port(self.port, process=self.process)
            # Something listens: mosquitto says it runs (all its listeners bound) only once it is itself.
            deadline = time.monotonic() + 30
            while self._runs_logged(log_path) == runs_before:
                if self.process.poll() is not None:
                    raise PortTaken(f"mosquitto exited: {log_path.read_text(errors='replace')[-500:]}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"mosquitto never said it runs: {log_path.read_text(errors='replace')[-500:]}")
                time.sleep(0.05)
        except PortTaken:
            self.process = None
            raise
        self.started_once = True

    def subscribed(self, topic_filter: str) -> int:
        """How many times a client subscribed to `topic_filter` here (restarts included): a test knows from it
        that a monitor listens, where a sleep would only guess."""
        log_path = self.folder / "broker.log"
        lines = log_path.read_text(errors="replace").splitlines() if log_path.exists() else []
        return sum(line.endswith(f" {topic_filter}") for line in lines)

    @staticmethod
    def _runs_logged(log_path: Path) -> int:
        return log_path.read_text(errors="replace").count(" running\n") if log_path.exists() else 0

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(5)
            self.process = None


class Subscriber:
    """mosquitto_sub on a topic filter, collecting (receive ns, topic, payload) lines as they arrive."""

    def __init__(self, port: int, topic: str = "#", client_args: list[str] | None = None) -> None:
        self.lines: list[tuple[int, str, str]] = []
        self.read_ns: list[int] = []  # monotonic ns at which each line of `lines` was read (stamps are wall time)
        self._probe = f"sctest-probe/{os.getpid()}/{id(self)}"
        self._probed = threading.Event()
        self._client_args = client_args or []
        command = ["stdbuf", "-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), *self._client_args, "-t", topic, "-t", self._probe]
        self.process = subprocess.Popen(
            [*command, "-F", "%U %t %p", "-q", "1"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._wait_until_subscribed(port)

    def _wait_until_subscribed(self, port: int) -> None:
        """Publish to a probe topic until it comes back: only then is the subscription live (no fixed sleep)."""
        deadline = time.monotonic() + 60
        while not self._probed.is_set():
            if time.monotonic() > deadline:
                raise TimeoutError(f"mosquitto_sub on port {port} never subscribed")
            publish = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), *self._client_args, "-t", self._probe, "-m", "probe"]
            subprocess.run(publish, capture_output=True, timeout=60)
            self._probed.wait(0.2)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            stamp, topic, payload = [*line.rstrip("\n").split(" ", 2), "", ""][:3]
            if topic == self._probe:
                self._probed.set()
                continue
            seconds, _, fraction = stamp.partition(".")
            self.read_ns.append(time.monotonic_ns())
            self.lines.append((int(seconds) * 10**9 + int(fraction.ljust(9, "0")[:9] or 0), topic, payload))

    def close(self) -> None:
        """Stop subscribing; every line mosquitto_sub printed is in `lines` when this returns (its reader
        reads the pipe to its end), however far behind a loaded machine left the reader."""
        self.process.terminate()
        self.process.wait(30)
        self._reader.join(30)


def wait_until(condition: Callable[..., object], timeout: float = 30.0) -> None:
    """Poll `condition` until it holds: a TimeoutError after `timeout` s, never a hang."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not so within {timeout} s")
        time.sleep(0.01)


class UdpReceiver:
    """A UDP socket on a free port recording (receive ns, datagram), and beside each, in `kernel_wall_ns`,
    when the kernel took the datagram in (SO_TIMESTAMPNS, wall ns): this reading thread wakes late on a loaded
    machine (1-2 ms seen), and a bench that times arrivals must not count that against the sender."""

    SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux's; Python has no name for it
    TIMESPEC = struct.Struct("qq")

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.setsockopt(socket.SOL_SOCKET, self.SO_TIMESTAMPNS, 1)
        self.socket.settimeout(0.2)
        self.port = int(self.socket.getsockname()[1])
        self.datagrams: list[tuple[int, bytes]] = []
        self.kernel_wall_ns: list[int] = []  # one per datagram: 0 where the kernel gave no stamp
        self._lock = threading.Lock()  # the two lists stay in step through clear()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _take(self) -> None:
        data, ancillary, _, _ = self.socket.recvmsg(65536, socket.CMSG_SPACE(self.TIMESPEC.size))
        read_ns = time.monotonic_ns()
        stamp = 0
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == self.SO_TIMESTAMPNS and len(payload) >= self.TIMESPEC.size:
                seconds, nanoseconds = self.TIMESPEC.unpack_from(payload)
                stamp = seconds * 1_000_000_000 + nanoseconds
        with self._lock:
            self.kernel_wall_ns.append(stamp)
            self.datagrams.append((read_ns, data))

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                self._take()
            except TimeoutError:
                continue
            except OSError:
                return

    def clear(self) -> None:
        with self._lock:
            self.datagrams.clear()
            self.kernel_wall_ns.clear()

    def close(self) -> None:
        """Stop receiving; what the socket already holds is taken first, so a datagram that came in before
        this call is in `datagrams` however far behind a loaded machine left the reading thread."""
        self._stop.set()
        self._thread.join(30)
        self.socket.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            while True:
                self._take()
        self.socket.close()


@dataclass
class Jack:
    """jackd with the dummy backend under a private server name (no sound card needed)."""

    name: str
    process: subprocess.Popen[bytes]

    @property
    def env(self) -> dict[str, str]:
        return {"JACK_NO_AUDIO_RESERVATION": "1", "JACK_NO_START_SERVER": "1", "JACK_DEFAULT_SERVER": self.name}

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
        for leftover in glob.glob(f"/dev/shm/jack*{self.name}*") + glob.glob(f"/dev/shm/jack_sem.*{self.name}*"):
            with contextlib.suppress(FileNotFoundError):  # a client's semaphore may go while we look
                shutil.rmtree(leftover, ignore_errors=True) if os.path.isdir(leftover) else os.remove(leftover)


def start_jack() -> Jack | None:
    """Real-time scheduling first, as JACK normally runs (without it a loaded machine drops MIDI events
    between clients); without the privilege, the same server without it."""
    if shutil.which("jackd") is None:
        return None
    for scheduling in ("-R", "-r"):
        jack = _start_jack(f"sctest{os.getpid()}{scheduling[1]}", scheduling)
        if jack is not None:
            return jack
    return None


def _start_jack(name: str, scheduling: str) -> Jack | None:
    env = {**os.environ, "JACK_NO_AUDIO_RESERVATION": "1", "JACK_NO_START_SERVER": "1"}
    process = subprocess.Popen(
        ["jackd", "-n", name, scheduling, "-d", "dummy", "-r", "48000", "-p", "1024"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    jack = Jack(name, process)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return None
        if subprocess.run(["jack_lsp"], env={**os.environ, **jack.env}, capture_output=True).returncode == 0:
            os.environ.update(jack.env)
            return jack
        time.sleep(0.2)
    jack.stop()
    return None


class TcpOscServer:
    """A console listening for OSC over TCP (as ETC Eos on 3032): records (connection number, packet);
    can be stopped and started again on the same port, dropping its connections as a rebooting desk does."""

    def __init__(self, framing: str, port: int | None = None) -> None:
        from showcontrol.codec.osc_framing import StreamDecoder

        self._decoder_for = lambda: StreamDecoder(framing)
        self.port = port or 0  # 0: the kernel's pick at the first start (a port picked first could be taken meanwhile)
        self.packets: list[tuple[int, bytes]] = []
        self.connections = 0
        self._listener: socket.socket | None = None
        self._clients: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> TcpOscServer:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        self.port = int(listener.getsockname()[1])  # a restart takes the same port again
        listener.listen()
        listener.settimeout(0.1)
        self._listener, self._stop = listener, threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        return self

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            self._clients.append(client)
            threading.Thread(target=self._read, args=(client, self.connections), daemon=True).start()

    def _read(self, client: socket.socket, number: int) -> None:
        decoder = self._decoder_for()
        while True:
            try:
                data = client.recv(65536)
            except OSError:
                return
            if not data:
                return
            self.packets.extend((number, packet) for packet in decoder.feed(data))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        for client in self._clients:
            client.close()
        self._clients.clear()
        if self._listener is not None:
            self._listener.close()


@dataclass
class PipeWire:
    """PipeWire with a null sink in a private runtime folder (no sound card): SDL's pulseaudio driver
    plays into it as into a real interface. Its pulse server can be killed, hung and started again,
    which is what an unplugged interface or a sound server that dies looks like to a show."""

    runtime: Path
    daemons: list[subprocess.Popen[bytes]] = field(default_factory=list)
    pulse: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        return {
            "XDG_RUNTIME_DIR": str(self.runtime),
            "DBUS_SESSION_BUS_ADDRESS": f"unix:path={self.runtime}/bus",
            "PULSE_SERVER": f"unix:{self.runtime}/pulse/native",
        }

    def _spawn(self, *command: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(command, env={**os.environ, **self.env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def pactl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["pactl", *args], env={**os.environ, **self.env}, capture_output=True, text=True, timeout=60)

    def start_pulse(self) -> None:
        """Start the pulse server (again) and wait until it offers the null sink."""
        self.pulse = self._spawn("pipewire-pulse")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.pactl("info").returncode == 0 and "nullsink" in self.pactl("list", "short", "sinks").stdout:
                return
            time.sleep(0.1)
        raise TimeoutError("pipewire-pulse did not come up")

    def add_null_sink(self) -> None:
        """A sink in PipeWire itself (it outlives the pulse server, as an interface does; one loaded through
        the pulse server would leave with it, and WirePlumber's stand-in "Dummy Output" would take its place)."""
        properties = (
            "{ factory.name=support.null-audio-sink node.name=nullsink media.class=Audio/Sink object.linger=true audio.position=[FL FR] }"
        )
        subprocess.run(["pw-cli", "create-node", "adapter", properties], env={**os.environ, **self.env}, capture_output=True, timeout=60)

    def kill_pulse(self) -> None:
        assert self.pulse is not None
        self.pulse.kill()
        self.pulse.wait(5)
        self.pulse = None

    def hang_pulse(self, hung: bool) -> None:
        """SIGSTOP (a sound server that hangs) or SIGCONT."""
        assert self.pulse is not None
        self.pulse.send_signal(19 if hung else 18)

    def ensure_pulse(self) -> None:
        """A test may have left it hung or dead: running again, for the next one."""
        if self.pulse is not None and self.pulse.poll() is None:
            self.hang_pulse(False)
        else:
            self.start_pulse()

    def stop(self) -> None:
        for process in [self.pulse, *reversed(self.daemons)]:
            if process is not None and process.poll() is None:
                process.send_signal(18)
                process.terminate()
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    process.kill()


def start_pipewire(folder: Path) -> PipeWire | None:
    """dbus (a private session bus), pipewire, wireplumber and pipewire-pulse; None where not installed."""
    if any(shutil.which(name) is None for name in ("dbus-daemon", "pipewire", "wireplumber", "pipewire-pulse", "pw-cli", "pactl")):
        return None
    runtime = folder / "runtime"
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    sound = PipeWire(runtime)
    sound.daemons.append(sound._spawn("dbus-daemon", "--session", f"--address={sound.env['DBUS_SESSION_BUS_ADDRESS']}", "--nofork"))
    try:
        _wait_for_socket(runtime / "bus")  # each daemon finds the one before it: waited for, not slept on
        sound.daemons.append(sound._spawn("pipewire"))
        _wait_for_socket(runtime / "pipewire-0")
        sound.daemons.append(sound._spawn("wireplumber"))
        sound.add_null_sink()
        sound.start_pulse()
    except TimeoutError:
        sound.stop()
        return None
    return sound


def _wait_for_socket(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.is_socket():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        time.sleep(0.05)
