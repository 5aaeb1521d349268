"""The release matrix: which OpenProject line (12, 14, 16, 17) the double imitates, as one table of changes.

``HISTORY`` lists what changed in the API and the first release of the matrix that has it; a :class:`Release`
is derived from it (every change since a later release is absent). ``OpenProjectDouble(release=12)`` then

- drops the routes of collections the release lacks (they answer 404 NotFound, as a path no route knows),
- answers collections that were unpaginated then without page keys,
- removes properties, links and custom field types that did not exist yet from what it renders (generic collections once when the
  double is built; work packages when their JSON is rendered, so the per-work-package cache stays valid),
- switches ``select``, the ``apiv3_max_page_size`` setting (500 before it) and the projects updatedAt filter,
- renders a project's ``status`` as a string instead of a link, and programs/portfolios as projects,
- reports the release's ``coreVersion`` in the root resource.

Each matrix release stands for the first minor of its line (12 = 12.0, January 2022; 14 = 14.0, May 2024; 16 = 16.0,
June 2025; 17 = 17.0, January 2026) plus what its line added later only where the spec says "16.x" or "17.x"
without a minor. Dates come from shared/openproject-api.md and the opf/openproject pull requests named in
``source``; where neither dates a change, the choice is the conservative one (the change counts as new: the
older releases lack it), and ``source`` says so.

Not modelled: 17.0's "View all users and groups" permission (the double's non-admin token reads principals on
every release, as the non-admin tests expect); the work package updatedAt sort before its fix in 12.3 (the notes
do not say how it was wrong); older property sets of resources beyond the changes below.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .listing import Endpoint
from .routing import RouteTable

if TYPE_CHECKING:
    from .store import Store

RELEASES = (12, 14, 16, 17)
API = "/api/v3"


@dataclass(frozen=True)
class Change:
    """One change of the API surface: what appeared, in which release of the matrix, and how we know."""

    since: int
    what: str
    source: str
    paths: tuple[str, ...] = ()  # route templates (and everything below them) that appear
    properties: tuple[tuple[str, str], ...] = ()  # (collection, property) that appear
    links: tuple[tuple[str, str], ...] = ()  # (collection, link) that appear
    paginated: tuple[str, ...] = ()  # collections that go from one unpaginated answer to pages
    field_types: tuple[str, ...] = ()  # custom field types that appear in work package schemas
    switch: str = ""  # a behaviour of Release that turns on (see its fields)


HISTORY: tuple[Change, ...] = (
    # --- 12.1 and later 12.x: newer than the matrix's 12 (12.0) ------------------------------------------------
    Change(14, "select (signaling) on projects, users, groups, principals, placeholder users, work packages",
           "opf/openproject#10136, merged Feb 2022 (after 12.0); the notes: 'since early 2022'", switch="select"),
    Change(14, "the apiv3_max_page_size setting (default 1000); before it an internal maximum of 500",
           "the notes: 'since early 2022'; dated like select (conservative)", switch="max_page_size_setting"),
    Change(14, "/relations is paginated (it answered everything at once)",
           "opf/openproject#10023, merged 2022-01-06, after the 12.0 branch (conservative)", paginated=("relations",)),
    Change(14, "storages, project storages and work package file links (Nextcloud integration)",
           "the storages API came with the Nextcloud integration in 12.2 (mid 2022)",
           paths=(f"{API}/storages", f"{API}/project_storages", f"{API}/work_packages/{{id:int}}/file_links")),
    Change(14, "working days: /days/week and /days/non_working",
           "the work week setting came in 12.3 (late 2022)", paths=(f"{API}/days",)),
    Change(14, "/views (team planner and board views)",
           "not dated by the notes; conservative: newer than 12.0", paths=(f"{API}/views",)),
    Change(14, "a project's status is a link to /project_statuses/{code}, not a string",
           "the notes: 'a link on newer servers, a string on older ones'; conservative: only 12 has the string",
           switch="project_status_link"),
    # --- 16.x ----------------------------------------------------------------------------------------------------
    Change(16, "meetings are paginated", "the notes: 'paginated on newer servers'; conservative: from 16 on",
           paginated=("meetings",)),
    Change(16, "hierarchy and weighted item list custom fields: /custom_fields/{id}/items, /custom_field_items",
           "hierarchy fields are a 15.x feature, weighted item lists 16.x",
           paths=(f"{API}/custom_fields", f"{API}/custom_field_items"),
           field_types=("CustomField::Hierarchy::Item", "[]CustomField::Hierarchy::Item")),
    Change(16, "project phases: /project_phase_definitions; work packages link projectPhase(Definition)",
           "the spec's 16.x/17.x surface: 'Project phases' (16.x)",
           paths=(f"{API}/project_phase_definitions", f"{API}/project_phases"),
           links=(("work_packages", "projectPhase"), ("work_packages", "projectPhaseDefinition"))),
    # --- 17.0 and 17.x -------------------------------------------------------------------------------------------
    Change(17, "workspaces: programs and portfolios in /projects (_type Program, Portfolio), /workspaces",
           "the spec's 16.x/17.x surface: 'Workspaces (17.0, Jan 2026)'",
           paths=(f"{API}/workspaces", f"{API}/programs", f"{API}/portfolios"), switch="workspace_types"),
    Change(17, "the projects updatedAt filter and sort",
           "opf/openproject#20308, merged 2025-09-17: after 16.0, so the matrix's 16 lacks it",
           switch="projects_updated_at"),
    Change(17, "sprints: /sprints, /projects/{id}/sprints; work packages link their sprint",
           "the spec's 16.x/17.x surface: sprints (17.x)",
           paths=(f"{API}/sprints", f"{API}/projects/{{project:int}}/sprints"), links=(("work_packages", "sprint"),)),
    Change(17, "labels: /labels", "the issue: 'labels in 17.x'", paths=(f"{API}/labels",)),
    Change(17, "meeting sections, agenda items and outcomes",
           "opf/openproject#22562, merged 2026-03-27 (17.x)",
           paths=(f"{API}/meetings/{{id:int}}/sections", f"{API}/meetings/{{id:int}}/agenda_items",
                  f"{API}/meetings/{{meeting:int}}/agenda_items", f"{API}/meeting_sections",
                  f"{API}/meeting_agenda_items", f"{API}/meeting_outcomes")),
    Change(17, "ownName on types", "the notes: 'properties appear over time (e.g. ownName on types)'; not dated: "
           "conservative, 17 only", properties=(("types", "ownName"),)),
    Change(17, "customCommentN: a comment on a custom field value", "the spec's 16.x/17.x surface (custom field "
           "kinds); not dated: conservative, 17 only", properties=(("projects", "customComment12"),)),
)

CORE_VERSIONS = {12: "12.0.10", 14: "14.0.2", 16: "16.0.1", 17: "17.0.2"}
#: The version an unpinned double (``release=None``) reports: it predates the matrix, and tests read it.
UNPINNED_CORE_VERSION = "15.4.0"
#: Every path template the matrix can remove (/workspaces, /programs, /portfolios: the double has no routes there).
ALL_PATHS = tuple(path for change in HISTORY for path in change.paths)


@dataclass(frozen=True)
class Release:
    """The API surface of one release of the matrix, derived from ``HISTORY``."""

    number: int
    core_version: str
    changes: tuple[Change, ...] = field(repr=False)  # the changes this release has

    @property
    def missing_paths(self) -> tuple[str, ...]:
        """Route templates this release does not have (404)."""
        present = {p for c in self.changes for p in c.paths}
        return tuple(p for p in ALL_PATHS if p not in present)

    def has(self, switch: str) -> bool:
        """Whether a behaviour switch of ``HISTORY`` is on in this release."""
        return any(c.switch == switch for c in self.changes)

    def _later(self) -> tuple[Change, ...]:
        return tuple(c for c in HISTORY if c not in self.changes)

    @property
    def unpaginated(self) -> frozenset[str]:
        """Collections answered unpaginated here that later releases page."""
        return frozenset(name for c in self._later() for name in c.paginated)

    @property
    def max_page_size(self) -> int:
        """The server's page size maximum by default: the setting's 1000, or the old internal 500."""
        return 1000 if self.has("max_page_size_setting") else 500

    def absent(self, collection: str) -> tuple[set[str], set[str]]:
        """(properties, links) of ``collection`` that this release does not render."""
        later = self._later()
        return ({p for c in later for coll, p in c.properties if coll == collection},
                {name for c in later for coll, name in c.links if coll == collection})

    def shape_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        """A work package schema without the custom fields of types this release does not know."""
        absent = {kind for c in self._later() for kind in c.field_types}
        if not absent:
            return schema
        return {k: v for k, v in schema.items() if not (isinstance(v, dict) and v.get("type") in absent)}

    # --- applying it -----------------------------------------------------------------------------------------
    def routes(self, table: RouteTable) -> RouteTable:
        """``table`` without this release's missing paths, with its unpaginated collections."""
        entries = [replace(e, paginated=False) if isinstance(e, Endpoint) and e.collection in self.unpaginated
                   else e for e in table.entries]
        missing = self.missing_paths
        return RouteTable(r for e in entries for r in e.routes() if not _below(r.pattern, missing))

    def apply(self, store: Store) -> None:
        """Reshape the store's generic collections once and hook the rendering of work packages."""
        with store.lock:
            for name in ("types", "projects"):
                properties, links = self.absent(name)
                for item in store.collection(name).values():
                    _strip(item, properties, links)
            for project in store.collection("projects").values():
                self._reshape_project(project)
            properties, links = self.absent("work_packages")
            # each rendering is a fresh dict, stripped before it is cached and serialised
            store.render_hook = (lambda wp: _strip(wp, properties, links)) if properties or links else None

    def _reshape_project(self, project: dict[str, Any]) -> None:
        links = project["_links"]
        if not self.has("workspace_types") and project.get("_type") in ("Program", "Portfolio"):
            project["_type"] = "Project"
            links["self"] = dict(links["self"], href=f"{API}/projects/{project['id']}")
        if not self.has("project_status_link") and "status" in links:
            status = links.pop("status")
            project["status"] = (status.get("href") or "").rsplit("/", 1)[-1] or None


def _below(pattern: str, missing: Iterable[str]) -> bool:
    return any(pattern == m or pattern.startswith(m + "/") for m in missing)


def _strip(item: dict[str, Any], properties: set[str], links: set[str]) -> dict[str, Any]:
    for name in properties:
        item.pop(name, None)
    for name in links:
        item["_links"].pop(name, None)
    return item


def release(number: int | None) -> Release:
    """The release ``number`` of the matrix; None: the newest surface, reporting the unpinned core version."""
    if number is None:
        return Release(17, UNPINNED_CORE_VERSION, HISTORY)
    if number not in RELEASES:
        raise ValueError(f"release must be one of {', '.join(map(str, RELEASES))}, not {number!r}")
    return Release(number, CORE_VERSIONS[number], tuple(c for c in HISTORY if c.since <= number))
