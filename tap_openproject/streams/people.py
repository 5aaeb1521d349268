"""Users, groups, placeholder users, and principals (all three, as far as the token may see)."""

from __future__ import annotations

import typing as t

from tap_openproject.hal import BOOLEAN, DATETIME, STRING, RecordShape
from tap_openproject.streams.base import OpenProjectStream

_TIMESTAMPS = {"createdAt": DATETIME, "updatedAt": DATETIME}
#: A user's properties (the API shows most of them only to admins, to the user, or with manage_user).
USER_PROPERTIES: dict[str, dict[str, t.Any]] = {
    "login": STRING,
    "firstName": STRING,
    "lastName": STRING,
    "name": STRING,
    "email": STRING,
    "admin": BOOLEAN,
    "avatar": STRING,
    "status": STRING,
    "language": STRING,
    "identityUrl": STRING,
    **_TIMESTAMPS,
}


class UsersStream(OpenProjectStream):
    """All users; needs an admin token (others get 403 and the stream is skipped with a warning)."""

    name = "users"
    path = "/users"
    shape = RecordShape(properties=USER_PROPERTIES, custom_fields=True)


class GroupsStream(OpenProjectStream):
    """Groups and their members."""

    name = "groups"
    path = "/groups"
    shape = RecordShape(properties={"name": STRING, **_TIMESTAMPS}, multi_links=("members",))


class PlaceholderUsersStream(OpenProjectStream):
    """Placeholder users (need member-management rights)."""

    name = "placeholder_users"
    path = "/placeholder_users"
    shape = RecordShape(properties={"name": STRING, "status": STRING, **_TIMESTAMPS})


class PrincipalsStream(OpenProjectStream):
    """Users, groups and placeholder users visible to the token, also without admin rights: every property any
    of the three has (null where a kind lacks it), and the users' custom fields."""

    name = "principals"
    path = "/principals"
    custom_field_resource = "users"
    shape = RecordShape(properties=USER_PROPERTIES, multi_links=("members",), custom_fields=True)
