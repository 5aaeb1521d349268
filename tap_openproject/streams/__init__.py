"""The streams, one module per domain; STREAM_TYPES is the tap's catalog in order."""

from __future__ import annotations

from tap_openproject.streams.base import OpenProjectStream
from tap_openproject.streams.calendar import NonWorkingDaysStream, WeekDaysStream
from tap_openproject.streams.collaboration import FileLinksStream, WatchersStream
from tap_openproject.streams.configuration import (
    HelpTextsStream,
    QueriesStream,
    TimeEntryActivitiesStream,
    ViewsStream,
)
from tap_openproject.streams.meetings import MeetingAgendaItemsStream, MeetingOutcomesStream, MeetingSectionsStream
from tap_openproject.streams.people import GroupsStream, PlaceholderUsersStream, PrincipalsStream, UsersStream
from tap_openproject.streams.planning import (
    BudgetsStream,
    LabelsStream,
    ProjectPhaseDefinitionsStream,
    SprintsStream,
)
from tap_openproject.streams.projects import (
    CategoriesStream,
    DocumentsStream,
    MeetingsStream,
    MembershipsStream,
    NewsStream,
    ProjectsStream,
    VersionsStream,
)
from tap_openproject.streams.reference import (
    CustomFieldItemsStream,
    CustomFieldsStream,
    PrioritiesStream,
    RolesStream,
    StatusesStream,
    TypesStream,
)
from tap_openproject.streams.storage import ProjectStoragesStream, StoragesStream
from tap_openproject.streams.work import (
    ActivitiesStream,
    AttachmentsStream,
    RelationsStream,
    TimeEntriesStream,
    WorkPackagesStream,
)

STREAM_TYPES = (
    ProjectsStream,
    CategoriesStream,
    WorkPackagesStream,
    ActivitiesStream,
    AttachmentsStream,
    RelationsStream,
    TimeEntriesStream,
    MembershipsStream,
    VersionsStream,
    NewsStream,
    DocumentsStream,
    MeetingsStream,
    UsersStream,
    GroupsStream,
    PlaceholderUsersStream,
    PrincipalsStream,
    StatusesStream,
    TypesStream,
    PrioritiesStream,
    RolesStream,
    CustomFieldsStream,
    # --- OpenProject 16.x/17.x flat collections (planning, storage, configuration) ---
    SprintsStream,
    ProjectPhaseDefinitionsStream,
    LabelsStream,
    BudgetsStream,
    StoragesStream,
    ProjectStoragesStream,
    ViewsStream,
    QueriesStream,
    HelpTextsStream,
    TimeEntryActivitiesStream,
    # -- OpenProject 17 children and calendar (streams-children) --
    MeetingSectionsStream,
    MeetingAgendaItemsStream,
    MeetingOutcomesStream,
    WatchersStream,
    FileLinksStream,
    NonWorkingDaysStream,
    WeekDaysStream,
    CustomFieldItemsStream,
)

#: The catalog's streams by name.
STREAMS_BY_NAME: dict[str, type[OpenProjectStream]] = {s.name: s for s in STREAM_TYPES}  # type: ignore[misc]

__all__ = ["STREAMS_BY_NAME", "STREAM_TYPES"]
