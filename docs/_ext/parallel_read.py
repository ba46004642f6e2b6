"""Reading pages in parallel (``-j``): a ready execution cache, and timed pages last.

With ``-j``, Sphinx forks one process per CPU and gives each a chunk of the pages to read,
in the order of the list given to ``env-before-read-docs``; myst-nb then executes
notebooks in several processes at once, on one jupyter-cache.

- The cache's database is created before the processes fork. Otherwise, on a clean build,
  two processes that execute their first notebook at the same moment both find no
  database and both try to create it.
- The pages named in ``measured_pages`` are moved to the end of the list: their notebooks
  run after the others of their chunk, by when the other process has usually finished
  its own, so their timings compete less with this build's other notebooks. (Other
  processes on the machine still compete: such a page reports the load it measured under.)
- A build with fewer pages to read than ``parallel_min_pages`` (a rebuild after an edit of
  one page reads that page) reads and writes them in this process:
  forking the readers and the writer, and merging what they read, costs more than it saves.
- A process that fails fails the build (``keep_failures``): Sphinx 9.0 loses such a failure
  when it comes while the next process is being started, and the build then "succeeds"
  without the pages of that process and of the processes it stops.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util.parallel import ParallelTasks


def move_last(docnames: list[str], last: list[str]) -> None:
    """Move the names in ``last`` to the end of ``docnames``, in place, in ``last``'s order.

    >>> names = ["a", "performance", "b"]
    >>> move_last(names, ["performance", "absent"])
    >>> names
    ['a', 'b', 'performance']
    """
    for name in last:
        if name in docnames:
            docnames.remove(name)
            docnames.append(name)


def reorder(app: Sphinx, env: BuildEnvironment, docnames: list[str]) -> None:
    move_last(docnames, list(app.config.measured_pages))
    if len(docnames) < app.config.parallel_min_pages:
        app.parallel = 1  # Sphinx reads this next, to choose serial reading, then writing


def create_cache(app: Sphinx) -> None:
    """Create the execution cache's database now, in the one process that exists yet."""
    path = app.config.nb_execution_cache_path
    if app.config.nb_execution_mode != "cache" or not path:
        return
    from jupyter_cache import get_cache

    get_cache(path).db.dispose()  # creates it if missing; keeps no connection open


def keep_failures() -> None:
    """Make Sphinx's ``ParallelTasks`` raise every failure of a process (once per interpreter).

    ``add_task`` looks for a finished process before it starts the next one. When one has
    failed, it catches the error, stops the other processes and goes on; ``join`` then finds
    none running and returns. The read or the write ends with no error, the failed chunk and
    the chunks it stopped (or left waiting) missing (``tests/test_speedups.py`` shows it on a small
    project). Here the error is kept, and ``join`` raises it: Sphinx reports the crash, and
    ``build.py`` builds again in one process, which shows the error in full.
    """
    if getattr(ParallelTasks, "_keeps_failures", False):
        return
    join_one, join = ParallelTasks._join_one, ParallelTasks.join

    def _join_one(self: ParallelTasks) -> bool:
        try:
            return join_one(self)
        except BaseException as error:
            self._failure = error  # type: ignore[attr-defined]
            raise

    def _join(self: ParallelTasks) -> None:
        join(self)
        failure = getattr(self, "_failure", None)
        if failure is not None:
            raise failure

    ParallelTasks._join_one, ParallelTasks.join = _join_one, _join  # type: ignore[method-assign]
    ParallelTasks._keeps_failures = True  # type: ignore[attr-defined]


def setup(app: Sphinx) -> dict[str, Any]:
    keep_failures()
    app.add_config_value("measured_pages", [], "", list)
    app.add_config_value("parallel_min_pages", 0, "", int)
    app.connect("builder-inited", create_cache)
    app.connect("env-before-read-docs", reorder)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
