"""A collection the server lacks (404) or the token may not read (403) is skipped with one warning, and listed
at the end; `fail_on_unavailable_streams` makes that fatal."""

from __future__ import annotations

from tap_openproject.errors import SyncError
from tests.helpers import config_for, run_sync


def test_missing_and_forbidden_collections_are_skipped_and_listed(make_double, caplog):
    op = make_double(admin=False, missing_collections=("/api/v3/meetings",))

    result = run_sync(config_for(op), streams=["meetings", "users", "statuses", "principals"])

    assert result.error is None
    assert set(result.tap.run_context.unavailable.reasons) == {"meetings", "users"}
    assert "404" in result.tap.run_context.unavailable.reasons["meetings"] and "403" in result.tap.run_context.unavailable.reasons["users"]
    assert sorted(result.ids("statuses")) == op.store.ids("statuses")
    assert result.ids("principals"), "non-admins still read principals"
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert sum("Skipping stream meetings" in w for w in warnings) == 1
    assert sum("Skipping stream users" in w for w in warnings) == 1
    summary = [w for w in warnings if w.startswith("Skipped streams:")]
    assert len(summary) == 1 and "meetings" in summary[0] and "users" in summary[0]


def test_skips_can_be_made_fatal(make_double):
    op = make_double(admin=False)

    result = run_sync(config_for(op, fail_on_unavailable_streams=True), streams=["statuses", "users"])

    assert isinstance(result.error, SyncError)
    assert "users" in str(result.error) and "fail_on_unavailable_streams" in str(result.error)


def test_a_child_of_a_skipped_stream_is_skipped_too_with_its_own_warning(make_double, caplog):
    op = make_double(missing_collections=("/api/v3/meetings/{id:int}/agenda_items",))

    result = run_sync(config_for(op), streams=["meetings", "meeting_agenda_items", "meeting_outcomes"])

    assert result.error is None
    assert sorted(result.ids("meetings")) == op.store.ids("meetings")
    reasons = result.tap.run_context.unavailable.reasons
    assert set(reasons) == {"meeting_agenda_items", "meeting_outcomes"}
    assert reasons["meeting_outcomes"] == "its parent stream meeting_agenda_items is unavailable"
    assert "meeting_outcomes" not in result.records
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings.count("Skipping stream meeting_outcomes: its parent stream meeting_agenda_items is unavailable") == 1
