"""Typed pages (typed.py) flatten exactly as RecordShape.flatten flattens the same elements decoded as dicts: the
same columns, values and column order, for the API spec's examples and for every collection of the double, with
keys absent or null; and anything the layout does not know sends the page down the dict path, losing nothing."""

from __future__ import annotations

import copy
import functools
import json
import typing as t

import msgspec
import pytest

from tap_openproject.hal import UNMAPPED, RecordShape
from tap_openproject.paging.elements import TypedElement
from tap_openproject.streams import STREAMS_BY_NAME
from tap_openproject.typed import TypedPages
from tests.openproject_double import Dataset, Store
from tests.openproject_double.releases import RELEASES, release
from tests.test_spec_payloads import CASES, element

TYPED_STREAMS = sorted(name for name, cls in STREAMS_BY_NAME.items() if TypedPages.handles(cls.shape))


def page(elements: list[t.Any], **envelope: t.Any) -> bytes:
    """A collection answer holding `elements`, as bytes."""
    body = {"_type": "Collection", "total": len(elements), "count": len(elements), "pageSize": 100, "offset": 1,
            **envelope, "_embedded": {"elements": elements}}
    return json.dumps(body).encode()


def shape_of(stream: str) -> RecordShape:
    """A fresh copy of a stream's shape (its learnt skip sets start empty)."""
    return copy.deepcopy(STREAMS_BY_NAME[stream].shape)


def typed_and_expected(shape: RecordShape, learn: list[dict], elements: list[dict]) -> tuple[list, list]:
    """(what typed elements flatten to, what RecordShape.flatten gives for the dicts), after learning `learn`."""
    decoder = TypedPages(shape)
    first = decoder(page(learn))["_embedded"]["elements"]
    [shape.flatten(e) for e in first]  # the dict path of the first page, as a reader would
    decoded = decoder(page(elements))["_embedded"]["elements"]
    assert decoder.typed == 1, "the second page was not decoded typed"
    assert all(isinstance(e, TypedElement) for e in decoded)
    reference = copy.deepcopy(shape)
    return [shape.flatten(e) for e in decoded], [reference.flatten(e) for e in elements]


def variants(original: dict) -> list[dict]:
    """The element, and copies with each key in turn absent, then null (links too)."""
    out = [original]
    for key in original:
        if key != "_links":
            out.append({k: v for k, v in original.items() if k != key})
            out.append({**original, key: None})
    for name in original.get("_links") or {}:
        links = original["_links"]
        out.append({**original, "_links": {n: v for n, v in links.items() if n != name}})
        out.append({**original, "_links": {**links, name: {"href": None}}})
    return out


def assert_same(got: list[dict], expected: list[dict]) -> None:
    assert got == expected
    assert [list(record) for record in got] == [list(record) for record in expected]  # column order too


SPEC_CASES = sorted({(fixture, stream) for fixture, stream in CASES if stream in TYPED_STREAMS})


@pytest.mark.parametrize(("fixture", "stream"), SPEC_CASES)
def test_spec_examples_flatten_the_same_typed(fixture, stream):
    spec = element(fixture)
    if not isinstance(spec.get("id"), int):
        spec = {**spec, "id": 1}
    elements = variants(spec)

    got, expected = typed_and_expected(shape_of(stream), elements, elements)

    assert_same(got, expected)


@functools.cache
def store_of(number: int) -> Store:
    """The double's data as release `number` serves it."""
    store = Store(Dataset.generate(work_packages=30, seed=7, projects=4))
    release(number).apply(store)
    return store


@pytest.mark.parametrize("number", RELEASES)
@pytest.mark.parametrize("stream", TYPED_STREAMS)
def test_every_collection_of_the_double_flattens_the_same_typed(stream, number):
    store = store_of(number)
    collections = ("users", "groups", "placeholder_users") if stream == "principals" else (stream,)
    if stream in ("watchers", "file_links"):  # derived per work package
        elements = [e for wp in store.ids("work_packages") for e in store.derived(stream, wp)]
    else:
        elements = [store.get(c, ident) for c in collections for ident in store.ids(c)]
    if not elements:
        pytest.skip(f"release {number}: no {stream}")

    got, expected = typed_and_expected(shape_of(stream), elements, elements)

    assert_same(got, expected)
    assert len(got) == len(elements)


def work_package(ident: int, **extra: t.Any) -> dict[str, t.Any]:
    return {
        "_type": "WorkPackage", "id": ident, "lockVersion": 1, "subject": f"wp {ident}",
        "updatedAt": "2024-01-01T00:00:00Z", "customField1": "a",
        "_links": {
            "self": {"href": f"/api/v3/work_packages/{ident}", "title": f"wp {ident}"},
            "project": {"href": "/api/v3/projects/3", "title": "P"},
            "update": {"href": f"/api/v3/work_packages/{ident}/form", "method": "post"},
            "customField2": {"href": "/api/v3/custom_options/7", "title": "High"},
        },
        **extra,
    }


@pytest.mark.parametrize(
    ("change", "column", "value", "then"),
    [
        ({"storyPoints": 3, "newProperty": "x"}, UNMAPPED, {"newProperty": "x"}, "learnt"),  # a newer release's key
        ({"customField9": 4.5}, "customField9", 4.5, "learnt"),  # a custom field created meanwhile
        ({"_links": {**work_package(2)["_links"], "sprint": {"href": "/api/v3/sprints/4", "title": "S4"}}},
         "sprint_id", 4, "learnt"),  # a link the layout has not seen
        ({"_links": {**work_package(2)["_links"], "project": {"href": "/api/v3/projects/5", "title": "Q",
                                                                "identifier": "q"}}},
         "project_id", 5, "learnt"),  # a link attribute the layout has not seen
        # a value that is no link where a link was: no layout holds it, so such pages stay dicts
        ({"_links": {**work_package(2)["_links"], "project": "/api/v3/projects/5"}}, "project_id", None, "dicts"),
        ({"subject": {"raw": "a dict now"}}, "subject", {"raw": "a dict now"}, "typed"),  # any value of a known key
    ],
)
def test_what_the_layout_does_not_know_takes_the_dict_path_and_is_learnt(change, column, value, then):
    shape = shape_of("work_packages")
    decoder = TypedPages(shape)
    decoder(page([work_package(1)]))  # learns
    changed = {**work_package(2), **change}
    reference = copy.deepcopy(shape)

    body = decoder(page([work_package(3), changed]))
    records = [shape.flatten(e) for e in body["_embedded"]["elements"]]
    again = decoder(page([work_package(4), {**changed, "id": 5}]))["_embedded"]["elements"]

    assert records[1][column] == value
    assert records == [reference.flatten(work_package(3)), reference.flatten(changed)]
    assert shape.flatten(again[1]) == reference.flatten({**changed, "id": 5})
    counts = {"learnt": (1, 2), "dicts": (0, 3), "typed": (2, 1)}[then]
    assert (decoder.typed, decoder.untyped) == counts
    assert isinstance(again[1], TypedElement) == (then != "dicts")


def test_absent_and_null_custom_fields_stay_different():
    shape = shape_of("work_packages")
    decoder = TypedPages(shape)
    decoder(page([work_package(1)]))
    absent = {k: v for k, v in work_package(2).items() if k != "customField1"}
    null = {**work_package(3), "customField1": None}

    records = [e.flat() for e in decoder(page([absent, null]))["_embedded"]["elements"]]

    assert "customField1" not in records[0]
    assert records[1]["customField1"] is None


def test_typed_elements_read_like_dicts_for_the_readers():
    decoder = TypedPages(shape_of("work_packages"))
    decoder(page([work_package(1)]))
    typed = decoder(page([work_package(2)]))["_embedded"]["elements"][0]

    assert typed.get("id") == typed["id"] == 2
    assert typed.get("lockVersion", "") == 1
    assert typed.get("description", "absent") == "absent"  # a key the element lacks: the default, as dict.get
    assert typed.get("nothing-like-it") is None
    with pytest.raises(KeyError):
        typed["description"]


def test_the_envelope_reads_as_it_was_sent():
    decoder = TypedPages(shape_of("work_packages"))
    decoder(page([work_package(1)]))
    body = decoder(page([work_package(2)], total=57, pageSize=2, offset=3))

    assert {k: v for k, v in body.items() if k != "_embedded"} == {
        "_type": "Collection", "total": 57, "count": 1, "pageSize": 2, "offset": 3}


def test_undecodable_json_is_an_error_on_either_path():
    decoder = TypedPages(shape_of("work_packages"))
    with pytest.raises(msgspec.DecodeError):
        decoder(page([work_package(1)])[:-5])
    decoder(page([work_package(1)]))
    with pytest.raises(msgspec.DecodeError):
        decoder(page([work_package(2)])[:-5])


def test_names_from_the_server_never_become_code():
    hostile = "x'] = 1; raise SystemExit('injected') #"
    shape = shape_of("work_packages")
    decoder = TypedPages(shape)
    first = work_package(1, **{hostile: "v"})
    first["_links"][hostile + "link"] = {"href": "/api/v3/users/9", "title": "U"}
    decoder(page([first]))

    record = decoder(page([{**first, "id": 2}]))["_embedded"]["elements"][0].flat()

    assert decoder.typed == 1
    assert record[UNMAPPED] == {hostile: "v", "_links": {hostile + "link": {"href": "/api/v3/users/9", "title": "U"}}}


def test_a_page_of_non_objects_is_left_to_the_key_check():
    decoder = TypedPages(shape_of("work_packages"))
    decoder(page([work_package(1)]))

    body = decoder(page([work_package(2), "not an element"]))

    assert body["_embedded"]["elements"][1] == "not an element"  # plain JSON: require_keys refuses the page
    assert decoder.untyped == 2


def test_keys_of_a_refused_page_are_still_learnt():
    decoder = TypedPages(shape_of("work_packages"))
    decoder(page([work_package(1)]))
    decoder(page([work_package(2, newProperty="x"), "not an element"]))  # refused later by the key check

    body = decoder(page([work_package(3, newProperty="y")]))

    assert isinstance(body["_embedded"]["elements"][0], TypedElement)
    assert body["_embedded"]["elements"][0].flat()[UNMAPPED] == {"newProperty": "y"}
