"""Starting a Python policy pack the way the Pulumi engine does, and talking to it.

The engine runs ``pulumi-analyzer-policy-python``, which runs
``<virtualenv>/bin/python -u -m pulumi.policy <engine address> <pack directory>`` in the pack's
directory with the stack's identity in the environment; the pack serves the Analyzer gRPC
service on a free loopback port and prints the port on its first line of output. This module
does exactly that, with the virtualenv named in the pack's ``PulumiPolicy.yaml``.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import grpc
import yaml
from pulumi.runtime.proto import analyzer_pb2_grpc

START_TIMEOUT_SECONDS = 60.0
# No single call of a preview's protocol takes this long; a pack that does is stuck.
CALL_TIMEOUT_SECONDS = 300.0
# No engine service is offered to a pack here; the policy SDK never calls it.
_ENGINE_ADDRESS = "127.0.0.1:0"
_MAX_MESSAGE = 400 * 1024 * 1024  # as the engine allows: AnalyzeStack sends the whole stack


# Runs first in the pack's own process, then becomes the pack: on Linux it ends the pack
# when this process ends, however it ends (a CI job cancelled with SIGKILL leaves no pack
# behind). It is not a preexec_fn: that runs Python between fork and exec in a process full
# of gRPC threads, which now and then killed the child before it printed its port
# ("epoll_wait error: Bad file descriptor"); without one, subprocess spawns without forking
# Python. The signal outlives exec; the parent check closes the race of a parent already gone.
_DIE_WITH_PARENT = """\
import ctypes, os, signal, sys
if sys.platform.startswith("linux"):
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    if os.getppid() != int(sys.argv[1]):
        sys.exit(1)
os.execv(sys.executable, [sys.executable, *sys.argv[2:]])
"""


T = TypeVar("T")
_PACK_ARGS = ("-u", "-m", "pulumi.policy", _ENGINE_ADDRESS, ".")


class PolicyPackError(Exception):
    """A policy pack that cannot be used or that failed; the message says which and why."""


@dataclass(frozen=True)
class PackManifest:
    directory: Path
    version: str
    python: Path


def read_manifest(directory: Path) -> PackManifest:
    directory = Path(directory).resolve()
    manifest = directory / "PulumiPolicy.yaml"
    if not manifest.is_file():
        raise PolicyPackError(
            f"{directory}: no PulumiPolicy.yaml; allowed: a policy pack directory"
        )
    try:
        document = yaml.safe_load(manifest.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise PolicyPackError(f"{manifest}: not valid YAML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise PolicyPackError(f"{manifest}: not UTF-8 text ({exc.reason})") from None
    runtime = document.get("runtime") if isinstance(document, dict) else None
    name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if name != "python":
        raise PolicyPackError(
            f"{manifest}: runtime = {json.dumps(name)}; allowed: python (this engine runs "
            "Python policy packs)"
        )
    options = runtime.get("options") if isinstance(runtime, dict) else None
    virtualenv = options.get("virtualenv") if isinstance(options, dict) else None
    if not virtualenv:
        raise PolicyPackError(
            f"{manifest}: runtime.options.virtualenv is not set; allowed: the path of the "
            "virtualenv the pack runs in (without it the Pulumi CLI installs the pack into "
            "the system Python, pulumi/pulumi#19568)"
        )
    python = (directory / str(virtualenv)).resolve() / "bin" / "python"
    if not python.exists():
        raise PolicyPackError(
            f"{manifest}: runtime.options.virtualenv = {json.dumps(virtualenv)}, but "
            f"{python} does not exist; run ./scripts/bootstrap (or create that virtualenv)"
        )
    return PackManifest(directory, str(document.get("version") or "0.0.1"), python)


class AnalyzerProcess:
    """One running policy pack; close it when done (it is also a context manager)."""

    def __init__(self, manifest: PackManifest, *, project: str, stack: str, config: dict[str, str]):
        self.manifest = manifest
        # Closed in close(): the pack writes to it for as long as it runs.
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        environment = {
            **os.environ,
            "PULUMI_PROJECT": project,
            "PULUMI_STACK": stack,
            "PULUMI_ORGANIZATION": "organization",
            "PULUMI_DRY_RUN": "true",
            "PULUMI_CONFIG": json.dumps(config),
            "GRPC_VERBOSITY": "ERROR",
        }
        try:
            self.process = subprocess.Popen(
                [str(manifest.python), "-c", _DIE_WITH_PARENT, str(os.getpid()), *_PACK_ARGS],
                cwd=manifest.directory,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                env=environment,
            )
        except OSError as exc:
            self._stderr.close()
            raise PolicyPackError(
                f"{manifest.directory}: cannot start {manifest.python}: {exc}"
            ) from None
        self._channel: grpc.Channel | None = None
        self._port = 0
        self._started = time.monotonic()
        # What the pack prints after its port: read on, so a chatty pack never blocks on a
        # full pipe; the last lines go into any error about it.
        self._output: deque[str] = deque(maxlen=15)
        self._drainer: threading.Thread | None = None

    def stub(self, timeout: float = START_TIMEOUT_SECONDS) -> analyzer_pb2_grpc.AnalyzerStub:
        """The pack's Analyzer, once it has printed its port. Nothing watches the channel's
        state: gRPC's watcher (``channel_ready_future``) is a thread that prints a traceback
        when the channel is closed under it, as a preview refused at once closes it. The
        first call waits for the pack instead (:meth:`first_call`)."""
        if self._channel is None:
            self._port = self._read_port(timeout)
            self._drainer = threading.Thread(target=self._drain, name="pack-output", daemon=True)
            self._drainer.start()
            self._channel = grpc.insecure_channel(
                f"127.0.0.1:{self._port}",
                options=[
                    ("grpc.max_send_message_length", _MAX_MESSAGE),
                    ("grpc.max_receive_message_length", _MAX_MESSAGE),
                ],
            )
        return analyzer_pb2_grpc.AnalyzerStub(self._channel)

    def first_call(
        self, method: Callable[..., T], request: Any, timeout: float = START_TIMEOUT_SECONDS
    ) -> T:
        """A call that waits until the pack answers on its port (gRPC's ``wait_for_ready``),
        for at most ``timeout`` seconds."""
        try:
            return method(request, timeout=timeout, wait_for_ready=True)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                raise
            raise self.failure(
                f"printed port {self._port} but did not answer on it within {timeout:.0f} s"
            ) from None

    def _read_port(self, timeout: float) -> int:
        assert self.process.stdout is not None
        deadline = self._started + timeout
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self.failure(f"did not print its port within {timeout:.0f} s")
            ready, _, _ = select.select([self.process.stdout], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self.process.stdout.fileno(), 1)
            if not chunk:
                raise self.failure("exited before it printed its port")
            line += chunk
        try:
            return int(line.strip())
        except ValueError:
            raise self.failure(f"printed {line.strip()[:80]!r} instead of a port") from None

    def _drain(self) -> None:
        assert self.process.stdout is not None
        try:
            for line in iter(self.process.stdout.readline, b""):
                self._output.append(line.decode("utf-8", "replace").rstrip())
        except (OSError, ValueError):
            return  # the pipe was closed under it: the pack is being shut down

    def failure(self, what: str) -> PolicyPackError:
        """An error naming the pack, what went wrong and the end of what it wrote."""
        self._stop()
        self._stderr.seek(0)
        tail = self._stderr.read().decode("utf-8", "replace").strip().splitlines()[-15:]
        tail = [*self._output, *tail][-15:]
        detail = ("\n    " + "\n    ".join(tail)) if tail else ""
        return PolicyPackError(f"policy pack {self.manifest.directory} {what}{detail}")

    def _stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        self._stop()
        if self._drainer is not None:
            self._drainer.join(timeout=5)  # the pack has exited: its output ends
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._stderr.close()

    def __enter__(self) -> AnalyzerProcess:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
