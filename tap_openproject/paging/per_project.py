"""Readers for collections a project filter alone does not cover: per-project routes read for every project
(budgets), resources served one by one that another collection links (time entry activities), and collections
whose elements may belong to no project (global queries and views)."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, replace

from tap_openproject.errors import CollectionUnavailable
from tap_openproject.http import Missing
from tap_openproject.paging.numbered import NumberedPages

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tap_openproject.paging.page import Element, Pager, Query, Record

Refusal = CollectionUnavailable | None


@dataclass(frozen=True)
class EveryProject:
    """`query.path` (a route with `{project_id}`) for each scoped project, or for every project of /projects.

    A project may refuse its route (403/404: the module is off there, or the token may not see it): it has none.
    When every project refuses, the server lacks the collection or the token may not read it: the stream is
    unavailable (CollectionUnavailable). The resource need not link its project: `project_column` says which.
    """

    project_column: str = "project_id"

    def records(self, pager: Pager, query: Query) -> Iterator[Record]:
        """The records of every project's route, project by project, each with its project's id."""
        project_ids = query.project_ids or self._every_project(pager, query.label)

        def fetch(project_id: int) -> tuple[list[Record], Refusal]:
            try:
                return self._read(pager, query, project_id), None
            except CollectionUnavailable as refusal:
                return [], refusal

        answered, first_refusal = 0, None
        for records, refusal in pager.ordered(fetch, project_ids, max(1, pager.concurrency)):
            if refusal is None:
                answered += 1
                yield from records
            elif first_refusal is None:
                first_refusal = refusal
        if not answered and first_refusal is not None:
            raise first_refusal

    def _read(self, pager: Pager, query: Query, project_id: int) -> list[Record]:
        path = query.path.format(project_id=project_id)
        records: list[Record] = []
        offset = 0
        while True:
            offset += 1
            page = pager.read(query.label, path, query.params(pager.page_size, offset=offset),
                              missing=Missing.SKIP_STREAM)
            records.extend({**record, self.project_column: project_id} for record in query.flat(page.elements))
            if page.is_last:
                return records

    @staticmethod
    def _every_project(pager: Pager, label: str) -> list[int]:
        elements = pager.elements(label, "/projects")
        return sorted({e["id"] for e in elements if isinstance(e.get("id"), int)})


@dataclass(frozen=True)
class LinkedResources:
    """The distinct resources the elements of `source` link as `link`, each read once from `target` (a route with
    `{id}`): for resources the API serves only one by one. Resources no element links are not found.

    id_of: the id in a link's href (hal.link_id; passed in, since hal sits above paging).
    """

    source: str
    link: str
    target: str
    id_of: Callable[[str | None], int | str | None]

    def records(self, pager: Pager, query: Query) -> Iterator[Record]:
        """The linked resources in id order, flattened."""
        sweep = replace(query, path=self.source, flatten=self._linked_id, reports_total=False, decode=None)
        ids = sorted({r["id"] for r in NumberedPages().records(pager, sweep) if r["id"] is not None})
        for ident in ids:
            response = pager.client.get(self.target.format(id=ident), label=query.label, missing=Missing.SKIP_STREAM)
            yield query.flatten(response.body)

    def _linked_id(self, element: Element) -> Record:
        link = (element.get("_links") or {}).get(self.link)
        ident = self.id_of(link.get("href")) if isinstance(link, dict) else None
        return {"id": ident if isinstance(ident, int) else None}


@dataclass(frozen=True)
class WithGlobal:
    """The collection; with project_ids, the scoped projects' elements and then those of no project (`filter`
    with the `!*` operator): a global query or view belongs to every project's partition."""

    filter: str

    def records(self, pager: Pager, query: Query) -> Iterator[Record]:
        """The scoped (or all) elements, then the global ones when scoped."""
        yield from NumberedPages().records(pager, query)
        if query.project_ids:
            unscoped = [f for f in query.filters if self.filter not in f]
            global_only = [*unscoped, {self.filter: {"operator": "!*", "values": []}}]
            yield from NumberedPages().records(pager, replace(query, filters=global_only, reports_total=False))
