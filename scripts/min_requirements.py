"""Print every dependency of pyproject.toml pinned at its declared minimum, one
requirement a line, for `make test-min`.

    python scripts/min_requirements.py [pyproject.toml] [--extra test]

Derived from the file each time, so the pins cannot drift from what is declared:
`name>=X` becomes `name==X` (with its environment marker); an exact pin `==X`
stays as it is; a requirement without a lower bound is an error (its minimum would
be untested). Only the standard library: it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

_REQUIREMENT = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?P<extras>\[[^\]]*\])?\s*"
    r"(?P<spec>[^;]*?)\s*(?:;\s*(?P<marker>.+))?$"
)


def pin_minimum(requirement: str) -> str:
    match = _REQUIREMENT.match(requirement)
    if not match:
        raise ValueError(f"cannot read the requirement {requirement!r}")
    name, spec, marker = match["name"], match["spec"], match["marker"]
    clauses = [c.strip() for c in spec.split(",") if c.strip()]
    exact = [c for c in clauses if c.startswith("==")]
    lower = [c for c in clauses if c.startswith(">=")]
    if exact:
        pinned = exact[0]
    elif lower:
        pinned = "==" + lower[0][2:].strip()
    else:
        raise ValueError(f"{requirement!r} declares no minimum version (add '>=')")
    return f"{name}{pinned}" + (f"; {marker}" if marker else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pyproject", nargs="?", default="pyproject.toml", type=Path)
    parser.add_argument("--extra", action="append", default=[], help="an optional extra too")
    args = parser.parse_args(argv)
    project = tomllib.loads(args.pyproject.read_text())["project"]
    requirements = list(project.get("dependencies", []))
    for extra in args.extra:
        requirements += project.get("optional-dependencies", {}).get(extra, [])
    try:
        lines = [pin_minimum(r) for r in requirements]
    except ValueError as exc:
        print(f"min_requirements: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
