"""The README's tables say what the tap does: the settings table is generated from --about, and the streams table
names every stream of the catalog with its replication method."""

from __future__ import annotations

import re

from tap_openproject.tap import TapOpenProject
from tests.helpers import REPO, config_for, run_cli

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_settings_table_matches_about_output():
    about = run_cli(["--about", "--format", "markdown"]).stdout
    generated = about.split("## Settings\n\n", 1)[1].split("\n\n", 1)[0].strip()
    documented = README.split("-->\n", 1)[1].split("\n<!-- settings:end -->", 1)[0].strip()

    assert documented == generated, "regenerate the README settings table from `tap-openproject --about --format markdown`"


def test_streams_table_lists_every_stream_with_its_replication(op):
    tap = TapOpenProject(config=config_for(op))
    section = README.split("## Streams", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| (\w+) \| [^|]+ \| ([^|]+) \|", section, flags=re.M))
    rows.pop("Stream")

    assert set(rows) == set(tap.streams)
    for name, stream in tap.streams.items():
        expected = "INCREMENTAL" if stream.replication_key else "FULL_TABLE"
        assert rows[name].strip().startswith(expected), name
