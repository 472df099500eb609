"""`holoremote --install-desktop-entry`: put a wheel (pipx) install into the menus.

A .deb installs its desktop file and icons system-wide; pip and pipx cannot write
outside their prefix, and files under <venv>/share are where no desktop environment
looks. So the program writes, on request, a desktop file whose Exec is the command
that was run, and its icons, into the user's data directory (XDG Base Directory:
$XDG_DATA_HOME, default ~/.local/share), where every freedesktop.org desktop looks
(Desktop Entry Specification, "Desktop File Installation"; Icon Theme Specification,
hicolor). `--remove-desktop-entry` takes exactly those files away again.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

APP_ID = "holoremote"
RESOURCES = Path(__file__).resolve().parent / "resources"
ICONS = RESOURCES / "icons"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256)

# Desktop Entry Specification, "The Exec key": an argument holding any of these
# must be quoted, and inside quotes ", `, $ and \ are escaped with a backslash.
_RESERVED = re.compile(r"[\s\"'\\><~|&;$*?#()`]")


class DesktopEntryError(Exception):
    """The entry cannot be installed here (not a freedesktop.org system)."""


def supported(platform: str | None = None) -> bool:
    """Desktop files are a freedesktop.org convention: Linux and the BSDs."""
    name = sys.platform if platform is None else platform
    return name.startswith(("linux", "freebsd", "openbsd", "netbsd"))


def data_home(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    configured = env.get("XDG_DATA_HOME", "")
    # The spec: a relative path is invalid and is ignored.
    if configured and os.path.isabs(configured):
        return Path(configured)
    return Path(env.get("HOME") or Path.home()) / ".local" / "share"


def quote_exec_argument(argument: str) -> str:
    # '%' starts a field code anywhere in Exec; a literal one is written '%%'.
    literal = argument.replace("%", "%%")
    if argument and not _RESERVED.search(argument):
        return literal
    return '"' + re.sub(r'(["`$\\])', r"\\\1", literal) + '"'


def launch_command(argv0: str | None = None) -> list[str]:
    """The command that opens the window, as this program was started: the
    `holoremote` script next to the one run (pipx puts both in one bin folder), else
    this interpreter with `-m app`."""
    started = Path(argv0 if argv0 is not None else sys.argv[0])
    if started.name in ("holoremote", "holoremote-cli"):
        located = shutil.which(str(started)) if started.parent == Path() else str(started)
        if located:
            window = Path(located).absolute().with_name("holoremote")
            if window.is_file():
                return [str(window)]
    return [sys.executable, "-m", "app"]


def desktop_file_text(command: list[str]) -> str:
    template = (RESOURCES / f"{APP_ID}.desktop").read_text(encoding="utf-8")
    exec_line = "Exec=" + " ".join(quote_exec_argument(part) for part in command)
    lines = [exec_line if line.startswith("Exec=") else line for line in template.splitlines()]
    return "\n".join(lines) + "\n"


def entry_paths(home: Path) -> list[Path]:
    """Every file the entry consists of, under the data directory `home`."""
    icons = home / "icons" / "hicolor"
    return [
        home / "applications" / f"{APP_ID}.desktop",
        icons / "scalable" / "apps" / f"{APP_ID}.svg",
        *(icons / f"{n}x{n}" / "apps" / f"{APP_ID}.png" for n in PNG_SIZES),
    ]


def install(home: Path, command: list[str]) -> list[Path]:
    desktop, svg, *pngs = entry_paths(home)
    sources = [ICONS / f"{APP_ID}.svg", *(ICONS / f"{APP_ID}-{n}.png" for n in PNG_SIZES)]
    for source, target in zip(sources, [svg, *pngs], strict=True):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    desktop.parent.mkdir(parents=True, exist_ok=True)
    desktop.write_text(desktop_file_text(command), encoding="utf-8")
    return [desktop, svg, *pngs]


def remove(home: Path) -> list[Path]:
    removed = []
    for path in entry_paths(home):
        if path.is_file():
            path.unlink()
            removed.append(path)
    return removed


def run(action: str) -> int:
    """The two top-level flags of the command line; 0 done, 2 not possible here."""
    if not supported():
        print(
            "holoremote: desktop entries are a Linux desktop feature; on Windows the "
            "installer adds the Start-menu entry.",
            file=sys.stderr,
        )
        return 2
    home = data_home()
    try:
        if action == "install":
            done = install(home, launch_command())
            verb = "installed"
        else:
            done = remove(home)
            verb = "removed"
    except OSError as exc:
        print(
            f"holoremote: the desktop entry cannot be written under {home} "
            f"({exc.strerror}); set XDG_DATA_HOME to a writable folder.",
            file=sys.stderr,
        )
        return 2
    print(f"desktop entry {verb}: {len(done)} files under {home}")
    for path in done:
        print(f"  {path}")
    return 0
