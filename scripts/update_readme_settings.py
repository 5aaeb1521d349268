"""Regenerate the README's settings table from `tap-openproject --about --format markdown`.

Run after adding or changing a setting: `.venv/bin/python scripts/update_readme_settings.py`. tests/test_docs.py fails
while the README and --about disagree.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def main() -> None:
    """Replace the block between the settings markers."""
    about = subprocess.run(
        [sys.executable, "-m", "tap_openproject", "--about", "--format", "markdown"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    table = about.split("## Settings\n\n", 1)[1].split("\n\n", 1)[0].strip()
    text = README.read_text(encoding="utf-8")
    updated = re.sub(
        r"(<!-- settings:start[^\n]*-->\n).*?(\n<!-- settings:end -->)",
        lambda m: m.group(1) + table + m.group(2),
        text,
        flags=re.S,
    )
    README.write_text(updated, encoding="utf-8")


if __name__ == "__main__":
    main()
