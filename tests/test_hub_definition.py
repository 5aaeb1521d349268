"""The Meltano Hub definition (hub/extractors/tap-openproject.yml) and meltano.yml say what the tap really is:
exactly the settings and capabilities of `tap-openproject --about --format json`, with the same kinds, defaults and
secrets."""

from __future__ import annotations

import importlib.util
import json
import typing as t

import pytest
import yaml

from tests.helpers import REPO, run_cli

HUB_FILE = REPO / "hub" / "extractors" / "tap-openproject.yml"
#: Settings every SDK tap has; meltano.yml need not declare them (Meltano passes them through as extras).
SDK_SETTINGS = {"stream_maps", "stream_map_config", "faker_config", "flattening_enabled", "flattening_max_depth",
                "flattening_max_key_length", "flattening_separator"}


@pytest.fixture(scope="module")
def about() -> dict[str, t.Any]:
    return json.loads(run_cli(["--about", "--format", "json"]).stdout)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def hub() -> dict[str, t.Any]:
    return yaml.safe_load(HUB_FILE.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def meltano_tap() -> dict[str, t.Any]:
    project = yaml.safe_load((REPO / "meltano.yml").read_text(encoding="utf-8"))
    (tap,) = [p for p in project["plugins"]["extractors"] if p["name"] == "tap-openproject"]
    return tap  # type: ignore[no-any-return]


def test_hub_file_is_generated_from_about(about):
    script = REPO / "scripts" / "update_hub_definition.py"
    spec = importlib.util.spec_from_file_location("update_hub_definition", script)
    assert spec and spec.loader
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)

    assert HUB_FILE.read_text(encoding="utf-8") == generator.render(about), (
        "regenerate the Hub definition: .venv/bin/python scripts/update_hub_definition.py")


def test_hub_lists_exactly_the_settings_of_about(about, hub):
    properties = about["settings"]["properties"]
    settings = {s["name"]: s for s in hub["settings"]}

    assert [s["name"] for s in hub["settings"]] == list(properties)
    assert {n for n, s in settings.items() if s.get("sensitive")} == {"api_key"}
    assert {n for n, p in properties.items() if p.get("secret")} == {"api_key"}
    for name, schema in properties.items():
        assert settings[name].get("value") == schema.get("default"), name
    assert settings["start_date"]["kind"] == "date_iso8601"
    assert settings["page_size"]["kind"] == "integer"
    assert settings["project_ids"]["kind"] == "array"
    assert settings["allow_insecure_http"]["kind"] == "boolean"
    assert settings["log_format"]["kind"] == "options"
    assert [o["value"] for o in settings["log_format"]["options"]] == properties["log_format"]["enum"]
    assert hub["settings_group_validation"] == [about["settings"]["required"]]
    assert hub["capabilities"] == sorted(about["capabilities"])


def test_hub_has_the_fields_the_hub_requires(hub):
    for field in ("name", "namespace", "variant", "label", "description", "pip_url", "repo", "executable",
                  "capabilities", "settings", "keywords", "domain_url", "maintenance_status"):
        assert hub.get(field), field
    for entry in hub["settings"]:
        assert set(entry) <= {"name", "label", "description", "kind", "value", "options", "sensitive"}, entry
        assert entry["kind"] in {"string", "integer", "decimal", "boolean", "date_iso8601", "options", "array",
                                 "object"}, entry


def test_meltano_yml_agrees_with_the_hub_definition(hub, meltano_tap):
    hub_settings = {s["name"]: s for s in hub["settings"]}
    declared = {s["name"]: s for s in meltano_tap["settings"]}

    for field in ("name", "namespace", "executable"):
        assert meltano_tap[field] == hub[field], field
    assert sorted(meltano_tap["capabilities"]) == hub["capabilities"]
    assert meltano_tap["settings_group_validation"] == hub["settings_group_validation"]
    expected = set(hub_settings) - SDK_SETTINGS
    assert set(declared) == expected, (
        f"meltano.yml's tap-openproject settings: missing {sorted(expected - set(declared))}, "
        f"unknown to the tap {sorted(set(declared) - expected)}")
    for name, entry in declared.items():
        assert entry.get("kind", "string") == hub_settings[name]["kind"], name
        assert entry.get("value") == hub_settings[name].get("value"), name
        assert bool(entry.get("sensitive")) == bool(hub_settings[name].get("sensitive")), name
