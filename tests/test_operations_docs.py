"""The README's operations sections stay true to the code: the runbook names every warning and error the tap logs,
and the "Scaling out" example is a valid partitioning of the streams (project-scoped ones to the partitions, the
rest to one shared job, no project in two partitions)."""

from __future__ import annotations

import re

import yaml

from tap_openproject.tap import TapOpenProject
from tests.helpers import REPO, config_for

README = (REPO / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def logged_messages() -> list[tuple[str, str]]:
    """(file, message key) for every logger.warning/error call in tap_openproject: the first literal piece of the
    format string (up to its first placeholder), at most 30 characters."""
    found = []
    for path in sorted((REPO / "tap_openproject").rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        for match in re.finditer(r"logger\.(?:warning|error)\(\s*\"((?:[^\"\\]|\\.)*)\"", source):
            pieces = [p.strip(" :;,.()") for p in re.split(r"%[-#0-9.]*[sdrfgi]", match.group(1))]
            key = next((p for p in pieces if len(p) >= 8), "")
            if key:
                found.append((path.name, key[:30]))
    return found


def test_runbook_names_every_warning_and_error_the_tap_logs():
    runbook = section("Runbook")
    messages = logged_messages()

    assert len(messages) >= 10, messages  # the scan itself works
    missing = [f"{file}: {key!r}" for file, key in messages if key not in runbook]
    assert missing == [], "add these log lines to the README's Runbook (meaning, what to do)"


def test_runbook_covers_the_start_up_and_sync_failures():
    runbook = section("Runbook")

    for phrase in ("Skipping stream", "Retrying in", "OpenProject is unavailable", "asked to wait", "redirected",
                   "rejected the API key", "anonymous user", "has columns the catalog does not declare",
                   "readable by group or others", "Stopped by signal", "TLS failed", "failed after"):
        assert phrase in runbook, phrase


def test_scaling_out_example_partitions_the_streams(op):
    text = section("Scaling out")
    example = yaml.safe_load(re.search(r"```yaml\n(.*?)```", text, flags=re.S).group(1))
    extractors = example["plugins"]["extractors"]
    scoping = dict(re.findall(r"^\| (\w+) \|[^|]+\|[^|]+\| ([^|]+?) \|$", section("Streams"), flags=re.M))
    scoping.pop("Stream")
    streams = set(TapOpenProject(config=config_for(op)).streams)

    assert all(e["inherit_from"] == "tap-openproject" for e in extractors)
    partitions = [e for e in extractors if "project_ids" in e.get("config", {})]
    shared = [e for e in extractors if "project_ids" not in e.get("config", {})]
    assert len(partitions) >= 2 and len(shared) == 1
    all_ids = [i for p in partitions for i in p["config"]["project_ids"]]
    assert len(all_ids) == len(set(all_ids)), "a project in two partitions"
    selected = {e["name"]: {s.removesuffix(".*") for s in e["select"]} for e in extractors}
    for partition in partitions:
        assert selected[partition["name"]] == {s for s, how in scoping.items() if how != "none"}
    assert selected[shared[0]["name"]] == {s for s, how in scoping.items() if how == "none"}
    assert set(scoping) == streams
    for name in selected:
        assert f"meltano run {name} target-postgres" in text
    assert "--state-id-suffix" in text
