"""Fail when the package outgrows its design: a class over 250 lines, a module over 400, a function over 60.

    python scripts/check_sizes.py [PACKAGE_DIR]     (run by `make lint`)

Prints the largest class, module and function either way, so a reviewer sees how close the code is to the limits.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

LIMITS = {"class": 250, "module": 400, "function": 60}


def sizes(root: Path) -> list[tuple[str, str, int]]:
    """(kind, qualified name, lines) for every module, class and function under `root`."""
    found: list[tuple[str, str, int]] = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        module = str(path.relative_to(root.parent))
        found.append(("module", module, len(text.splitlines())))
        tree = ast.parse(text)
        stack: list[tuple[ast.AST, str]] = [(tree, module)]
        while stack:
            node, prefix = stack.pop()
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                    name = f"{prefix}:{child.name}"
                    kind = "class" if isinstance(child, ast.ClassDef) else "function"
                    start = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                    found.append((kind, name, (child.end_lineno or child.lineno) - start + 1))
                    stack.append((child, name))
    return found


def main(argv: list[str]) -> int:
    root = Path(argv[1] if len(argv) > 1 else "tap_openproject")
    measured = sizes(root)
    failures = 0
    for kind, limit in LIMITS.items():
        of_kind = [m for m in measured if m[0] == kind]
        largest = max(of_kind, key=lambda m: m[2])
        print(f"largest {kind}: {largest[1]} ({largest[2]} lines; limit {limit})")
        for _, name, lines in of_kind:
            if lines > limit:
                print(f"  too large: {kind} {name} has {lines} lines (limit {limit})")
                failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
