"""gradmodes.compiling: dynamo's recompile reasons and warnings, collected for one block."""

from __future__ import annotations

import logging

import pytest
import torch
import torch._dynamo

from gradmodes.compiling import DynamoLog, dynamo_log


@pytest.fixture(autouse=True)
def fresh_dynamo() -> None:
    torch._dynamo.reset()


def test_a_recompile_is_reported_with_its_failed_guard() -> None:
    f = torch.compile(lambda x: x * 2, backend="eager")
    x = torch.ones(2, requires_grad=True)
    with dynamo_log() as log:
        f(x)
        with torch.no_grad():
            f(x)
    assert log == DynamoLog(recompiles=[("GLOBAL_STATE changed: grad_mode",)], warnings=[])


def test_every_cached_graph_has_its_failed_guard_newest_first() -> None:
    f = torch.compile(lambda x: x + 1, backend="eager")
    x = torch.ones(2)
    with dynamo_log() as log:
        f(x)
        with torch.no_grad():
            f(x)
        f(x.clone().requires_grad_())
    assert len(log.recompiles) == 2
    assert len(log.recompiles[1]) == 2  # the grad graph and the no_grad graph both failed


def test_nothing_reaches_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    f = torch.compile(lambda x: x - 1, backend="eager")
    with dynamo_log():
        f(torch.ones(1))
        with torch.no_grad():
            f(torch.ones(1))
    assert capfd.readouterr().err == ""


def test_the_collector_is_removed_after_the_block() -> None:
    loggers = [
        logging.getLogger("torch._dynamo"),
        logging.getLogger("torch._dynamo.guards.__recompiles"),
    ]
    propagate = [logger.propagate for logger in loggers]
    with dynamo_log():
        pass
    assert [logger.propagate for logger in loggers] == propagate
    assert not any(type(h).__name__ == "_Collect" for log in loggers for h in log.handlers)
