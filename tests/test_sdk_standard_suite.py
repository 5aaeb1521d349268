"""The Singer SDK's standard tap tests, run against a double that is up before collection (the SDK builds the
tap and runs discovery at collection time)."""

from __future__ import annotations

import atexit

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_openproject.tap import TapOpenProject
from tests.helpers import API_KEY
from tests.openproject_double import Dataset, OpenProjectDouble

_DOUBLE = OpenProjectDouble(Dataset.generate(work_packages=40, seed=3), api_key=API_KEY)
_DOUBLE.start()
atexit.register(_DOUBLE.stop)

TestTapOpenProject = get_tap_test_class(
    TapOpenProject,
    config={"base_url": _DOUBLE.url, "api_key": API_KEY},
    parse_env_config=False,
    suite_config=SuiteConfig(ignore_no_records_for_streams=[]),
)
