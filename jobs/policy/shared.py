"""Reads shared by the backend decisions of one batch of submissions."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

_Read = TypeVar("_Read", bound=Callable[..., Any])
_shared: ContextVar[dict[tuple[Any, ...], Any] | None] = ContextVar("policyshared_reads", default=None)


@contextmanager
def shared_reads() -> Iterator[None]:
    """Inside this block the price overrides are read once and the run records (circuit breakers,
    observed run times) once per distinct question, however many decisions ask: a batch of submissions
    is decided against one snapshot instead of asking the database the same thing for every job.
    Outside it every call reads. The answers are shared: callers must not change them."""
    token = _shared.set({})
    try:
        yield
    finally:
        _shared.reset(token)


def shared_read(read: _Read) -> _Read:
    @functools.wraps(read)
    def shared(**kwargs: Any) -> Any:
        memo = _shared.get()
        if memo is None:
            return read(**kwargs)
        key = (read.__name__, *sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in kwargs.items()))
        if key not in memo:
            memo[key] = read(**kwargs)
        return memo[key]

    return shared  # type: ignore[return-value]
