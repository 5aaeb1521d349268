"""Shared fixtures: a fresh OpenProject double per test, on 127.0.0.1."""

from __future__ import annotations

import typing as t

import pytest

from tests.helpers import API_KEY
from tests.openproject_double import Dataset, OpenProjectDouble


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own TAP_OPENPROJECT_* / OPENPROJECT_* variables must not leak into tests."""
    import os

    for name in list(os.environ):
        if name.startswith(("TAP_OPENPROJECT_", "OPENPROJECT_")) or name == "SINGER_SDK_LOG_CONFIG":
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def make_double() -> t.Iterator[t.Callable[..., OpenProjectDouble]]:
    """Start doubles with custom datasets or switches; all are stopped after the test."""
    started: list[OpenProjectDouble] = []

    def make(work_packages: int = 60, seed: int = 7, projects: int = 4, **switches: t.Any) -> OpenProjectDouble:
        dataset = Dataset.generate(work_packages=work_packages, seed=seed, projects=projects)
        double = OpenProjectDouble(dataset, api_key=API_KEY, **switches)
        double.start()
        started.append(double)
        return double

    yield make
    for double in started:
        double.stop()


@pytest.fixture
def op(make_double: t.Callable[..., OpenProjectDouble]) -> OpenProjectDouble:
    """The default double: 60 work packages, admin token, login required."""
    return make_double()
