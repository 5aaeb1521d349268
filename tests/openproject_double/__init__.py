"""A local OpenProject API v3 double for tests, the demo and the benchmark.

    from tests.openproject_double import OpenProjectDouble, Dataset, Fault

    with OpenProjectDouble(Dataset.generate(work_packages=50, seed=1)) as op:
        ...  # op.url, op.requests, op.store, op.add_fault(Fault("status", path="/work_packages", times=2, status=503))

The behaviour it imitates is described in shared/openproject-api.md; modules: ``data`` (generated
dataset), ``store`` (live data), ``query`` (paging, filters, sorting, select), ``api`` (the entry point),
``routes`` (the table of every path it answers), ``routing`` (templates and matching), ``listing`` (generic
collections), ``work_packages`` and ``handlers`` (the other answers), ``reply`` (shared answer shapes),
``faults`` (fault rules), ``server`` (HTTP), ``__main__`` (CLI); the 16.x/17.x collections (sprints, labels,
budgets, storages, queries, views ...) in ``data_planning`` and ``planning_handlers``.
"""

from .data import Dataset
from .faults import Fault
from .server import OpenProjectDouble, RecordedRequest
from .store import Store

__all__ = ["Dataset", "Fault", "OpenProjectDouble", "RecordedRequest", "Store"]
