"""Typed page decoding (typed.py) changes nothing a target sees: a full sync of every stream, on every release of
the matrix, with pages decoded typed writes exactly the messages (records, their column order, STATE) of the same
sync with every page decoded as dicts; an incremental run after it too."""

from __future__ import annotations

import json

import pytest

from tap_openproject.streams import STREAMS_BY_NAME
from tap_openproject.typed import TypedPages
from tests.helpers import config_for, run_sync
from tests.openproject_double.releases import RELEASES
from tests.test_record_path import comparable


def ordered(messages: list[dict]) -> list[str]:
    """Each message as its JSON text, keys in the order written (what a target reads)."""
    return [json.dumps(m) for m in comparable(messages)]


def typed_pages_read(result) -> int:
    """Pages the run decoded typed, over all streams."""
    run = result.tap.run_context
    decoders = {id(d): d for cls in STREAMS_BY_NAME.values() if (d := run.page_decoder(cls.shape)) is not None}
    return sum(d.typed for d in decoders.values())


@pytest.mark.parametrize("number", RELEASES)
def test_typed_pages_write_exactly_what_dict_pages_write(make_double, monkeypatch, number):
    op = make_double(work_packages=30, release=number)
    config = config_for(op, page_size=4, max_concurrency=4)

    typed = run_sync(config)
    later = run_sync(config, state=typed.final_state)
    typed_pages = typed_pages_read(typed)
    monkeypatch.setattr(TypedPages, "handles", staticmethod(lambda shape: False))
    plain = run_sync(config)
    plain_later = run_sync(config, state=plain.final_state)

    assert typed.error is None and plain.error is None and later.error is None
    assert typed_pages > 100  # the comparison is worth something: most pages were typed
    assert plain.tap.run_context.page_decoder(STREAMS_BY_NAME["work_packages"].shape) is None
    assert len(typed.records["work_packages"]) == 30
    assert ordered(typed.messages) == ordered(plain.messages)
    assert ordered(later.messages) == ordered(plain_later.messages)
