"""A sync while people work: work packages touched, deleted, created and bulk-updated between page requests.

The guarantees (issue 4), checked against the double's store after two consecutive runs, the second one started
with the first one's final state:

- a run plus its successor deliver every record in its latest version: for every work package that exists at the
  end, the last version delivered across both runs is the store's (lockVersion, updatedAt);
- a full sync delivers every record that exists throughout it (neither created nor deleted during the run);
- same-second bursts larger than a page neither loop nor drop records.

Changes happen in `op.on_request`, before the double answers a work-package page request, so they land between
the pages the tap reads. A scenario acts on what the double has already served (`RecordedRequest.element_ids`),
not on how the tap pages, so the tests hold for any paging design (sequential or concurrent).
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
import typing as t

import pytest

from tap_openproject.timeutil import parse_datetime
from tests.helpers import SyncResult, config_for, run_sync

WP_PATH = "/api/v3/work_packages"
PAGE = 10
#: A pre-existing bulk edit: many work packages saved within one second, long before the sync.
BURST_AT = dt.datetime(2025, 7, 1, 0, 0, 0, 250_000, tzinfo=dt.timezone.utc)
#: More work-package requests than this in one run is a paging loop: the double then answers 500.
RUNAWAY = 400

Version = tuple[int, dt.datetime]
Action = t.Callable[["Scenario", int], None]


class Scenario:
    """An `op.on_request` hook: before the n-th work-package page request is answered, `act(scenario, n)`.

    `served` holds the ids the double has answered so far in this run; `changed` records what the scenario did.
    """

    def __init__(self, op: t.Any, act: Action) -> None:
        self.op, self.store, self.act = op, op.store, act
        self.requests = 0
        self.served: list[int] = []
        self.changed: dict[str, list[int]] = {"touched": [], "deleted": [], "created": []}
        self._lock = threading.Lock()

    def __call__(self, double: t.Any, request: t.Any) -> None:
        if request.path != WP_PATH or "select" in request.query:
            return
        with self._lock:
            self.requests += 1
            if self.requests > RUNAWAY:
                raise RuntimeError(f"more than {RUNAWAY} work-package requests in one run: paging loops")
            self.served = [i for r in double.requests[:-1] if r.path == WP_PATH for i in (r.element_ids or [])]
            self.act(self, self.requests)

    # -- what people do ---------------------------------------------------------------------------------------
    def unserved(self, count: int) -> list[int]:
        """Existing work packages not yet served in this run (lowest ids first)."""
        seen = set(self.served)
        return [i for i in self.store.ids("work_packages") if i not in seen][:count]

    def already_served(self, count: int) -> list[int]:
        """Existing work packages already served in this run (lowest ids first)."""
        return sorted({i for i in self.served if i in self.store.rows})[:count]

    def touch(self, ids: t.Iterable[int], at: dt.datetime | None = None) -> None:
        ids = list(ids)
        self.store.bulk_touch("work_packages", ids, at=at or dt.datetime.now(dt.timezone.utc))
        self.changed["touched"] += ids

    def delete(self, ids: t.Iterable[int]) -> None:
        for wp_id in ids:
            self.store.delete("work_packages", wp_id)
            self.changed["deleted"].append(wp_id)

    def create(self, count: int) -> None:
        for _ in range(count):
            self.changed["created"].append(self.store.create_work_package(subject="created during the sync")["id"])


def version(item: dict[str, t.Any]) -> Version:
    return item["lockVersion"], parse_datetime(item["updatedAt"])


def run_with_changes(
    op: t.Any, act: Action, **settings: t.Any
) -> tuple[Scenario, SyncResult, SyncResult, set[int]]:
    """Run 1 with the scenario's changes, run 2 (its successor) with run 1's final state and no changes.

    Returns the scenario, both results and the ids that existed throughout run 1.
    """
    config = config_for(op, page_size=PAGE, max_retries=1, **settings)
    before = set(op.store.ids("work_packages"))
    scenario = Scenario(op, act)
    op.on_request = scenario
    first = run_sync(config, streams=["work_packages"])
    assert first.error is None, first.error
    throughout = before & set(op.store.ids("work_packages"))
    op.on_request = Scenario(op, lambda s, n: None)  # no changes; still stops a paging loop
    second = run_sync(config, streams=["work_packages"], state=first.final_state)
    op.on_request = None
    assert second.error is None, second.error
    return scenario, first, second, throughout


def assert_guarantees(
    op: t.Any, scenario: Scenario, first: SyncResult, second: SyncResult, throughout: set[int]
) -> None:
    """The issue's two guarantees, with what went wrong listed per work package."""
    last: dict[int, Version] = {}
    for result in (first, second):
        for record in result.records.get("work_packages", []):
            last[record["id"]] = version(record)
    broken = {
        "existed throughout run 1, not delivered by it": sorted(throughout - set(first.ids("work_packages"))),
        "not in their latest version after run 1 + run 2 (last delivered, current)": {
            wp_id: (last.get(wp_id), version(op.store.work_packages[wp_id]))
            for wp_id in op.store.ids("work_packages")
            if last.get(wp_id) != version(op.store.work_packages[wp_id])
        },
    }
    assert not any(broken.values()), f"{broken} after {scenario.changed}"


def pages_for(records: int) -> int:
    return math.ceil(records / PAGE)


CONCURRENCY = pytest.mark.parametrize("concurrency", [1, 4], ids=["sequential", "concurrent"])


@CONCURRENCY
def test_touches_during_the_sync(op, concurrency):
    def act(scenario: Scenario, n: int) -> None:
        if n in (2, 3, 4):
            scenario.touch(scenario.unserved(2) + scenario.already_served(2))

    scenario, first, second, throughout = run_with_changes(op, act, max_concurrency=concurrency)

    assert len(scenario.changed["touched"]) == 12
    assert_guarantees(op, scenario, first, second, throughout)


@CONCURRENCY
def test_deletes_during_the_sync(op, concurrency):
    def act(scenario: Scenario, n: int) -> None:
        if n in (2, 3, 4):
            scenario.delete(scenario.unserved(1) + scenario.already_served(1))

    scenario, first, second, throughout = run_with_changes(op, act, max_concurrency=concurrency)

    assert len(scenario.changed["deleted"]) == 6 and len(throughout) == 54
    assert_guarantees(op, scenario, first, second, throughout)


@CONCURRENCY
def test_creates_during_the_sync(op, concurrency):
    def act(scenario: Scenario, n: int) -> None:
        if n in (2, 3):
            scenario.create(3)

    scenario, first, second, throughout = run_with_changes(op, act, max_concurrency=concurrency)

    assert len(scenario.changed["created"]) == 6
    assert_guarantees(op, scenario, first, second, throughout)


@CONCURRENCY
def test_a_same_second_bulk_update_larger_than_a_page_during_the_sync(op, concurrency):
    def act(scenario: Scenario, n: int) -> None:
        if n == 2:  # one bulk edit: 25 work packages saved within one second, some already served
            scenario.touch(scenario.already_served(5) + scenario.unserved(20))

    scenario, first, second, throughout = run_with_changes(op, act, max_concurrency=concurrency)

    assert len(scenario.changed["touched"]) == 25
    assert_guarantees(op, scenario, first, second, throughout)
    assert scenario.requests <= 4 * pages_for(60 + 25) + 10, "no paging loop"


@CONCURRENCY
def test_touches_deletes_creates_and_bulk_updates_together(make_double, concurrency):
    op = make_double(work_packages=120)

    def act(scenario: Scenario, n: int) -> None:
        if n == 2:
            scenario.touch(scenario.already_served(3) + scenario.unserved(22))  # a bulk edit within one second
        elif n in (3, 5, 7):
            scenario.delete(scenario.already_served(1) + scenario.unserved(1))
            scenario.touch(scenario.unserved(1) + scenario.already_served(1))
            scenario.create(2)

    scenario, first, second, throughout = run_with_changes(op, act, max_concurrency=concurrency)

    assert {k: len(v) for k, v in scenario.changed.items()} == {"touched": 31, "deleted": 6, "created": 6}
    assert_guarantees(op, scenario, first, second, throughout)
    assert scenario.requests <= 4 * pages_for(120 + 40) + 10, "no paging loop"


@CONCURRENCY
def test_a_bulk_update_burst_is_read_whole_when_nothing_else_moves(make_double, concurrency):
    op = make_double(work_packages=90)
    op.store.bulk_touch("work_packages", op.store.ids("work_packages")[10:45], at=BURST_AT)

    scenario, first, second, throughout = run_with_changes(op, lambda s, n: None, max_concurrency=concurrency)

    assert sorted(set(first.ids("work_packages"))) == op.store.ids("work_packages")
    assert second.ids("work_packages") == [], "nothing changed: the successor delivers nothing"
    assert_guarantees(op, scenario, first, second, throughout)
    assert scenario.requests <= 4 * pages_for(90) + 10, "no paging loop"


# -- data-loss cases of the paging first committed (keyset on the second, then offsets within it) ----------------


def test_edits_and_deletes_inside_a_burst_that_is_being_read(make_double):
    """A burst longer than a page is read with offsets within its second. Saving or deleting a burst member that
    was already read shifts the rest: the next offset page starts one row later, the row that moved onto the
    previous page is never read, and its second is behind the bookmark, so the successor misses it too (the
    first paging lost 4 of 87 work packages here)."""
    op = make_double(work_packages=90)
    op.store.bulk_touch("work_packages", op.store.ids("work_packages")[10:45], at=BURST_AT)

    def act(scenario: Scenario, n: int) -> None:
        rows = scenario.store.rows
        served_in_burst = [i for i in scenario.already_served(90) if rows[i].updated_at == BURST_AT]
        if len(served_in_burst) > 1 and len(scenario.changed["touched"]) < 3:
            scenario.touch(served_in_burst[:1])  # saved again: leaves the burst's second
            scenario.delete(served_in_burst[1:2])

    scenario, first, second, throughout = run_with_changes(op, act, max_concurrency=1)

    assert scenario.changed["touched"] and scenario.changed["deleted"]
    assert_guarantees(op, scenario, first, second, throughout)


def test_a_save_committed_late_during_the_sync(op):
    """A save that commits during the run with an updatedAt behind records already read (a long transaction
    stamps updatedAt before it commits) is missed by the run; its successor finds it only if the bookmark stays
    at or before the sync's start (the first paging set it to the newest delivered updatedAt and lost it)."""
    started: list[dt.datetime] = []

    def act(scenario: Scenario, n: int) -> None:
        if n == 1:
            started.append(dt.datetime.now(dt.timezone.utc))
            time.sleep(1.05 - started[0].microsecond / 1e6)  # the next wall-clock second
            scenario.touch(scenario.unserved(60)[-15:])  # saved now: the newest records, a burst over a page
        if len(scenario.changed["touched"]) == 15 and set(scenario.changed["touched"]) & set(scenario.served):
            # Saved at the start of the run, but committed only now, after newer records were read.
            late = next(i for i in scenario.store.ids("work_packages") if i not in scenario.changed["touched"])
            scenario.touch([late], at=started[0])

    scenario, first, second, throughout = run_with_changes(op, act, max_concurrency=1)

    assert len(scenario.changed["touched"]) == 16, "the late save must happen after the burst was served"
    assert_guarantees(op, scenario, first, second, throughout)
