"""Per-project routes: for collections without a project filter, read only the scoped projects' own routes."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from tap_openproject.paging.numbered import NumberedPages

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from tap_openproject.paging.page import Pager, Query, Record


@dataclass(frozen=True)
class ProjectRoutes:
    """With project_ids: `route` (e.g. "/projects/{project_id}/versions") for each scoped project, each element
    once (a shared version appears under several projects). Without: the collection itself, page by page."""

    route: str

    def records(self, pager: Pager, query: Query) -> Iterator[Record]:
        """The scoped records, flattened."""
        if not query.project_ids:
            yield from NumberedPages().records(pager, query)
            return
        seen: set[t.Any] = set()
        for project_id in query.project_ids:
            for element in pager.elements(query.label, self.route.format(project_id=project_id), keys=query.keys):
                if element.get("id") not in seen:
                    seen.add(element.get("id"))
                    yield query.flatten(element)
