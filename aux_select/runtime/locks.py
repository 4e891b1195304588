"""A lock file per store key, so that several processes sharing one store (Dask workers, two
notebooks) compute each result once.

    with KeyLock(store.path("run", key, ".lock")):
        ...  # look in the store again, compute, put

The lock is a file made with O_CREAT | O_EXCL (atomic on a local disk and on NFS) that says who
holds it (host, pid, time). Its holder touches it every `heartbeat_s`. A waiter breaks it once
its holder is gone: the pid is dead on this host, or (another host, or a pid reused since) the
file has gone `stale_after_s` without a touch. So a process killed mid-run (OOM, preemption,
os._exit) never blocks a rerun for long. Store writes are atomic by themselves: two processes
that slip past each other (two waiters breaking one stale lock at once) cost duplicate work,
never a wrong or half-written result.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LockConfig:
    stale_after_s: float = 300.0   # a lock untouched this long belongs to a dead process (any host)
    heartbeat_s: float = 30.0      # how often the holder touches its lock (well under stale_after_s)
    poll_s: float = 0.5            # how often a waiter looks again


def pid_alive(pid: int) -> bool:
    """Whether process `pid` runs on this host (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): the signal said it exists
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


class KeyLock:
    """An exclusive lock on `path` across processes and hosts (see the module docstring)."""

    def __init__(self, path: str | os.PathLike, config: LockConfig = LockConfig()):
        self.path, self.config = Path(path), config
        self.token = uuid.uuid4().hex
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def __enter__(self) -> "KeyLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while not self._create():
            if self._stale():
                self.path.unlink(missing_ok=True)
            else:
                time.sleep(self.config.poll_s)
        self._beat = threading.Thread(target=self._heartbeat, daemon=True, name=f"lock {self.path.name}")
        self._beat.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._beat.join()
        if self.holder().get("token") == self.token:  # never remove a lock someone else took since
            self.path.unlink(missing_ok=True)

    def holder(self) -> dict:
        """{"host", "pid", "time", "token"} of whoever holds the lock ({} if free or unreadable)."""
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}

    def _create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            json.dump({"host": socket.gethostname(), "pid": os.getpid(), "time": time.time(),
                       "token": self.token}, f)
        return True

    def _stale(self) -> bool:
        try:
            age = time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return False  # released meanwhile: just try again
        holder = self.holder()  # {} while its holder is still writing it: judged by age alone
        if holder.get("host") == socket.gethostname() and not pid_alive(holder["pid"]):
            return True
        return age > self.config.stale_after_s

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.config.heartbeat_s):
            try:
                os.utime(self.path)
            except FileNotFoundError:
                return  # broken as stale by a waiter: nothing left to keep alive
