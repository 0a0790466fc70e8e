"""Clean crashes: what a killed korflow leaves behind is cleaned up, now or at the next start.

- SIGTERM unwinds the main thread like Ctrl-C (its MLflow runs end FAILED, Prefect marks the
  flow run crashed); if worker threads (a training, gensim) keep the process alive, a watchdog
  stops the child processes (the temporary Prefect server) and exits within seconds.
- A process killed outright (kill -9, out of memory) runs no code: a small watcher process,
  started beside every command, stops the temporary Prefect server it orphaned within a second;
  the next korflow start closes the MLflow runs it left RUNNING as FAILED (runs are tagged with
  host and pid) and stops any server that outlived its watcher too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

GRACE_SECONDS = 5.0
_SERVER = "prefect.server.api.server:create_app"


def owner_tags() -> dict[str, str]:
    return {"korflow.host": socket.gethostname(), "korflow.pid": str(os.getpid())}


def alive(pid: int) -> bool:
    """Running: a zombie (dead, not yet reaped by a parent that may never reap it) is not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def children(pid: int | None = None) -> list[int]:
    """The direct child processes of ``pid`` (this process by default), from /proc."""
    out: list[int] = []
    for task in Path(f"/proc/{pid or os.getpid()}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def stop(pids: list[int], wait: float = 2.0) -> None:
    """SIGTERM, then SIGKILL whatever is still there after ``wait`` seconds."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in pids:
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _start_watchdog(signum: int) -> None:
    def force() -> None:
        print("korflow: stopped (SIGTERM)", file=sys.stderr, flush=True)
        stop(children())
        os._exit(128 + signum)

    watchdog = threading.Timer(GRACE_SECONDS, force)
    watchdog.daemon = True
    watchdog.start()


def _on_sigterm(signum, frame) -> None:
    _start_watchdog(signum)
    raise KeyboardInterrupt("SIGTERM")


def _watched(bridge):
    """Prefect's SIGTERM bridge, with the watchdog started first."""

    def handler(signum, *args):
        _start_watchdog(signum)
        return bridge(signum, *args)

    handler.korflow_watched = True
    return handler


def handle_sigterm() -> None:
    """SIGTERM stops korflow within seconds, also while a flow runs. A flow replaces the
    process's SIGTERM handler with Prefect's bridge, which unwinds the flow, and the unwinding
    then waits for the task threads (a training runs on for minutes), so ours would never run:
    the bridge itself is wrapped to start the watchdog too, once Prefect is imported (call this
    again then: importing Prefect here would freeze its settings before the CLI sets them)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    engine = sys.modules.get("prefect.utilities.engine")
    bridge = getattr(engine, "_prefect_sigterm_handler", None)
    if callable(bridge) and not getattr(bridge, "korflow_watched", False):
        # Read by name when a flow starts (prefect 3.4-3.x): the flow installs the wrapper.
        engine._prefect_sigterm_handler = _watched(bridge)


PARENT_VAR = "KORFLOW_PARENT_PID"  # set by the CLI; the temporary server inherits it


def orphaned_servers(of: int | None = None) -> list[int]:
    """Temporary Prefect servers started by a korflow command that is gone (killed); only
    those of the command with pid ``of`` when given."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if _SERVER not in (proc / "cmdline").read_bytes().decode(errors="replace"):
                continue
        except OSError:
            continue
        parent = _parent_of_server(int(proc.name))
        if parent and (of is None or parent == of) and not alive(parent):
            found.append(int(proc.name))
    return found


def clean_up_after_killed_runs(log=print) -> None:
    """At a korflow command's start: stop servers orphaned by killed korflow commands, mark
    this process as the parent of the server it may start, and start its watcher."""
    orphans = orphaned_servers()
    if orphans:
        stop(orphans)
        log(f"korflow: stopped {len(orphans)} temporary Prefect server(s) left by a killed run")
    os.environ[PARENT_VAR] = str(os.getpid())
    handle_sigterm()
    start_watcher()


def start_watcher() -> subprocess.Popen:
    """A small process (no imports beyond the standard library) that outlives this one if it
    is killed outright (kill -9, out of memory) and then stops the server it left."""
    return subprocess.Popen(
        [sys.executable, "-m", "korflow.core.crash", str(os.getpid())],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # not in the killed command's process group
        cwd=Path(__file__).resolve().parents[2],
    )


def watch(parent: int, every: float = 0.5) -> None:
    """Wait for ``parent`` to end, then stop the temporary Prefect servers it left running."""
    while alive(parent):
        time.sleep(every)
    stop(orphaned_servers(of=parent))


def _parent_of_server(pid: int) -> int:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return 0
    for entry in environ:
        if entry.startswith(f"{PARENT_VAR}=".encode()):
            return int(entry.split(b"=", 1)[1] or 0)
    return 0


if __name__ == "__main__":
    watch(int(sys.argv[1]))
