"""Project scoping: project_ids and project_identifiers restrict every project-scoped stream, on the server side
where the endpoint has a project filter, and the delivered record sets are exactly the scoped ones."""

from __future__ import annotations

import json
import typing as t

from tests.helpers import API_KEY, clean_env, config_for, parse_messages, run_cli, run_sync, write_config

SCOPE = (2, 3)
SCOPE_VALUES = [str(p) for p in SCOPE]
#: Streams whose endpoint filters by project on the server: stream -> (path, filter name).
SERVER_SCOPED = {
    "projects": ("/api/v3/projects", "id"),
    "work_packages": ("/api/v3/work_packages", "project"),
    "time_entries": ("/api/v3/time_entries", "project"),
    "memberships": ("/api/v3/memberships", "project"),
    "news": ("/api/v3/news", "project_id"),
    "documents": ("/api/v3/documents", "project_id"),
    "meetings": ("/api/v3/meetings", "project_id"),
}
#: The versions collection has no project filter: the scoped projects' own routes are read, and the versions they
#: define are kept (per-project routes also list versions shared from elsewhere).
CLIENT_SCOPED = {"versions": "definingProject"}
#: Per-parent collections: only the scoped parents' children are requested.
CHILDREN = {"categories": "projects", "activities": "work_packages", "attachments": "work_packages"}
SCOPED_STREAMS = [*SERVER_SCOPED, *CLIENT_SCOPED, *CHILDREN]


def project_of(item: dict[str, t.Any], link: str) -> int | None:
    href = (item.get("_links", {}).get(link) or {}).get("href")
    return int(href.rsplit("/", 1)[-1]) if href else None


def expected_ids(op: t.Any, stream: str) -> list[int]:
    """What the scope holds, read from the double's store."""
    store = op.store
    scoped_wps = [i for i in store.ids("work_packages") if store.rows[i].project_id in SCOPE]
    if stream == "projects":
        return [p for p in store.ids("projects") if p in SCOPE]
    if stream == "work_packages":
        return scoped_wps
    if stream in ("activities", "attachments"):
        return sorted(item["id"] for wp in scoped_wps for item in store.derived(stream, wp))
    link = {
        "time_entries": "project",
        "memberships": "project",
        "news": "project",
        "documents": "project",
        "meetings": "project",
        "categories": "project",
    }.get(stream, CLIENT_SCOPED.get(stream))
    items = store.collection(stream).items()
    return sorted(i for i, item in items if project_of(item, t.cast("str", link)) in SCOPE)


def test_identifiers_are_resolved_merged_with_ids_and_scope_every_project_stream(op):
    config = config_for(op, project_ids=[3], project_identifiers=["project-2"], max_concurrency=1)

    result = run_sync(config, streams=SCOPED_STREAMS)

    assert result.error is None
    paths = [r.path for r in op.requests]
    assert {p for p in paths if p.startswith("/api/v3/projects/project-")} == {"/api/v3/projects/project-2"}
    assert f"{op.url}/api/v3" in str(result.tap.run_context.settings.api_root) and result.tap.run_context.settings.project_ids == SCOPE
    for stream in SCOPED_STREAMS:
        expected = expected_ids(op, stream)
        assert expected, f"the dataset must hold {stream} in scope for this test to mean anything"
        assert sorted(result.ids(stream)) == expected, stream
    all_projects = {p for p in op.store.ids("projects")}
    assert all_projects - set(SCOPE), "the dataset must hold projects outside the scope"


def test_every_request_of_a_server_scoped_stream_carries_the_project_filter(op):
    config = config_for(op, project_identifiers=["project-3", "project-2"], page_size=5)

    result = run_sync(config, streams=[*SERVER_SCOPED, *CHILDREN])

    assert result.error is None
    for stream, (path, name) in SERVER_SCOPED.items():
        requests = [r for r in op.requests if r.path == path]
        assert requests, stream
        for request in requests:
            filters = json.loads(request.query.get("filters", "[]"))
            assert {name: {"operator": "=", "values": SCOPE_VALUES}} in filters, (stream, request.query)
    category_paths = {r.path for r in op.requests if r.path.endswith("/categories")}
    assert category_paths == {f"/api/v3/projects/{p}/categories" for p in SCOPE}
    scoped_wps = set(expected_ids(op, "work_packages"))
    children = [r.path for r in op.requests if r.path.endswith(("/activities", "/attachments"))]
    child_parents = {int(path.split("/")[4]) for path in children}
    assert child_parents == scoped_wps


def test_an_unknown_identifier_stops_the_run_with_exit_code_2_naming_it(op, tmp_path):
    config = write_config(tmp_path, config_for(op, project_identifiers=["project-2", "no-such-project"]))

    result = run_cli(["--config", str(config)])

    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, result.stderr[-2000:]
    assert "project_identifiers" in errors[0] and "'no-such-project'" in errors[0]
    assert "Traceback" not in result.stderr
    assert not [r for r in op.requests if r.path in ("/api/v3/work_packages", "/api/v3/time_entries")]


def test_a_malformed_identifier_is_rejected_before_any_request(op, tmp_path):
    config = write_config(tmp_path, config_for(op, project_identifiers=["../users"]))

    result = run_cli(["--config", str(config)])

    assert result.returncode == 2
    assert "project_identifiers" in result.stderr and "'../users'" in result.stderr
    assert op.requests == []


def test_identifiers_from_the_environment(op):
    env = clean_env(
        TAP_OPENPROJECT_BASE_URL=op.url,
        TAP_OPENPROJECT_API_KEY=API_KEY,
        TAP_OPENPROJECT_PROJECT_IDENTIFIERS="project-2,project-3",
    )

    result = run_cli(["--config", "ENV"], env=env)

    assert result.returncode == 0, result.stderr[-2000:]
    records = [m for m in parse_messages(result.stdout) if m["type"] == "RECORD" and m["stream"] == "projects"]
    assert sorted(m["record"]["id"] for m in records) == list(SCOPE)


def test_versions_are_read_from_the_scoped_projects_routes_only(op):
    config = config_for(op, project_ids=list(SCOPE))

    result = run_sync(config, streams=["versions"])

    paths = sorted(r.path for r in op.requests if r.path.endswith("/versions"))
    assert paths == sorted(f"/api/v3/projects/{p}/versions" for p in SCOPE), "never the whole collection"
    assert sorted(result.ids("versions")) == expected_ids(op, "versions")
