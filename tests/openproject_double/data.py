"""Deterministic, realistic OpenProject data: the Dataset recipe and the generators behind it.

Work packages are kept as compact :class:`WorkPackageRow` objects (the fields the server filters and sorts
on) and rendered into full API dicts only when served, so 100,000 of them generate in well under a second.
Activities and attachments are derived on demand from the work package id.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from .resources import (
    UNDISCLOSED,
    UTC,
    action,
    duration_hours,
    formattable,
    href,
    iso_datetime,
    link,
)

#: The newest generated timestamp; generated data spreads over the two years before it.
DATA_END = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
DATA_SPAN = timedelta(days=730)

# (id, name, isClosed, color)
STATUSES = [
    (1, "New", False, "#1A67A3"),
    (2, "In progress", False, "#CC5DE8"),
    (3, "On hold", False, "#F59F00"),
    (4, "Resolved", True, "#5C940D"),
    (5, "Closed", True, "#868E96"),
    (6, "Rejected", True, "#E03131"),
]
OPEN_STATUS_IDS = frozenset(s[0] for s in STATUSES if not s[2])
CLOSED_STATUS_IDS = frozenset(s[0] for s in STATUSES if s[2])
# (id, name, color, isMilestone)
TYPES = [(1, "Task", "#1A67A3", False), (2, "Milestone", "#35C53F", True), (3, "Bug", "#C92A2A", False),
         (4, "Feature", "#336699", False)]
# (id, name, color)
PRIORITIES = [(7, "Low", "#C5F6FA"), (8, "Normal", "#74C0FC"), (9, "High", "#FF922B"), (10, "Immediate", "#E03131")]
ROLES = [(3, "Member"), (4, "Reader"), (5, "Project admin")]
TIME_ENTRY_ACTIVITIES = [(1, "Management"), (2, "Specification"), (3, "Development"), (4, "Testing")]
# Custom options: 1-4 belong to customField7 (single list), 5-8 to customField8 (multi list).
CUSTOM_OPTIONS = [(1, 7, "Low impact"), (2, 7, "Medium impact"), (3, 7, "High impact"), (4, 7, "Critical"),
                  (5, 8, "Frontend"), (6, 8, "Backend"), (7, 8, "API"), (8, 8, "Documentation")]

#: Work package custom fields: id -> (schema type, human name, rendered as link?)
WP_CUSTOM_FIELDS: dict[int, tuple[str, str, bool]] = {
    1: ("String", "Customer reference", False),
    2: ("Integer", "Story points (legacy)", False),
    3: ("Float", "Cost factor", False),
    4: ("Boolean", "Billable", False),
    5: ("Date", "Go-live date", False),
    6: ("Formattable", "Acceptance criteria", False),
    7: ("CustomOption", "Impact", True),
    8: ("[]CustomOption", "Components", True),
    9: ("User", "Reviewer", True),
    10: ("Version", "Target release", True),
    # Values are items of a tree (/api/v3/custom_fields/{id}/items, see data_children.py); 14 is a weighted item list.
    13: ("CustomField::Hierarchy::Item", "Region", True),
    14: ("[]CustomField::Hierarchy::Item", "Risk weights", True),
}
#: Custom fields of other resources, served in their /schema endpoints.
PROJECT_CUSTOM_FIELDS: dict[int, tuple[str, str, bool]] = {12: ("String", "Cost center", False)}
TIME_ENTRY_CUSTOM_FIELDS: dict[int, tuple[str, str, bool]] = {11: ("String", "Invoice number", False)}

PROJECT_NAMES = ["Website relaunch", "Mobile app", "Data platform", "Customer portal", "Internal tools",
                 "Security audit", "Marketing campaign", "Infrastructure", "Research", "Support desk"]
FIRST_NAMES = ["Admin", "Alice", "Bob", "Carla", "Deniz", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jonas",
               "Kemal", "Lena", "Mateo", "Nora"]
LAST_NAMES = ["Istrator", "Meyer", "Novak", "Rossi", "Yilmaz", "Dubois", "Haddad", "Hopper", "Tanaka",
              "Silva", "Berg", "Aydin", "Fischer", "Garcia", "Olsen"]
VERBS = ["Fix", "Implement", "Review", "Design", "Document", "Refactor", "Test", "Deploy", "Migrate", "Plan"]
NOUNS = ["login form", "export", "search index", "billing run", "API client", "dashboard", "onboarding",
         "backup job", "release notes", "permissions", "email digest", "audit log"]

ANONYMOUS_USER_ID = 2  # as in a fresh OpenProject database: 1 admin, 2 anonymous, 3 system


def _hash(seed: int, ident: int, salt: int = 0) -> int:
    """A cheap deterministic integer hash (Knuth multiplicative) for per-id choices."""
    return ((ident * 2654435761) ^ (seed * 40503) ^ (salt * 97531)) & 0xFFFFFFFF


def subject_for(seed: int, wp_id: int) -> str:
    """The generated subject of a work package (cheap, so links to work packages can carry titles)."""
    h = _hash(seed, wp_id)
    return f"{VERBS[h % len(VERBS)]} {NOUNS[(h // 11) % len(NOUNS)]} #{wp_id}"


@dataclass
class WorkPackageRow:
    """The mutable core of one work package: everything the server filters, sorts or links on."""

    id: int
    project_id: int
    type_id: int
    status_id: int
    priority_id: int
    author_id: int
    assignee_id: int | None
    parent_id: int | None
    created_at: datetime
    updated_at: datetime
    lock_version: int = 0
    journals_added: int = 0
    props: dict[str, Any] = field(default_factory=dict)  # API-shape overrides applied on render
    links: dict[str, Any] = field(default_factory=dict)  # _links overrides applied on render


@dataclass(frozen=True)
class Dataset:
    """The recipe of a generated OpenProject instance; every double built from it gets its own copy.

    Generation is deterministic for a given seed and cheap; the data itself is materialised by
    :func:`generate_collections` when a store is built.
    """

    work_packages: int = 50
    projects: int = 4
    users: int = 6
    seed: int = 1
    groups: int = 2
    placeholder_users: int = 2

    @classmethod
    def generate(cls, work_packages: int = 50, projects: int = 4, users: int = 6, seed: int = 1,
                 groups: int = 2, placeholder_users: int = 2) -> Dataset:
        """Describe a dataset; sizes must leave every collection non-empty."""
        if work_packages < 1 or projects < 1 or users < 2 or groups < 1 or placeholder_users < 1:
            raise ValueError("need >= 1 work package, project, group and placeholder user and >= 2 users")
        return cls(work_packages=work_packages, projects=projects, users=users, seed=seed, groups=groups,
                   placeholder_users=placeholder_users)

    @property
    def user_ids(self) -> list[int]:
        """User ids: 1 is the admin owning the API key; 2 and 3 are the anonymous and system users."""
        return [1] + list(range(4, 4 + self.users - 1))


def _pick(rng: random.Random, n: int) -> int:
    """A fast uniform index in range(n) (random.randrange is several times slower in hot loops)."""
    return int(rng.random() * n)


def _stamp(rng: random.Random, start: datetime, end: datetime, millis: bool = True) -> datetime:
    """A random second in [start, end], with milliseconds on about a quarter of the values."""
    span = max(0, int((end - start).total_seconds()))
    value = start + timedelta(seconds=rng.randint(0, span))
    if millis and rng.random() < 0.25:
        value = value.replace(microsecond=rng.randint(1, 999) * 1000)
    return value


def generate_collections(ds: Dataset) -> tuple[dict[str, dict[int, dict[str, Any]]], dict[int, WorkPackageRow]]:
    """Generate every collection of ``ds``: (generic collections as id -> API dict, work package rows)."""
    rng = random.Random(ds.seed)
    start = DATA_END - DATA_SPAN
    c: dict[str, dict[int, dict[str, Any]]] = {}

    c["statuses"] = {
        sid: {"_type": "Status", "id": sid, "name": name, "isClosed": closed, "color": color,
              "isDefault": sid == 1, "isReadonly": sid == 5, "excludedFromTotals": False,
              "defaultDoneRatio": 100 if closed else 0, "position": sid,
              "_links": {"self": link("statuses", sid, name)}}
        for sid, name, closed, color in STATUSES}
    c["types"] = {
        tid: {"_type": "Type", "id": tid, "name": name, "ownName": name, "color": color, "position": pos,
              "isDefault": tid == 1, "isMilestone": milestone, "createdAt": iso_datetime(start),
              "updatedAt": iso_datetime(start),
              "_links": {"self": link("types", tid, name), "parent": {"href": None}}}
        for pos, (tid, name, color, milestone) in enumerate(TYPES, 1)}
    c["priorities"] = {
        pid: {"_type": "Priority", "id": pid, "name": name, "position": pos, "color": color,
              "isDefault": pid == 8, "isActive": True, "_links": {"self": link("priorities", pid, name)}}
        for pos, (pid, name, color) in enumerate(PRIORITIES, 1)}
    c["roles"] = {rid: {"_type": "Role", "id": rid, "name": name, "_links": {"self": link("roles", rid, name)}}
                  for rid, name in ROLES}
    c["time_entry_activities"] = {
        aid: {"_type": "TimeEntriesActivity", "id": aid, "name": name, "position": aid, "default": aid == 3,
              "_links": {"self": link("time_entries/activities", aid, name)}}
        for aid, name in TIME_ENTRY_ACTIVITIES}
    c["custom_options"] = {
        oid: {"_type": "CustomOption", "id": oid, "value": value, "_links": {"self": link("custom_options", oid, value)}}
        for oid, _cf, value in CUSTOM_OPTIONS}

    # --- principals -------------------------------------------------------------------------------------
    users: dict[int, dict[str, Any]] = {}
    for n, uid in enumerate(ds.user_ids):
        first, last = FIRST_NAMES[n % len(FIRST_NAMES)], LAST_NAMES[n % len(LAST_NAMES)]
        if n >= len(FIRST_NAMES):
            last = f"{last} {n}"
        login = "admin" if uid == 1 else f"{first.lower()}.{last.lower().replace(' ', '')}"
        created = _stamp(rng, start, start + timedelta(days=60))
        users[uid] = {
            "_type": "User", "id": uid, "login": login, "firstName": first, "lastName": last,
            "name": f"{first} {last}", "email": f"{login}@example.org", "admin": uid == 1,
            "avatar": f"https://www.gravatar.com/avatar/{uid:032x}?default=404&secure=true",
            "status": "locked" if n == ds.users - 1 and n > 1 else "active", "language": "en",
            "createdAt": iso_datetime(created), "updatedAt": iso_datetime(_stamp(rng, created, DATA_END)),
            "_links": {"self": link("users", uid, f"{first} {last}"),
                       "memberships": {"href": f'/api/v3/memberships?filters=[{{"principal":{{"operator":"=","values":["{uid}"]}}}}]',
                                       "title": "Memberships"},
                       "showUser": {"href": f"/users/{uid}", "type": "text/html"},
                       "lock": action(f"/api/v3/users/{uid}/lock", "post"),
                       "delete": action(href("users", uid), "delete")}}
    c["users"] = users
    next_principal = max(ds.user_ids) + 1
    user_list = ds.user_ids
    groups: dict[int, dict[str, Any]] = {}
    for n in range(ds.groups):
        gid = next_principal
        next_principal += 1
        name = ["Developers", "Stakeholders", "Support", "Design"][n % 4] + ("" if n < 4 else f" {n}")
        members = sorted(rng.sample(user_list, k=min(len(user_list), 2 + n % 2)))
        created = _stamp(rng, start, start + timedelta(days=90))
        groups[gid] = {
            "_type": "Group", "id": gid, "name": name, "createdAt": iso_datetime(created),
            "updatedAt": iso_datetime(_stamp(rng, created, DATA_END)),
            "_links": {"self": link("groups", gid, name),
                       "members": [link("users", m, users[m]["name"]) for m in members],
                       "delete": action(href("groups", gid), "delete")}}
    c["groups"] = groups
    placeholders: dict[int, dict[str, Any]] = {}
    for n in range(ds.placeholder_users):
        pid = next_principal
        next_principal += 1
        name = f"Future hire {n + 1}"
        created = _stamp(rng, start, DATA_END - timedelta(days=30))
        placeholders[pid] = {
            "_type": "PlaceholderUser", "id": pid, "name": name, "status": "active", "createdAt": iso_datetime(created),
            "updatedAt": iso_datetime(_stamp(rng, created, DATA_END)),
            "_links": {"self": link("placeholder_users", pid, name),
                       "delete": action(href("placeholder_users", pid), "delete")}}
    c["placeholder_users"] = placeholders

    # --- projects, categories, versions --------------------------------------------------------------------
    projects: dict[int, dict[str, Any]] = {}
    categories: dict[int, dict[str, Any]] = {}
    versions: dict[int, dict[str, Any]] = {}
    for pid in range(1, ds.projects + 1):
        name = PROJECT_NAMES[(pid - 1) % len(PROJECT_NAMES)] + ("" if pid <= len(PROJECT_NAMES) else f" {pid}")
        parent = 1 if pid == 2 else None
        created = _stamp(rng, start, start + timedelta(days=30))
        identifier = f"project-{pid}"
        projects[pid] = {
            "_type": "Project", "id": pid, "identifier": identifier, "name": name, "active": True,
            "public": pid % 2 == 1,
            "description": formattable(f"All work for *{name}*."),
            "statusExplanation": formattable("On schedule." if pid % 3 else ""),
            "createdAt": iso_datetime(created), "updatedAt": iso_datetime(_stamp(rng, created, DATA_END)),
            "customField12": f"CC-{1000 + pid}" if pid % 4 else None,
            "customComment12": "Agreed with finance" if pid % 2 else None,  # 17.x: a comment on the field
            "_links": {
                "self": link("projects", pid, name),
                "parent": link("projects", parent, projects[parent]["name"] if parent else None),
                "ancestors": [link("projects", parent, projects[parent]["name"])] if parent else [],
                "status": {"href": "/api/v3/project_statuses/on_track", "title": "On track"},
                "categories": {"href": f"/api/v3/projects/{pid}/categories"},
                "versions": {"href": f"/api/v3/projects/{pid}/versions"},
                "memberships": {"href": f'/api/v3/memberships?filters=[{{"project":{{"operator":"=","values":["{pid}"]}}}}]'},
                "types": {"href": f"/api/v3/projects/{pid}/types"},
                "workPackages": {"href": f"/api/v3/projects/{pid}/work_packages"},
                "update": action(f"/api/v3/projects/{pid}/form", "post"),
                "updateImmediately": action(href("projects", pid), "patch"),
                "delete": action(href("projects", pid), "delete"),
            }}
        for _ in range(rng.randint(1, 3)):
            cid = len(categories) + 1
            cname = ["Backend", "Frontend", "Operations", "Content", "UX"][cid % 5] + f" {pid}"
            categories[cid] = {"_type": "Category", "id": cid, "name": cname,
                               "_links": {"self": link("categories", cid, cname),
                                          "project": link("projects", pid, name),
                                          "defaultAssignee": link("users", rng.choice(user_list))
                                          if rng.random() < 0.5 else {"href": None}}}
        for n in range(rng.randint(1, 2)):
            vid = len(versions) + 1
            vname = f"{pid}.{n + 1}"
            vstart = date(2024, 1 + (vid % 12), 1)
            vcreated = _stamp(rng, created, DATA_END)
            versions[vid] = {
                "_type": "Version", "id": vid, "name": vname, "description": formattable(f"Release {vname}"),
                "startDate": vstart.isoformat(), "endDate": (vstart + timedelta(days=90)).isoformat(),
                "status": "closed" if n == 0 and pid % 2 == 0 else "open", "sharing": "none",
                "createdAt": iso_datetime(vcreated), "updatedAt": iso_datetime(_stamp(rng, vcreated, DATA_END)),
                "_links": {"self": link("versions", vid, vname), "definingProject": link("projects", pid, name),
                           "availableInProjects": {"href": f"/api/v3/versions/{vid}/projects"}}}
    for cat in categories.values():
        uid_link = cat["_links"]["defaultAssignee"]
        if uid_link.get("href"):
            uid = int(uid_link["href"].rsplit("/", 1)[-1])
            uid_link["title"] = users[uid]["name"]
    c["projects"], c["categories"], c["versions"] = projects, categories, versions

    # --- work packages (compact rows) -------------------------------------------------------------------
    rows: dict[int, WorkPackageRow] = {}
    by_project: dict[int, list[int]] = {pid: [] for pid in projects}
    project_ids = list(projects)
    open_ids, closed_ids = sorted(OPEN_STATUS_IDS), sorted(CLOSED_STATUS_IDS)
    span_s = int(DATA_SPAN.total_seconds())
    for wid in range(1, ds.work_packages + 1):
        pid = project_ids[_pick(rng, len(project_ids))]
        siblings = by_project[pid]
        parent = siblings[-1 - _pick(rng, min(len(siblings), 20))] if siblings and rng.random() < 0.2 else None
        created = start + timedelta(seconds=_pick(rng, span_s))
        updated = created + timedelta(seconds=_pick(rng, max(1, int((DATA_END - created).total_seconds()))))
        if rng.random() < 0.25:
            updated = updated.replace(microsecond=rng.randint(1, 999) * 1000)
        rows[wid] = WorkPackageRow(
            id=wid, project_id=pid, type_id=TYPES[_pick(rng, 4)][0],
            status_id=closed_ids[_pick(rng, 3)] if rng.random() < 0.3 else open_ids[_pick(rng, 3)],
            priority_id=PRIORITIES[_pick(rng, 4)][0], author_id=user_list[_pick(rng, len(user_list))],
            assignee_id=user_list[_pick(rng, len(user_list))] if rng.random() < 0.8 else None,
            parent_id=parent, created_at=created, updated_at=updated, lock_version=rng.randint(0, 6))
        siblings.append(wid)
    # A bulk edit: several work packages saved within the same second (the incremental-sync trap).
    burst_at = DATA_END - timedelta(days=3, hours=2)
    burst_ids = sorted(rows)[-min(len(rows), 7):]
    for n, wid in enumerate(burst_ids):
        row = rows[wid]
        row.created_at = min(row.created_at, burst_at - timedelta(days=1))
        row.updated_at = burst_at.replace(microsecond=(n * 111 % 1000) * 1000)
        row.status_id = 2 if n % 3 else 1  # open, so the burst is visible without filters

    # --- other collections (sizes scale mildly with the number of work packages) ----------------------------
    wp_ids = list(rows)
    relation_types = [("relates", "relates", "related to"), ("blocks", "blocked", "blocks"),
                      ("precedes", "follows", "precedes"), ("duplicates", "duplicated", "duplicates"),
                      ("includes", "partof", "includes")]
    relations: dict[int, dict[str, Any]] = {}
    for rid in range(1, max(1, ds.work_packages // 5) + 1):
        a = wp_ids[_pick(rng, len(wp_ids))]
        b = wp_ids[_pick(rng, len(wp_ids))]
        if a == b:
            b = a + 1 if a + 1 in rows else wp_ids[0]
        rtype, reverse, name = relation_types[_pick(rng, len(relation_types))]
        relations[rid] = {
            "_type": "Relation", "id": rid, "name": name, "type": rtype, "reverseType": reverse,
            "description": "Found during planning" if rng.random() < 0.3 else None,
            "lag": rng.randint(0, 3) if rtype in ("precedes", "follows") else 0,
            "_links": {"self": {"href": href("relations", rid)},
                       "from": link("work_packages", a, subject_for(ds.seed, a)),
                       "to": link("work_packages", b, subject_for(ds.seed, b)),
                       "updateImmediately": action(href("relations", rid), "patch"),
                       "delete": action(href("relations", rid), "delete")}}
    c["relations"] = relations

    time_entries: dict[int, dict[str, Any]] = {}
    # Hot loop (wps / 2 entries): titles and hours texts are precomputed, randoms drawn with _pick.
    project_titles = {pid: p["name"] for pid, p in projects.items()}
    hours_texts = [duration_hours(q / 4) for q in range(1, 33)]
    twenty_days = 20 * 86400
    end_s = DATA_END.timestamp()
    for tid in range(1, max(1, ds.work_packages // 2) + 1):
        row = rows[wp_ids[_pick(rng, len(wp_ids))]]
        uid = user_list[_pick(rng, len(user_list))]
        aid, aname = TIME_ENTRY_ACTIVITIES[_pick(rng, 4)]
        created_s = row.created_at.timestamp()
        created = row.created_at + timedelta(seconds=_pick(rng, max(1, int(end_s - created_s))))
        updated = created + timedelta(seconds=_pick(rng, max(1, int(min(twenty_days, end_s - created.timestamp())))))
        if rng.random() < 0.25:
            updated = updated.replace(microsecond=(1 + _pick(rng, 999)) * 1000)
        te_href = f"/api/v3/time_entries/{tid}"
        time_entries[tid] = {
            "_type": "TimeEntry", "id": tid, "comment": formattable("Worked on it" if rng.random() < 0.7 else ""),
            "spentOn": created.date().isoformat(), "hours": hours_texts[_pick(rng, 32)],
            "ongoing": False, "createdAt": iso_datetime(created), "updatedAt": iso_datetime(updated),
            "customField11": f"INV-{100 + _pick(rng, 900)}" if rng.random() < 0.5 else None,
            "_links": {"self": {"href": te_href},
                       "project": {"href": f"/api/v3/projects/{row.project_id}",
                                   "title": project_titles[row.project_id]},
                       "workPackage": {"href": f"/api/v3/work_packages/{row.id}",
                                       "title": subject_for(ds.seed, row.id)},
                       "user": {"href": f"/api/v3/users/{uid}", "title": users[uid]["name"]},
                       "activity": {"href": f"/api/v3/time_entries/activities/{aid}", "title": aname},
                       "updateImmediately": {"href": te_href, "method": "patch"},
                       "delete": {"href": te_href, "method": "delete"}}}
    c["time_entries"] = time_entries

    principal_titles = {**{u: d["name"] for u, d in users.items()}, **{g: d["name"] for g, d in groups.items()},
                        **{p: d["name"] for p, d in placeholders.items()}}
    principal_kind = {**{u: "users" for u in users}, **{g: "groups" for g in groups},
                      **{p: "placeholder_users" for p in placeholders}}
    memberships: dict[int, dict[str, Any]] = {}
    principals = sorted(principal_titles)
    for pid, project in projects.items():
        for principal in rng.sample(principals, k=min(3, len(principals))):
            mid = len(memberships) + 1
            role_ids = sorted(rng.sample([r[0] for r in ROLES], k=rng.randint(1, 2)))
            created = _stamp(rng, start, DATA_END)
            memberships[mid] = {
                "_type": "Membership", "id": mid, "createdAt": iso_datetime(created),
                "updatedAt": iso_datetime(_stamp(rng, created, DATA_END)),
                "_links": {"self": {"href": href("memberships", mid), "title": principal_titles[principal]},
                           "project": link("projects", pid, project["name"]),
                           "principal": link(principal_kind[principal], principal, principal_titles[principal]),
                           "roles": [link("roles", r, ROLES[r - 3][1]) for r in role_ids],
                           "update": action(f"/api/v3/memberships/{mid}/form", "post"),
                           "delete": action(href("memberships", mid), "delete")}}
    c["memberships"] = memberships

    news: dict[int, dict[str, Any]] = {}
    documents: dict[int, dict[str, Any]] = {}
    meetings: dict[int, dict[str, Any]] = {}
    for pid, project in projects.items():
        plink = link("projects", pid, project["name"])
        for n in range(2):
            nid = len(news) + 1
            author = user_list[rng.randrange(len(user_list))]
            news[nid] = {"_type": "News", "id": nid, "title": f"{project['name']} update {n + 1}",
                         "summary": "What changed this month", "description": formattable("Details follow."),
                         "createdAt": iso_datetime(_stamp(rng, start, DATA_END)),
                         "_links": {"self": link("news", nid, f"{project['name']} update {n + 1}"),
                                    "project": plink, "author": link("users", author, users[author]["name"])}}
        for n in range(1 + pid % 2):
            did = len(documents) + 1
            documents[did] = {"_type": "Document", "id": did, "title": f"Specification {pid}.{n + 1}",
                              "description": formattable("The agreed scope."),
                              "createdAt": iso_datetime(_stamp(rng, start, DATA_END)),
                              "_links": {"self": link("documents", did, f"Specification {pid}.{n + 1}"),
                                         "project": plink, "attachments": {"href": f"/api/v3/documents/{did}/attachments"}}}
        for n in range(2):
            mid = len(meetings) + 1
            begin = _stamp(rng, start, DATA_END, millis=False).replace(minute=0, second=0)
            hours = [0.5, 1.0, 1.5][rng.randrange(3)]
            author = user_list[rng.randrange(len(user_list))]
            created = begin - timedelta(days=7)
            meetings[mid] = {"_type": "Meeting", "id": mid, "title": f"Weekly sync {pid}.{n + 1}",
                             "startTime": iso_datetime(begin), "endTime": iso_datetime(begin + timedelta(hours=hours)),
                             "duration": hours, "location": "Room 4" if n else "https://meet.example.org/sync",
                             "lockVersion": rng.randint(0, 3), "createdAt": iso_datetime(created),
                             "updatedAt": iso_datetime(_stamp(rng, created, begin)),
                             "_links": {"self": link("meetings", mid, f"Weekly sync {pid}.{n + 1}"),
                                        "project": plink, "author": link("users", author, users[author]["name"])}}
    c["news"], c["documents"], c["meetings"] = news, documents, meetings
    return c, rows


Lookup = Callable[[str, int], dict[str, Any] | None]


def render_work_package(row: WorkPackageRow, seed: int, lookup: Lookup, children: list[int],
                        ancestors: list[int], versions: list[dict[str, Any]], categories: list[dict[str, Any]],
                        user_ids: list[int]) -> dict[str, Any]:
    """The full API representation of a work package (deterministic from the row and the seed)."""
    rng = random.Random(seed * 1_000_003 + row.id)
    wid = row.id

    def title(coll: str, ident: int | None, key: str = "name") -> str | None:
        found = lookup(coll, ident) if ident is not None else None
        return None if found is None else str(found.get(key))

    project_name = title("projects", row.project_id)
    milestone = row.type_id == 2
    start_day = row.created_at.date() + timedelta(days=rng.randint(0, 20))
    days = 1 if milestone else rng.randint(1, 15)
    due_day = start_day + timedelta(days=days - 1)
    estimated = rng.choice([None, 1, 2, 4, 8, 16]) if not milestone else None
    done = 100 if row.status_id in CLOSED_STATUS_IDS else rng.choice([0, 0, 10, 30, 50, 80])
    version = rng.choice(versions) if versions and rng.random() < 0.6 else None
    category = rng.choice(categories) if categories and rng.random() < 0.5 else None
    responsible_roll = rng.random()
    cf9_user = rng.choice(user_ids) if user_ids and rng.random() < 0.6 else None

    props: dict[str, Any] = {
        "_type": "WorkPackage", "id": wid, "lockVersion": row.lock_version,
        "subject": subject_for(seed, wid),
        "description": formattable(f"As a user I want to {subject_for(seed, wid).lower()}." if rng.random() < 0.8 else ""),
        "scheduleManually": rng.random() < 0.2,
        "startDate": None if milestone else start_day.isoformat(),
        "dueDate": None if milestone else due_day.isoformat(),
        "derivedStartDate": None, "derivedDueDate": None,
        "duration": None if milestone else f"P{days}D",
        "estimatedTime": duration_hours(estimated) if estimated else None,
        "derivedEstimatedTime": None,
        "remainingTime": duration_hours(estimated / 2) if estimated else None,
        "derivedRemainingTime": None,
        "spentTime": "PT0S",
        "ignoreNonWorkingDays": milestone,
        "percentageDone": done, "derivedPercentageDone": None,
        "readonly": row.status_id == 5,
        "createdAt": iso_datetime(row.created_at), "updatedAt": iso_datetime(row.updated_at),
        "customField1": f"CUST-{rng.randint(1000, 9999)}" if rng.random() < 0.7 else None,
        "customField2": rng.randint(0, 40) if rng.random() < 0.6 else None,
        "customField3": round(rng.uniform(0.5, 3.0), 2) if rng.random() < 0.5 else None,
        "customField4": rng.random() < 0.5 if rng.random() < 0.8 else None,
        "customField5": (start_day + timedelta(days=30)).isoformat() if rng.random() < 0.4 else None,
        "customField6": formattable("- works offline\n- exports CSV") if rng.random() < 0.5 else formattable(None),
    }
    if milestone:
        props["date"] = start_day.isoformat()
    cf7 = rng.choice([1, 2, 3, 4]) if rng.random() < 0.6 else None
    cf8 = sorted(rng.sample([5, 6, 7, 8], k=rng.randint(0, 2)))
    wp_href = href("work_packages", wid)
    links: dict[str, Any] = {
        "self": {"href": wp_href, "title": props["subject"]},
        "schema": {"href": f"/api/v3/work_packages/schemas/{row.project_id}-{row.type_id}"},
        "project": link("projects", row.project_id, project_name),
        "type": link("types", row.type_id, title("types", row.type_id)),
        "status": link("statuses", row.status_id, title("statuses", row.status_id)),
        "priority": link("priorities", row.priority_id, title("priorities", row.priority_id)),
        "author": link("users", row.author_id, title("users", row.author_id)),
        "assignee": link("users", row.assignee_id, title("users", row.assignee_id)),
        "responsible": ({"href": UNDISCLOSED, "title": "Undisclosed - The selected user is not visible "
                                                          "because of lack of permissions."}
                        if responsible_roll < 0.1 else
                        link("users", 1, title("users", 1)) if responsible_roll < 0.4 else {"href": None}),
        "version": link("versions", version["id"], version["name"]) if version else {"href": None},
        "category": link("categories", category["id"], category["name"]) if category else {"href": None},
        "budget": {"href": None},
        "parent": link("work_packages", row.parent_id, subject_for(seed, row.parent_id))
        if row.parent_id else {"href": None, "title": None},
        "ancestors": [link("work_packages", a, subject_for(seed, a)) for a in ancestors],
        "children": [link("work_packages", ch, subject_for(seed, ch)) for ch in children],
        "customField7": link("custom_options", cf7, CUSTOM_OPTIONS[cf7 - 1][2]) if cf7 else {"href": None},
        "customField8": [link("custom_options", o, CUSTOM_OPTIONS[o - 1][2]) for o in cf8],
        "customField9": link("users", cf9_user, title("users", cf9_user)) if cf9_user else {"href": None},
        "customField10": link("versions", version["id"], version["name"]) if version and rng.random() < 0.5
        else {"href": None},
        # 17.x: sprints and project phases (derived from the id, so the random sequence above is unchanged)
        "sprint": link("sprints", 1 + wid % 3, f"Sprint {1 + wid % 3}") if wid % 5 == 0 else {"href": None},
        "projectPhase": link("project_phases", 10 * row.project_id + 2, "Executing") if wid % 7 == 0
        else {"href": None},
        "projectPhaseDefinition": link("project_phase_definitions", 2, "Executing") if wid % 7 == 0
        else {"href": None},
        "activities": {"href": f"{wp_href}/activities"},
        "attachments": {"href": f"{wp_href}/attachments"},
        "relations": {"href": f"{wp_href}/relations"},
        "watchers": {"href": f"{wp_href}/watchers"},
        "update": action(f"{wp_href}/form", "post"),
        "updateImmediately": action(wp_href, "patch"),
        "delete": action(wp_href, "delete"),
        "logTime": {"href": "/api/v3/time_entries", "method": "post", "title": f"Log time on {props['subject']}"},
        "move": {"href": f"/work_packages/{wid}/move/new", "type": "text/html", "title": f"Move {props['subject']}"},
        "addComment": action(f"{wp_href}/activities", "post"),
        "addWatcher": {"href": f"{wp_href}/watchers", "method": "post",
                       "payload": {"user": {"href": "/api/v3/users/{user_id}"}}, "templated": True},
        "addRelation": action(f"{wp_href}/relations", "post"),
    }
    props.update(row.props)
    links.update(row.links)
    props["_links"] = links
    return props


def activities_for(row: WorkPackageRow, seed: int, lookup: Lookup) -> list[dict[str, Any]]:
    """The journals of a work package, derived from its id (1-4 generated plus one per store touch).

    Activity ids are ``wp_id * 100 + version`` so they are globally unique and map back to their work package.
    """
    rng = random.Random(seed * 7_000_003 + row.id)
    generated = rng.randint(1, 4)
    total = min(99, generated + row.journals_added)
    span = max(1, int((row.updated_at - row.created_at).total_seconds()))
    out = []
    for k in range(total):
        aid = row.id * 100 + k + 1
        at = row.created_at if k == 0 else (
            row.updated_at if k == total - 1 else row.created_at + timedelta(seconds=span * k // total))
        uid = row.author_id if k == 0 else (row.assignee_id or row.author_id)
        user = lookup("users", uid)
        comment = f"Comment {k} on #{row.id}" if k and rng.random() < 0.5 else ""
        out.append({
            "_type": "Activity::Comment" if comment else "Activity", "id": aid, "version": k + 1,
            "comment": formattable(comment),
            "details": [] if k == 0 else [formattable(f"**Status** changed to step {k}")],
            "createdAt": iso_datetime(at), "updatedAt": iso_datetime(at),
            "_links": {"self": {"href": href("activities", aid)},
                       "workPackage": link("work_packages", row.id, subject_for(seed, row.id)),
                       "user": link("users", uid, user["name"] if user else None)}})
    return out


def attachments_for(row: WorkPackageRow, seed: int, lookup: Lookup) -> list[dict[str, Any]]:
    """The attachments of a work package (0-2), derived from its id; attachment id = 2 * wp id + k."""
    rng = random.Random(seed * 9_000_011 + row.id)
    out = []
    for k in range(rng.choice([0, 0, 1, 2])):
        aid = row.id * 2 + k
        name, ctype = [("screenshot.png", "image/png"), ("spec.pdf", "application/pdf"),
                       ("export.csv", "text/csv")][rng.randrange(3)]
        author = lookup("users", row.author_id)
        out.append({
            "_type": "Attachment", "id": aid, "title": name, "fileName": name, "fileSize": rng.randint(1_000, 2_000_000),
            "description": formattable("Attached for reference" if k == 0 else ""), "contentType": ctype,
            "digest": {"algorithm": "md5", "hash": f"{_hash(seed, aid, 7):08x}{_hash(seed, aid, 8):08x}" * 2},
            "status": "uploaded", "createdAt": iso_datetime(row.created_at + timedelta(hours=k + 1)),
            "_links": {"self": {"href": href("attachments", aid), "title": name},
                       "container": link("work_packages", row.id, subject_for(seed, row.id)),
                       "author": link("users", row.author_id, author["name"] if author else None),
                       "downloadLocation": {"href": f"/api/v3/attachments/{aid}/content"},
                       "delete": action(href("attachments", aid), "delete")}})
    return out


def work_package_schema(project: dict[str, Any], type_: dict[str, Any]) -> dict[str, Any]:
    """The schema of work packages of one project/type pair, custom fields included."""
    key = f"{project['id']}-{type_['id']}"

    def field_(kind: str, name: str, *, required: bool = False, writable: bool = True,
               linked: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"type": kind, "name": name, "required": required, "hasDefault": False,
                               "writable": writable, "options": {}}
        if linked:
            out["location"] = "_links"
        return out

    schema: dict[str, Any] = {
        "_type": "Schema", "_dependencies": [],
        "lockVersion": field_("Integer", "Lock Version", required=True, writable=False),
        "id": field_("Integer", "ID", required=True, writable=False),
        "subject": field_("String", "Subject", required=True),
        "description": field_("Formattable", "Description"),
        "scheduleManually": field_("Boolean", "Manual scheduling"),
        "startDate": field_("Date", "Start date"), "dueDate": field_("Date", "Finish date"),
        "derivedStartDate": field_("Date", "Derived start date", writable=False),
        "derivedDueDate": field_("Date", "Derived finish date", writable=False),
        "duration": field_("Duration", "Duration"),
        "estimatedTime": field_("Duration", "Work"),
        "derivedEstimatedTime": field_("Duration", "Derived work", writable=False),
        "remainingTime": field_("Duration", "Remaining work"),
        "derivedRemainingTime": field_("Duration", "Derived remaining work", writable=False),
        "spentTime": field_("Duration", "Spent time", writable=False),
        "ignoreNonWorkingDays": field_("Boolean", "Working days only"),
        "percentageDone": field_("Integer", "% Complete"),
        "derivedPercentageDone": field_("Integer", "Derived % Complete", writable=False),
        "readonly": field_("Boolean", "Read only", writable=False),
        "createdAt": field_("DateTime", "Created on", writable=False),
        "updatedAt": field_("DateTime", "Updated on", writable=False),
        "author": field_("User", "Author", writable=False, linked=True),
        "project": field_("Project", "Project", required=True, linked=True),
        "type": field_("Type", "Type", required=True, linked=True),
        "status": field_("Status", "Status", required=True, linked=True),
        "priority": field_("Priority", "Priority", required=True, linked=True),
        "assignee": field_("User", "Assignee", linked=True),
        "responsible": field_("User", "Accountable", linked=True),
        "version": field_("Version", "Version", linked=True),
        "category": field_("Category", "Category", linked=True),
        "parent": field_("WorkPackage", "Parent", linked=True),
        "budget": field_("Budget", "Budget", linked=True),
    }
    if type_.get("isMilestone"):
        schema["date"] = field_("Date", "Date")
    for cf_id, (kind, name, linked) in WP_CUSTOM_FIELDS.items():
        entry = field_(kind, name, linked=linked)
        if kind in ("CustomOption", "[]CustomOption"):
            entry["_links"] = {"allowedValues": [link("custom_options", oid, value)
                                                 for oid, cf, value in CUSTOM_OPTIONS if cf == cf_id]}
        elif kind.endswith("CustomField::Hierarchy::Item"):
            entry["_links"] = {"allowedValues": {"href": f"/api/v3/custom_fields/{cf_id}/items"}}
        schema[f"customField{cf_id}"] = entry
    schema["_links"] = {"self": {"href": f"/api/v3/work_packages/schemas/{key}"}}
    return schema


def resource_schema(collection: str) -> dict[str, Any]:
    """The /api/v3/<collection>/schema answer: a few core properties plus the resource's custom fields."""
    custom = {"projects": PROJECT_CUSTOM_FIELDS, "time_entries": TIME_ENTRY_CUSTOM_FIELDS}.get(collection, {})
    schema: dict[str, Any] = {
        "_type": "Schema", "_dependencies": [],
        "id": {"type": "Integer", "name": "ID", "required": True, "hasDefault": False, "writable": False},
        "createdAt": {"type": "DateTime", "name": "Created on", "required": True, "hasDefault": False,
                      "writable": False},
    }
    for cf_id, (kind, name, linked) in custom.items():
        entry: dict[str, Any] = {"type": kind, "name": name, "required": False, "hasDefault": False,
                                 "writable": True}
        if linked:
            entry["location"] = "_links"
        schema[f"customField{cf_id}"] = entry
    schema["_links"] = {"self": {"href": f"/api/v3/{collection}/schema"}}
    return schema
