"""Every path the double answers, in matching order: one entry per route or collection.

To add a collection, add one :class:`Endpoint` (it declares the list and the member by id) and give the
store its data; to add anything else, add one :class:`Route` with a handler. The first matching route wins,
so a specific template must come before a general one that also fits (``/projects/schema`` before
``/projects/{identifier}``). A test may extend the table of one double:
``op.routes = op.routes.with_entries(Endpoint("retrospectives"))``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import children as ch
from . import handlers as h
from . import planning_handlers as planning
from . import work_packages as wp
from .listing import UPDATED_AT, Endpoint, datetime_seconds, generic_sorts, project_filter
from .query import FilterField
from .routing import Route, RouteTable

if TYPE_CHECKING:
    from .server import OpenProjectDouble


def _projects_know_updated_at(op: OpenProjectDouble) -> bool:
    """Projects have the updatedAt filter and sort only on servers since Sept 2025 (``projects_updated_at_filter``)."""
    return op.projects_updated_at_filter


ROUTES = RouteTable([
    Route("/api/v3", h.root),
    Route("/api/v3/users/me", h.me),
    # --- work packages -----------------------------------------------------------------------------------------
    Route("/api/v3/work_packages", wp.all_work_packages),
    Route("/api/v3/work_packages/schemas", wp.schemas),
    Route("/api/v3/work_packages/schemas/{key}", wp.schema),
    Route("/api/v3/work_packages/{id:int}", wp.work_package),
    Route("/api/v3/work_packages/{id:int}/activities", wp.derived("activities")),
    Route("/api/v3/work_packages/{id:int}/attachments", wp.derived("attachments")),
    # --- inside one project ------------------------------------------------------------------------------------
    Route("/api/v3/projects/{project:int}/work_packages", wp.project_work_packages),
    Route("/api/v3/projects/{project:int}/types", h.project_types),  # every type is enabled everywhere
    Route("/api/v3/projects/{project:int}/categories", h.project_items("categories", "project")),
    Route("/api/v3/projects/{project:int}/versions", h.project_items("versions", "definingProject")),
    # --- resource schemas (their custom fields) ------------------------------------------------------------------
    Route("/api/v3/projects/schema", h.schema_of("projects")),
    Route("/api/v3/time_entries/schema", h.schema_of("time_entries")),
    Route("/api/v3/users/schema", h.schema_of("users")),
    Route("/api/v3/versions/schema", h.schema_of("versions")),
    # --- generic collections: the list and one member by id ------------------------------------------------------
    Endpoint("projects", filters={"id": FilterField("ids", lambda p: p["id"], "ID"), "updated_at": UPDATED_AT},
             sorts=generic_sorts("name"), select=True, project_link="self",
             has_updated_at=_projects_know_updated_at),
    Route("/api/v3/projects/{identifier}", h.project_by_identifier),  # after projects/schema and /{id:int}
    Endpoint("relations"),
    Endpoint("time_entries", filters={
        "updated_at": UPDATED_AT, "project": project_filter("project"),
        "user": FilterField("ids", h.linked("user"), "User"),
        "work_package": FilterField("ids", h.linked("workPackage"), "Work package"),
        "spent_on": FilterField("datetime", datetime_seconds("spentOn"), "Date")},
        sorts=generic_sorts("spentOn"), project_link="project"),
    Route("/api/v3/time_entries/activities/{id:int}", h.single("time_entry_activities")),
    Endpoint("memberships", filters={
        "updated_at": UPDATED_AT, "project": project_filter("project"),
        "principal": FilterField("ids", h.linked("principal"), "Principal")},
        sorts=generic_sorts(), project_link="project"),
    Endpoint("users", select=True, admin_only=True),
    Endpoint("groups", sorts=generic_sorts("name"), select=True, anonymous_lists=False),
    Endpoint("placeholder_users", select=True, admin_only=True),
    Endpoint("principals", select=True, anonymous_lists=False, sources=("users", "groups", "placeholder_users"),
             by_id=False),
    Endpoint("news", filters={"project_id": project_filter("project")}, project_link="project"),
    Endpoint("documents", filters={"project_id": project_filter("project")}, project_link="project"),
    Endpoint("meetings", filters={"project_id": project_filter("project")}, project_link="project"),
    # --- reference lists (unpaginated, in position order) --------------------------------------------------------
    Endpoint("statuses", paginated=False),
    Endpoint("types", paginated=False),
    Endpoint("priorities", paginated=False),
    Endpoint("roles", paginated=False),
    Endpoint("versions", paginated=False, project_link="definingProject"),
    # --- resources reachable by id only ------------------------------------------------------------------------
    Route("/api/v3/categories/{id:int}", h.single("categories")),
    Route("/api/v3/custom_options/{id:int}", h.single("custom_options")),
    Route("/api/v3/activities/{id:int}", h.single("activities")),
    Route("/api/v3/attachments/{id:int}", h.single("attachments")),
    Route("/api/v3/project_statuses/on_track", h.project_status_on_track),
    # --- 16.x/17.x: planning, storage, configuration (data in data_planning.py; filters from paths/*.yml) ------
    Endpoint("sprints", filters={"defining_workspace": FilterField("ids", h.linked("definingWorkspace"),
                                                                   "Defining workspace")},
             project_link="definingWorkspace"),
    Route("/api/v3/projects/{project:int}/sprints", planning.project_sprints),
    Endpoint("project_phase_definitions"),
    Endpoint("labels", paginated=False),  # sorted by name: the ids are in name order
    Route("/api/v3/projects/{project:int}/budgets", planning.project_budgets),
    Route("/api/v3/budgets/{id:int}", h.single("budgets")),
    Endpoint("storages", paginated=False),
    Endpoint("project_storages", paginated=False, filters={
        "project_id": project_filter("project"), "storage_id": FilterField("ids", h.linked("storage"), "Storage")},
        project_link="project"),
    Endpoint("queries", paginated=False, filters={
        "project": project_filter("project"), "id": FilterField("ids", lambda q: q["id"], "ID"),
        "updated_at": UPDATED_AT}, project_link="project"),
    Endpoint("views", filters={"project": project_filter("project"), "id": FilterField("ids", lambda v: v["id"], "ID")},
             project_link="project"),
    Endpoint("help_texts", paginated=False),
    # --- OpenProject 17: what meetings and work packages hold, the calendar, custom field items -------------------
    Route("/api/v3/work_packages/{id:int}/watchers", wp.derived("watchers")),
    Route("/api/v3/work_packages/{id:int}/file_links", wp.derived("file_links")),
    Route("/api/v3/meetings/{id:int}/sections", ch.meeting_sections),
    Route("/api/v3/meetings/{id:int}/agenda_items", ch.meeting_agenda_items),
    Route("/api/v3/meetings/{meeting:int}/agenda_items/{id:int}", ch.meeting_agenda_item),
    Route("/api/v3/meetings/{meeting:int}/agenda_items/{id:int}/outcomes", ch.agenda_item_outcomes),
    Route("/api/v3/meeting_sections/{id:int}", h.single("meeting_sections")),
    Route("/api/v3/meeting_agenda_items/{id:int}", h.single("meeting_agenda_items")),
    Route("/api/v3/meeting_outcomes/{id:int}", h.single("meeting_outcomes")),
    Route("/api/v3/days/non_working", ch.non_working_days),
    Route("/api/v3/days/week", ch.week_days),
    Route("/api/v3/days/week/{id:int}", h.single("week_days")),
    Route("/api/v3/custom_fields/{id:int}", h.single("custom_fields")),
    Route("/api/v3/custom_fields/{id:int}/items", ch.custom_field_items),
    Route("/api/v3/custom_field_items/{id:int}", h.single("custom_field_items")),
])
