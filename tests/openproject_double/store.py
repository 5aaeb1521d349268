"""The live, thread-safe data store behind one running double; tests mutate it between requests."""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from .data import (
    OPEN_STATUS_IDS,
    Dataset,
    WorkPackageRow,
    activities_for,
    attachments_for,
    generate_collections,
    render_work_package,
)
from .data_children import WORK_PACKAGE_CHILDREN, child_collections
from .data_planning import PLANNING_COLLECTIONS, generate_planning
from .resources import UTC, id_from_href, iso_datetime, parse_datetime

#: Every collection name the store knows (work packages, activities and attachments are special).
COLLECTIONS = (
    "projects", "work_packages", "activities", "attachments", "relations", "time_entries", "memberships",
    "users", "groups", "placeholder_users", "statuses", "types", "priorities", "roles", "categories", "news",
    "documents", "meetings", "versions", "time_entry_activities", "custom_options", *PLANNING_COLLECTIONS,
)
_ROW_FIELDS = {"project_id", "type_id", "status_id", "priority_id", "author_id", "assignee_id", "parent_id",
               "created_at", "updated_at", "lock_version"}
_CAMEL_ROW_FIELDS = {"createdAt": "created_at", "updatedAt": "updated_at", "lockVersion": "lock_version"}


class WorkPackageView(Mapping[int, dict[str, Any]]):
    """``store.work_packages``: a read-only mapping id -> API dict, rendered on first access and cached."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getitem__(self, wp_id: int) -> dict[str, Any]:
        with self._store.lock:
            found = self._store.get("work_packages", wp_id)
            if found is None:
                raise KeyError(wp_id)
            # The caller may edit the dict in place: serialise it afresh next time it is served.
            self._store.forget_fragment(wp_id)
            return found

    def __iter__(self) -> Iterator[int]:
        return iter(self._store.ids("work_packages"))

    def __len__(self) -> int:
        return len(self._store.rows)


class Store:
    """All resources of one double, guarded by one re-entrant lock (``store.lock``).

    Generic collections are dicts id -> API dict (``store.projects``, ``store.time_entries`` ...). Work
    packages are :class:`WorkPackageRow` objects (``store.rows``) rendered on demand through
    ``store.work_packages``; activities and attachments are derived per work package.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.lock = threading.RLock()
        self.seed = dataset.seed
        gc_was_enabled = gc.isenabled()
        gc.disable()  # generation allocates ~10^6 acyclic objects; cyclic GC passes would only slow it down
        try:
            self._collections, self.rows = generate_collections(dataset)
            self._collections.update(generate_planning(dataset.seed, self._collections))
            self._collections.update(child_collections(dataset.seed, self._collections, sorted(self.rows)))
        finally:
            if gc_was_enabled:
                gc.enable()
        # The generated objects live as long as the double; moving them out of the collector's reach keeps
        # full GC passes (triggered by rendering big pages) from re-scanning ~10^6 objects each time.
        gc.freeze()
        self._next_wp_id = max(self.rows) + 1
        self._cache: dict[int, dict[str, Any]] = {}
        self._fragments: dict[int, str] = {}  # compact JSON per work package, the hot path of big pages
        self._children: dict[int, list[int]] = {}
        self._clock: datetime | None = None
        #: Bumped whenever a work package row changes (touch, create, update, delete). Rows must only be
        #: changed through Store methods: ``query_cache`` (orderings and indexes the API layer derives from
        #: the rows, to answer big collections without a pass over every row) lives for one version.
        self.version = 0
        self.query_cache: dict[Any, Any] = {}
        self.work_packages = WorkPackageView(self)
        #: Reshapes each freshly rendered work package (the release matrix removes links newer releases added).
        self.render_hook: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self._reindex()

    # --- clock -----------------------------------------------------------------------------------------
    def set_clock(self, now: datetime | None) -> None:
        """Pin "now" (used by touch, create and relative date filters); None returns to the wall clock."""
        with self.lock:
            self._clock = None if now is None else (now if now.tzinfo else now.replace(tzinfo=UTC))

    def now(self) -> datetime:
        """The store's current time (aware UTC)."""
        return self._clock or datetime.now(UTC)

    # --- reading ---------------------------------------------------------------------------------------
    def __getattr__(self, name: str) -> dict[int, dict[str, Any]]:
        """``store.projects`` etc.: the live dict id -> API dict of a generic collection."""
        collections = self.__dict__.get("_collections", {})
        if name in collections:
            return collections[name]  # type: ignore[no-any-return]
        if name in ("activities", "attachments"):
            return {item["id"]: item for wp in self.ids("work_packages") for item in self.derived(name, wp)}
        raise AttributeError(name)

    def collection(self, name: str) -> dict[int, dict[str, Any]]:
        """The live dict of a generic collection (not work packages)."""
        return self._collections[name]

    def ids(self, collection: str) -> list[int]:
        """Sorted ids currently in ``collection``."""
        with self.lock:
            if collection == "work_packages":
                return sorted(self.rows)
            if collection in ("activities", "attachments") or collection in WORK_PACKAGE_CHILDREN:
                # watchers are users: a user watching several work packages is listed once per work package
                return sorted(item["id"] for wp in self.rows for item in self.derived(collection, wp))
            return sorted(self._collections[collection])

    def get(self, collection: str, ident: int) -> dict[str, Any] | None:
        """One resource in API shape, or None."""
        with self.lock:
            if collection == "work_packages":
                row = self.rows.get(ident)
                return None if row is None else self._render(row)
            if collection == "activities":
                return next((a for a in self.derived("activities", ident // 100) if a["id"] == ident), None)
            if collection == "attachments":
                return next((a for a in self.derived("attachments", ident // 2) if a["id"] == ident), None)
            return self._collections.get(collection, {}).get(ident)

    def derived(self, collection: str, wp_id: int) -> list[dict[str, Any]]:
        """Activities, attachments, watchers or file links of one work package ([] when it does not exist)."""
        row = self.rows.get(wp_id)
        if row is None:
            return []
        if collection == "activities":
            return activities_for(row, self.seed, self._lookup)
        if collection in WORK_PACKAGE_CHILDREN:
            return WORK_PACKAGE_CHILDREN[collection](row, self.seed, self._lookup)
        return attachments_for(row, self.seed, self._lookup)

    def is_open(self, row: WorkPackageRow) -> bool:
        """Whether the work package's status is an open one."""
        return row.status_id in OPEN_STATUS_IDS

    def project_is_public(self, project_id: int | None) -> bool:
        """Whether anonymous users can see a project."""
        project = self._collections["projects"].get(project_id) if project_id is not None else None
        return bool(project and project.get("public"))

    def _render(self, row: WorkPackageRow) -> dict[str, Any]:
        cached = self._cache.get(row.id)
        if cached is None:
            cached = self._render_uncached(row)
            self._cache[row.id] = cached
        return cached

    def _render_uncached(self, row: WorkPackageRow) -> dict[str, Any]:
        ancestors: list[int] = []
        parent = row.parent_id
        while parent is not None and parent in self.rows and parent not in ancestors:
            ancestors.insert(0, parent)
            parent = self.rows[parent].parent_id
        rendered = render_work_package(
            row, self.seed, self._lookup, sorted(self._children.get(row.id, [])), ancestors,
            self._versions_by_project.get(row.project_id, []),
            self._categories_by_project.get(row.project_id, []), self._user_ids)
        return rendered if self.render_hook is None else self.render_hook(rendered)

    def _lookup(self, collection: str, ident: int) -> dict[str, Any] | None:
        return self._collections[collection].get(ident)

    def render_many(self, rows: list[WorkPackageRow]) -> list[dict[str, Any]]:
        """API dicts for a page of rows (under the lock)."""
        with self.lock:
            return [self._render(row) for row in rows]

    def fragments(self, rows: list[WorkPackageRow]) -> list[str]:
        """Compact JSON texts for a page of rows, cached per work package until it changes."""
        with self.lock:
            out = []
            for row in rows:
                text = self._fragments.get(row.id)
                if text is None:
                    text = json.dumps(self._render(row), separators=(",", ":"), ensure_ascii=False)
                    self._fragments[row.id] = text
                out.append(text)
            return out

    def warm(self, ids: list[int], chunk: int = 250) -> None:
        """Pre-render work packages into the JSON cache, a chunk per lock hold so requests interleave."""
        for start in range(0, len(ids), chunk):
            with self.lock:
                self.fragments([self.rows[i] for i in ids[start:start + chunk] if i in self.rows])

    def prerender(self, ids: list[int], chunk: int = 250) -> None:
        """Serialise work packages into the JSON cache without keeping their dicts (~3 KB each instead of
        ~14 KB), a chunk per lock hold; the benchmark pre-renders a whole large dataset this way."""
        for start in range(0, len(ids), chunk):
            with self.lock:
                for wp_id in ids[start:start + chunk]:
                    row = self.rows.get(wp_id)
                    if row is None or wp_id in self._fragments:
                        continue
                    rendered = self._cache.get(wp_id) or self._render_uncached(row)
                    self._fragments[wp_id] = json.dumps(rendered, separators=(",", ":"), ensure_ascii=False)

    def forget_fragment(self, wp_id: int) -> None:
        """Drop the cached JSON of one work package (its dict may have been edited in place)."""
        self._fragments.pop(wp_id, None)

    def _reindex(self) -> None:
        self._children = {}
        for row in self.rows.values():
            if row.parent_id is not None:
                self._children.setdefault(row.parent_id, []).append(row.id)
        self._versions_by_project: dict[int, list[dict[str, Any]]] = {}
        for version in self._collections["versions"].values():
            pid = id_from_href(version["_links"]["definingProject"])
            self._versions_by_project.setdefault(pid or 0, []).append(version)
        self._categories_by_project: dict[int, list[dict[str, Any]]] = {}
        for category in self._collections["categories"].values():
            pid = id_from_href(category["_links"]["project"])
            self._categories_by_project.setdefault(pid or 0, []).append(category)
        self._user_ids = sorted(self._collections["users"])
        self._cache.clear()
        self._fragments.clear()
        self._rows_changed()

    def _rows_changed(self) -> None:
        self.version += 1
        self.query_cache.clear()

    # --- mutations -------------------------------------------------------------------------------------
    def touch(self, collection: str, ident: int, at: datetime | None = None) -> None:
        """Mark a resource as just saved: updatedAt = ``at`` (default: store clock); work packages also get
        lockVersion + 1 and one more journal."""
        with self.lock:
            when = self.now() if at is None else (at if at.tzinfo else at.replace(tzinfo=UTC))
            if collection == "work_packages":
                row = self.rows[ident]
                row.updated_at = when.astimezone(UTC)
                row.lock_version += 1
                row.journals_added += 1
                self._cache.pop(ident, None)
                self._fragments.pop(ident, None)
                self._rows_changed()
                return
            item = self._collections[collection][ident]
            item["updatedAt"] = iso_datetime(when)
            if "lockVersion" in item:
                item["lockVersion"] += 1

    def bulk_touch(self, collection: str, ids: list[int] | tuple[int, ...], at: datetime | None = None) -> None:
        """Touch many resources with the same timestamp (a bulk edit landing within one second)."""
        with self.lock:
            when = self.now() if at is None else at
            for ident in ids:
                self.touch(collection, ident, when)

    def delete(self, collection: str, ident: int) -> None:
        """Hard-delete a resource (OpenProject has no soft delete).

        Deleting a work package also removes its relations and time entries; its children lose their parent.
        """
        with self.lock:
            if collection in ("activities", "attachments"):
                raise ValueError(f"{collection} are derived from their work package and cannot be deleted alone")
            if collection != "work_packages":
                del self._collections[collection][ident]
                self._reindex()
                return
            del self.rows[ident]
            for row in self.rows.values():
                if row.parent_id == ident:
                    row.parent_id = None
            wp_href = f"/api/v3/work_packages/{ident}"
            for name, keys in (("relations", ("from", "to")), ("time_entries", ("workPackage",))):
                items = self._collections[name]
                for rid in [r for r, item in items.items()
                            if any(item["_links"][k].get("href") == wp_href for k in keys)]:
                    del items[rid]
            self._reindex()

    def create_work_package(self, **overrides: Any) -> dict[str, Any]:
        """Create a work package (next id, created/updated = store clock) and return its API dict.

        Overrides: row fields (``project_id``, ``type_id``, ``status_id``, ``priority_id``, ``author_id``,
        ``assignee_id``, ``parent_id``, ``created_at``, ``updated_at``, ``lock_version``; datetimes or ISO
        strings; ``createdAt``/``updatedAt``/``lockVersion`` are accepted too), ``_links`` (merged into
        the links) and any other API property (e.g. ``subject="..."``), which is set verbatim.
        """
        with self.lock:
            now = self.now()
            row = WorkPackageRow(id=self._next_wp_id, project_id=1, type_id=1, status_id=1, priority_id=8,
                                 author_id=1, assignee_id=None, parent_id=None, created_at=now, updated_at=now)
            self._next_wp_id += 1
            self._apply(row, overrides)
            self.rows[row.id] = row
            self._reindex()
            return self._render(row)

    def update_work_package(self, wp_id: int, **overrides: Any) -> dict[str, Any]:
        """Change a work package in place (same overrides as :meth:`create_work_package`); no implicit touch."""
        with self.lock:
            row = self.rows[wp_id]
            self._apply(row, overrides)
            self._reindex()
            return self._render(row)

    @staticmethod
    def _apply(row: WorkPackageRow, overrides: dict[str, Any]) -> None:
        for key, value in overrides.items():
            key = _CAMEL_ROW_FIELDS.get(key, key)
            if key in ("created_at", "updated_at"):
                value = parse_datetime(value) if isinstance(value, str) else (
                    value if value.tzinfo else value.replace(tzinfo=UTC))
            if key in _ROW_FIELDS:
                setattr(row, key, value)
            elif key == "_links":
                row.links.update(value)
            else:
                row.props[key] = value
