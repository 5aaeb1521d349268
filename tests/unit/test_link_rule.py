"""The rule that tells a resource link (data) from an action, a page, a download or a collection (not data)."""

from __future__ import annotations

import pytest

from tap_openproject.hal import RecordShape, is_resource_link, link_id


@pytest.mark.parametrize(
    ("link", "data"),
    [
        ({"href": "/api/v3/sprints/3", "title": "Sprint 11"}, True),
        ({"href": None}, True),  # unset
        ({"href": "urn:openproject-org:api:v3:undisclosed"}, True),
        ({"href": "urn:openproject-org:api:v3:sprints:status:in_planning"}, True),
        ({"href": "/api/v3/project_statuses/on_track"}, True),  # string id
        ({"href": "/api/v3/time_entries/activities/3"}, True),
        ({"href": "api/v3/users/14"}, True),  # the spec's own example lacks the slash
        ({"href": "https://op.example.org/api/v3/users/14"}, True),
        ({"href": "/api/v3/users/14", "method": "GET"}, True),
        ({"href": "/api/v3/work_packages/5", "method": "patch"}, False),
        ({"href": "/api/v3/work_packages/5/watchers", "method": "post", "templated": True}, False),
        ({"href": "/api/v3/work_packages/5/watchers/{user_id}", "templated": True}, False),
        ({"href": "/api/v3/work_packages/5/activities"}, False),
        ({"href": "/api/v3/work_packages/schemas/11-2"}, False),
        ({"href": "/api/v3/attachments/1/content"}, False),
        ({"href": "/api/v3/relations"}, False),
        ({"href": '/api/v3/memberships?filters=[{"principal":{"operator":"=","values":["14"]}}]'}, False),
        ({"href": "/users/14", "type": "text/html"}, False),
        ({"href": "/some/remote/aws/url/image.png"}, False),
        ("not a link", False),
    ],
)
def test_is_resource_link(link, data):
    assert is_resource_link(link) is data


@pytest.mark.parametrize("route", ["projects", "programs", "portfolios", "workspaces", "portfolio"])
def test_a_workspace_link_resolves_to_its_id_whatever_the_route(route):
    assert link_id(f"/api/v3/{route}/7") == 7


def test_an_undeclared_link_list_keeps_its_resource_items_and_an_action_name_is_remembered():
    shape = RecordShape(properties={})
    element = {
        "id": 1,
        "_links": {
            "labels": [{"href": "/api/v3/labels/2", "title": "UX"}, {"href": "/api/v3/labels/3"}],
            "customActions": [{"href": "/api/v3/work_packages/1/custom_actions/4/execute", "method": "post"}],
            "archive": {"href": "/api/v3/work_packages/1/archive", "method": "post"},
        },
    }

    assert shape.flatten(element)["unmapped_properties"] == {
        "_links": {"labels": [{"href": "/api/v3/labels/2", "title": "UX"}, {"href": "/api/v3/labels/3", "title": None}]}
    }
    assert shape.flatten({"id": 2, "_links": {"archive": element["_links"]["archive"]}})["unmapped_properties"] is None
    assert {"customActions", "archive"} <= shape._skip["links"]
