"""A target that stops reading (exits, crashes, closes its stdin): the tap ends with exit code 1 and one line saying
so, not a traceback or a cascade of errors about a closed pipe."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import REPO, clean_env, config_for, write_config

GONE = (
    "The target stopped reading (stdout closed): nothing more can be delivered; the last state it received is where "
    "the next run continues"
)


@pytest.mark.parametrize("lines", [5, 400], ids=["at-the-start", "mid-stream"])
def test_a_target_that_stops_reading_ends_the_run_with_exit_1_and_one_line(make_double, tmp_path, lines):
    op = make_double(work_packages=300)
    config = write_config(tmp_path, config_for(op, page_size=50))
    tap = subprocess.Popen(  # noqa: S603 - our own module
        [sys.executable, "-m", "tap_openproject", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(),
        cwd=REPO,
        text=True,
    )
    target = subprocess.Popen(["head", "-n", str(lines)], stdin=tap.stdout, stdout=subprocess.PIPE, text=True)  # noqa: S607
    assert tap.stdout is not None
    tap.stdout.close()  # the target holds the only read end: when it exits, the pipe is closed
    received, _ = target.communicate(timeout=120)
    _, stderr = tap.communicate(timeout=120)

    assert len(received.splitlines()) == lines
    assert tap.returncode == 1, stderr[-2000:]
    errors = [line for line in stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and errors[0].endswith(GONE), errors
    assert "Traceback" not in stderr
    assert "Exception ignored" not in stderr
    assert "Broken pipe" not in stderr and "BrokenPipeError" not in stderr
