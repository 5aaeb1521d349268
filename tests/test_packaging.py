"""What we ship: the sdist and the wheel build from a copy of the source tree, the wheel holds the package and its
metadata only (no tests, caches or bytecode), and it installs and runs in a clean virtualenv with the pinned
dependencies of constraints.txt, which must agree with pyproject.toml's ranges.

The build tests are slow (a build and a virtualenv with the tap's dependencies, from the package index): deselect
them locally with `-m "not slow"`; `make test` runs them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.helpers import REPO, clean_env, run_cli

NAME = "openproject-singer-tap"
VERSION = metadata.version(NAME)  # the editable install's metadata, read from pyproject.toml
DIST_NAME = NAME.replace("-", "_")
#: What never belongs in a distribution.
JUNK = re.compile(r"(^|/)(__pycache__|\.pytest_cache|\.mypy_cache|\.ruff_cache|\.venv[^/]*|\.meltano|\.git|output|"
                  r"bench|build|dist)(/|$)|\.py[cod]$|\.egg-info/|\.DS_Store$")


def _run(cmd: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False,  # noqa: S603
                            env=clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1"))
    assert result.returncode == 0, (
        f"{' '.join(cmd)} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`python -m build` on a copy of the work tree (so the tree gets no build/ or egg-info): sdist, then the wheel
    built from that sdist, as a release would."""
    root = tmp_path_factory.mktemp("packaging")
    source = root / "src"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv*", ".meltano", "output", "build", "dist", "*.egg-info", "__pycache__", "*.pyc",
        ".pytest_cache", ".mypy_cache", ".ruff_cache", "bench"))
    _run([sys.executable, "-m", "build", "--outdir", str(root / "dist"), str(source)], cwd=root)
    wheels = list((root / "dist").glob("*.whl"))
    sdists = list((root / "dist").glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, list((root / "dist").iterdir())
    return {"root": root, "wheel": wheels[0], "sdist": sdists[0]}


@pytest.mark.slow
def test_sdist_and_wheel_are_named_after_the_distribution(built):
    assert built["wheel"].name == f"{DIST_NAME}-{VERSION}-py3-none-any.whl"
    assert built["sdist"].name == f"{DIST_NAME}-{VERSION}.tar.gz"


@pytest.mark.slow
def test_wheel_holds_the_package_and_its_metadata_only(built):
    names = zipfile.ZipFile(built["wheel"]).namelist()
    dist_info = f"{DIST_NAME}-{VERSION}.dist-info/"

    assert names
    assert [n for n in names if not n.startswith(("tap_openproject/", dist_info))] == []
    assert [n for n in names if JUNK.search(n)] == []
    assert not any(n.startswith("tests/") or "/tests/" in n or n.split("/")[-1].startswith("test_") for n in names)
    modules = {str(p.relative_to(REPO)) for p in (REPO / "tap_openproject").rglob("*.py")}
    assert {n for n in names if n.endswith(".py")} == modules  # every module ships, nothing else does
    entry_points = zipfile.ZipFile(built["wheel"]).read(dist_info + "entry_points.txt").decode()
    assert "tap-openproject = tap_openproject.cli:main" in entry_points


@pytest.mark.slow
def test_sdist_holds_the_sources_without_caches_or_local_state(built):
    with tarfile.open(built["sdist"]) as sdist:
        names = [name.split("/", 1)[1] for name in sdist.getnames() if "/" in name]

    for required in ("pyproject.toml", "README.md", "CHANGELOG.md", "constraints.txt", "meltano.yml",
                     "tap_openproject/__init__.py", "tap_openproject/streams/work.py",
                     # the whole test suite, so the sdist can test itself: helpers and the double too
                     "tests/conftest.py", "tests/helpers.py", "tests/openproject_double/server.py"):
        assert required in names, required
    assert [n for n in names if JUNK.search(n) and not n.startswith(f"{DIST_NAME}.egg-info/")] == []


@pytest.mark.slow
def test_wheel_installs_and_runs_in_a_clean_virtualenv(built):
    venv = built["root"] / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=built["root"])
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-c", str(REPO / "constraints.txt"),
          str(built["wheel"])], cwd=built["root"], timeout=900)
    outside = built["root"]  # not the repository: nothing may be imported from the work tree

    tap = str(venv / "bin" / "tap-openproject")
    about = json.loads(_run([tap, "--about", "--format", "json"], cwd=outside).stdout)
    version = _run([tap, "--version"], cwd=outside).stdout
    where = _run([str(venv / "bin" / "python"), "-c", "import tap_openproject; print(tap_openproject.__file__)"],
                 cwd=outside).stdout.strip()

    assert about["name"] == "tap-openproject"
    assert about["version"] == VERSION
    reference = json.loads(run_cli(["--about", "--format", "json"]).stdout)
    assert about["settings"] == reference["settings"]
    assert about["capabilities"] == reference["capabilities"]
    assert version.startswith(f"tap-openproject v{VERSION}"), version
    assert Path(where).is_relative_to(venv), where


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            (specifier,) = requirement.specifier
            assert specifier.operator == "==", line
            pins[_normalise(requirement.name)] = specifier.version
    return pins


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_constraints_pin_every_declared_dependency_within_its_range():
    pins = _pins()
    declared = metadata.requires(NAME) or []  # every dependency, the extras' ones with an `extra ==` marker

    assert _normalise(NAME) not in pins
    for line in declared:
        requirement = Requirement(line)
        name = _normalise(requirement.name)
        assert name in pins, f"{requirement.name} is not pinned in constraints.txt: run `make constraints`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {requirement.name}=={pins[name]}, outside {requirement.specifier}: "
            "run `make constraints`")


def test_the_makefile_installs_with_the_constraints():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")

    assert "pip install --quiet -c constraints.txt -e '.[test]'" in makefile
