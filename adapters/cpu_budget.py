"""A CPU-time budget for one block of Python code in the current thread.

Parsing untrusted OpenQASM runs qiskit code whose cost the pre-parse scan can only estimate. This
bounds what an estimate misses: a watchdog thread reads the calling thread's own CPU clock and, once
the budget is spent, raises `CpuBudgetExceeded` inside the block (`PyThreadState_SetAsyncExc`). It
works in any thread (gunicorn's threaded workers, django-q's workers, runserver), counts only this
thread's CPU, and needs no signals. The exception arrives at the next Python bytecode, so one long
call into C finishes first.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

_POLL_SECONDS = 0.05


class CpuBudgetExceeded(BaseException):  # noqa: N818 - a BaseException, so library `except Exception` cannot swallow it
    """The block used more CPU time than its budget."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        super().__init__(f"more than {seconds:g} s of CPU time")


def _inject(thread_id: int, exc_type: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc_type) if exc_type else None
    )


@contextmanager
def cpu_budget(seconds: float) -> Iterator[None]:
    """Run the block with at most `seconds` of this thread's CPU time; raise `CpuBudgetExceeded(seconds)`
    when it uses more. A budget of 0 or less means no limit."""
    if seconds <= 0:
        yield
        return
    thread_id = threading.get_ident()
    clock = time.pthread_getcpuclockid(thread_id)
    deadline = time.clock_gettime(clock) + seconds
    lock = threading.Lock()
    state = {"active": True, "fired": False}
    done = threading.Event()

    def watch() -> None:
        while not done.wait(_POLL_SECONDS):
            if time.clock_gettime(clock) >= deadline:
                with lock:
                    if state["active"]:
                        state["fired"] = True
                        _inject(thread_id, CpuBudgetExceeded)
                return

    watchdog = threading.Thread(target=watch, name="cpu-budget", daemon=True)
    watchdog.start()
    try:
        yield
    except CpuBudgetExceeded:
        raise CpuBudgetExceeded(seconds) from None
    finally:
        with lock:
            state["active"] = False
            fired = state["fired"]
        done.set()
        watchdog.join()
        if fired:
            _inject(thread_id, None)  # an exception not yet delivered must not escape the block later
    if fired:
        raise CpuBudgetExceeded(seconds)
