"""A redis-server of the test's own (Debian's binary), restartable on the same port and dir."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import redis as sync_redis

from support.services import free_port


class PrivateRedis:
    """A redis-server of the test's own, restartable on the same port and data directory."""

    def __init__(self, binary: str, data: Path, *, aof: bool) -> None:
        self.port = free_port()
        self.args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        self.args += ["--appendonly", "yes" if aof else "no", "--dir", str(data)]
        self.log = data / "redis.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT)
        self.starts += 1
        client = sync_redis.Redis(port=self.port, socket_connect_timeout=0.5)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    client.ping()
                    return
                except (sync_redis.ConnectionError, sync_redis.BusyLoadingError) as exc:
                    if time.monotonic() > deadline or self.proc.poll() is not None:
                        output = self.log.read_text()
                        raise AssertionError(f"redis-server failed:\n{output}") from exc
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # a clean shutdown: Redis fsyncs the AOF
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self, down_s: float = 0.3) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()
