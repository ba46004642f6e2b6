"""The fixture site's own claims: true here, and a fault test can turn one false.

Loaded by the fixture's copy of ``conf.py`` only; never part of the real site.
"""

from __future__ import annotations

from typing import Any

from gradmodes.claims import Observer, claim


@claim("fixture.sum", "One plus one is two.")
def _sum(obs: Observer) -> None:
    obs.expect("1 + 1", 1 + 1, 2)


@claim("fixture.order", "Zero is less than one.")
def _order(obs: Observer) -> None:
    obs.expect("0 < 1", 0 < 1, True)


def setup(app: Any) -> dict[str, Any]:
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
