#!/usr/bin/env bash
# Installs the Debian packages holoremote needs that a fresh machine may lack.
#   scripts/system-deps.sh run    libraries the Qt xcb platform plugin loads (make run)
#   scripts/system-deps.sh test   the above, plus the peers and tools the tests drive
#   scripts/system-deps.sh installers   the above, plus what `make bundle`, `make deb` and
#                                  `make test-installers` use (Debian tools, validators, pipx)
#   scripts/system-deps.sh list-run     print the run packages, one a line (the .deb's
#                                  Depends are these: installer/deb.py reads them here)
#   scripts/system-deps.sh stress the test ones, plus stress-ng (make stress-test)
# As root it runs apt-get; otherwise it prints the exact command and exits 1.
set -euo pipefail

# Qt 6 xcb platform plugin: its ldd closure on Debian 12 (libxcb-cursor0 is required
# since Qt 6.5; icccm and keysyms are missing on a fresh machine). The last two are
# what the wayland plugin adds to it: the app opens its window when only
# WAYLAND_DISPLAY is set, and Qt then loads the wayland plugin first.
RUN_PACKAGES=(
  libxcb1 libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
  libxcb-randr0 libxcb-render0 libxcb-render-util0 libxcb-shape0 libxcb-shm0
  libxcb-sync1 libxcb-xfixes0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon0
  libxkbcommon-x11-0 libegl1 libgl1 libfontconfig1 libfreetype6 libdbus-1-3
  libglib2.0-0 fonts-dejavu-core libwayland-cursor0 libwayland-egl1
)
# Tests: gcc builds the layout probe and the test OpenXR runtime; curl and openssl are
# interop peers; xvfb + xauth give the real xcb window a display.
TEST_PACKAGES=(gcc libc6-dev curl openssl xvfb xauth desktop-file-utils)
# Installers: dpkg-deb (dpkg-dev for dpkg-architecture and friends), the three
# validators of the .deb (desktop-file-validate, appstreamcli, lintian), pipx for the
# wheel test, binutils for objdump (PyInstaller's dependency analysis on Linux).
INSTALLER_PACKAGES=(dpkg-dev fakeroot lintian appstream desktop-file-utils pipx binutils)
# make stress-test: stress-ng keeps the cores busy while the suite runs.
STRESS_PACKAGES=(stress-ng)

want=("${RUN_PACKAGES[@]}")
case "${1:-run}" in
  run) ;;
  test) want+=("${TEST_PACKAGES[@]}") ;;
  installers) want+=("${TEST_PACKAGES[@]}" "${INSTALLER_PACKAGES[@]}") ;;
  stress) want+=("${TEST_PACKAGES[@]}" "${STRESS_PACKAGES[@]}") ;;
  list-run) printf '%s\n' "${RUN_PACKAGES[@]}"; exit 0 ;;
  *) echo "usage: $0 run|test|installers|stress|list-run" >&2; exit 2 ;;
esac

missing=()
for pkg in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
# Debian's own python3 needs python3-venv for `python3 -m venv`. Check the interpreter
# the Makefile makes the venv with (it passes PYTHON).
if ! "${PYTHON:-python3}" -c 'import ensurepip, venv' 2>/dev/null; then
  missing+=(python3-venv)
fi

[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "holoremote: not a Debian system; install the equivalents of: ${missing[*]}" >&2
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "holoremote: missing system packages: ${missing[*]}" >&2
  echo "Install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "holoremote: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
