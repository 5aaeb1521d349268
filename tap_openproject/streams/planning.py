"""Planning (OpenProject 16.x/17.x): sprints, project phase definitions, labels, budgets.

Facts from the API spec (opf/openproject docs/api/apiv3): paths/sprints.yml, project_sprints.yml,
project_phase_definitions.yml, labels.yml, project_budgets.yml and the matching components/schemas/*_model.yml.
None of these collections sorts on updatedAt, so all are FULL_TABLE.
"""

from __future__ import annotations

import typing as t

from tap_openproject.hal import BOOLEAN, DATE, DATETIME, FORMATTABLE, INTEGER, STRING, RecordShape
from tap_openproject.paging.per_project import EveryProject
from tap_openproject.streams.base import OpenProjectStream

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_openproject.paging import Query

_TIMESTAMPS = {"createdAt": DATETIME, "updatedAt": DATETIME}


class SprintsStream(OpenProjectStream):
    """Sprints (17.x), paginated; scoped by the workspace that defines them. `definingWorkspace` may link a
    project, program, portfolio or workspace route: the id is the same whatever the route. `status_id` is the
    status urn (`urn:openproject-org:api:v3:sprints:status:in_planning`, `...:active`, `...:completed`)."""

    name = "sprints"
    path = "/sprints"
    project_filter = "definingWorkspace"
    shape = RecordShape(
        properties={
            "name": STRING,
            "description": FORMATTABLE,
            "startDate": DATE,
            "finishDate": DATE,
            "startedAt": DATETIME,
            "completedAt": DATETIME,
            **_TIMESTAMPS,
        },
        links=("definingWorkspace", "status"),
        string_id_links=frozenset({"status"}),
    )


class ProjectPhaseDefinitionsStream(OpenProjectStream):
    """The instance's project phase definitions (16.x), with their start and finish gates."""

    name = "project_phase_definitions"
    path = "/project_phase_definitions"
    shape = RecordShape(
        properties={
            "name": STRING,
            "startGate": BOOLEAN,
            "startGateName": STRING,
            "finishGate": BOOLEAN,
            "finishGateName": STRING,
            **_TIMESTAMPS,
        }
    )


class LabelsStream(OpenProjectStream):
    """Work package labels (17.x): one unpaginated list for the whole instance, sorted by name."""

    name = "labels"
    path = "/labels"
    shape = RecordShape(properties={"name": STRING, **_TIMESTAMPS})


class BudgetsStream(OpenProjectStream):
    """Budgets of each project (there is no global list): /projects/{id}/budgets for every project, or for the
    scoped ones. A budget does not link its project: `project_id` is the project it was listed under. A project
    without the budgets module answers 404 and has none."""

    name = "budgets"
    path = "/projects/{project_id}/budgets"
    reader = EveryProject()
    shape = RecordShape(
        properties={"subject": STRING},
        extra={"project_id": {**INTEGER, "description": "The project whose budgets list holds this budget."}},
    )

    def query(self, context: Context | None) -> Query:
        """The route stays a template: the reader fills it for each project."""
        return super().query({**(context or {}), "project_id": "{project_id}"})
