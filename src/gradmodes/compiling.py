"""What ``torch.compile`` did: the guard failures behind each recompile, and dynamo's warnings.

Dynamo writes why it compiles a function again to its ``recompiles`` log, and warnings
such as "hit config.recompile_limit" to its own logger; by default both go to stderr.
:func:`dynamo_log` collects them for one block instead, so a page can print and check
them. Count graphs with dynamo's own counters (``torch._dynamo.testing.CompileCounter``,
``torch._dynamo.utils.counters``).

>>> import torch
>>> torch._dynamo.reset()  # forget what earlier compiles cached
>>> f = torch.compile(lambda x: x * 2, backend="eager")
>>> x = torch.ones(2, requires_grad=True)
>>> with dynamo_log() as log:
...     _ = f(x)
...     with torch.no_grad():
...         _ = f(x)
>>> log.recompiles
[('GLOBAL_STATE changed: grad_mode',)]
>>> del f  # dynamo cleans up after a compiled function while its globals still exist
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

__all__ = ["DynamoLog", "dynamo_log"]

# "- 0/1: GLOBAL_STATE changed: grad_mode": one failed guard of the cached graph 0/1.
_FAILURE = re.compile(r"^- \d+/\d+: (?P<guard>.+)$")


@dataclass
class DynamoLog:
    """What dynamo logged inside :func:`dynamo_log`.

    >>> DynamoLog()
    DynamoLog(recompiles=[], warnings=[])
    """

    recompiles: list[tuple[str, ...]] = field(default_factory=list)
    """One entry per recompile: the failed guard of each graph cached for that code,
    newest graph first, as dynamo reports them (a comment after ``#`` is left out)."""
    warnings: list[str] = field(default_factory=list)
    """The first line of each warning dynamo logged, e.g. that it hit the recompile limit."""


class _Collect(logging.Handler):
    def __init__(self, log: DynamoLog) -> None:
        super().__init__(logging.DEBUG)
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            self.log.warnings.append(message.splitlines()[0].strip())
        elif message.startswith("Recompiling function"):
            self.log.recompiles.append(_failures(message))


def _failures(message: str) -> tuple[str, ...]:
    """The failed guards of one recompile message, without source comments or stacks."""
    found = []
    for line in message.splitlines():
        match = _FAILURE.match(line.strip())
        if match:
            found.append(match["guard"].split("  #")[0].strip())
    return tuple(found)


@contextmanager
def dynamo_log() -> Iterator[DynamoLog]:
    """Collect dynamo's recompile reasons and warnings inside the block, instead of stderr.

    Inside the block dynamo's ``recompiles`` log is on (like ``TORCH_LOGS="recompiles"``);
    on exit torch's logging settings are reset to their defaults
    (``torch._logging.set_logs()``).

    >>> g = torch.compile(lambda x: x + 1, backend="eager")
    >>> with dynamo_log() as log:
    ...     _ = g(torch.ones(1))
    >>> log  # one graph, no recompile
    DynamoLog(recompiles=[], warnings=[])
    >>> del g
    """
    log = DynamoLog()
    handler = _Collect(log)
    torch._logging.set_logs(recompiles=True)
    recompiles = torch._logging.getArtifactLogger("torch._dynamo.guards", "recompiles")
    dynamo = logging.getLogger("torch._dynamo")
    saved = [(logger, logger.propagate, list(logger.handlers)) for logger in (recompiles, dynamo)]
    try:
        for logger, _, _ in saved:
            logger.handlers = [handler]
            logger.propagate = False
        yield log
    finally:
        for logger, propagate, handlers in saved:
            logger.handlers = handlers
            logger.propagate = propagate
        torch._logging.set_logs()
