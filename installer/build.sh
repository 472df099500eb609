#!/usr/bin/env bash
# Build a one-folder bundle of holoremote (window + command line) with PyInstaller:
#   installer/build.sh            -> dist/holoremote/holoremote
# PyInstaller is installed into the project's venv here, not by `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || { echo "run 'make .venv/.installed-run' first" >&2; exit 2; }
"$PY" -m pip install -q 'pyinstaller>=6.10'
"$PY" -m PyInstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller \
  installer/holoremote.spec
# Smoke test: the bundled command line runs, and says what it is.
dist/holoremote/holoremote --version
echo "bundle: dist/holoremote/ (desktop file: resources/holoremote.desktop)"
