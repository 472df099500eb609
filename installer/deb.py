"""Build the Debian package from the PyInstaller bundle (`make deb`), and validate it.

    python installer/deb.py [--bundle dist/holoremote-<version>] [--out dist]
        -> dist/holoremote_<version>_<arch>.deb, then desktop-file-validate,
           appstreamcli validate and lintian on what it built (non-zero on an error)

Layout (issue 16): the bundle in /opt/holoremote, /usr/bin/holoremote and
/usr/bin/holoremote-cli as symlinks into it (absolute: Debian policy 10.5 between
top-level directories; the PyInstaller bootloader finds its folder through
/proc/self/exe, so a symlink works), the desktop file in
/usr/share/applications, the icons in hicolor, AppStream metainfo in
/usr/share/metainfo, man pages, copyright and changelog in /usr/share/doc, and the
lintian overrides (each with its reason) in /usr/share/lintian/overrides. Built with
the standard tool, `dpkg-deb --root-owner-group`, so no fakeroot is needed.

Depends: the libraries of the Qt xcb and wayland platforms that the bundle does not
carry (one list, `scripts/system-deps.sh list-run`, which `make run` installs too) and
the newest glibc symbol version any bundled ELF file asks for.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app import package_version  # noqa: E402
from app.cli import COMMANDS  # noqa: E402

PACKAGE = "holoremote"
# Who answers for the package; set DEB_MAINTAINER when you publish it.
MAINTAINER = os.environ.get(
    "DEB_MAINTAINER", "holoremote maintainers <maintainers@users.noreply.github.com>"
)
RESOURCES = ROOT / "app" / "resources"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)
EXECUTABLES = ("holoremote", "holoremote-cli")

SUMMARY = "secure Holographic Remoting connections through OpenXR"
DESCRIPTION = """\
 holoremote sets up and diagnoses secure Holographic Remoting connections (the
 OpenXR extension XR_MSFT_holographic_remoting) between a PC and a headset: a
 desktop window (holoremote) and a command line (holoremote-cli) with the same
 engine. It shows the four secure-connection callbacks live, the certificate
 chain with every validation check and its reason, and makes test PKIs.
 .
 This package carries its own Python, Qt and the Khronos OpenXR loader in
 /opt/holoremote (a PyInstaller bundle)."""

# Each override says why the tag does not apply to a self-contained bundle in /opt.
LINTIAN_OVERRIDES = """\
# holoremote ships a self-contained PyInstaller bundle (its own Python, Qt, OpenSSL
# and the Khronos OpenXR loader) as an add-on application in /opt/holoremote; the
# tags below are about that choice, each with its reason.
# FHS 3.0 section 3.13: /opt is for add-on application packages, which this is (a
# bundle built outside Debian's archive, not a package for the archive).
{package}: dir-or-file-in-opt [opt/holoremote/*]
# The bundle's private copies of libraries (zlib, expat, libpng, freetype, ...
# inside the upstream wheels' binaries): what the bundle was built and tested with.
{package}: embedded-library *[opt/holoremote/_internal/*]
# Built by PyInstaller and the upstream wheels, not by Debian's toolchain. The
# wheels' libraries are not stripped because strip breaks what auditwheel's
# patchelf rewrote (installer/README.md); the bootloader is not PIE as built.
{package}: unstripped-binary-or-object [opt/holoremote/*]
{package}: hardening-no-pie [opt/holoremote/*]
# Python extension modules and private libraries of the bundle, not public shared
# libraries: they need no shlibs, and the ICU data library links nothing.
{package}: shared-library-lacks-prerequisites [opt/holoremote/_internal/*]
{package}: library-not-linked-against-libc [opt/holoremote/_internal/*]
# The RUNPATH the build machine's Python carries on libpython and its extension
# modules (its own lib folder, e.g. /root/.pyenv/...): PyInstaller copies the files
# as they are; the folder is absent on an installed system, and only root can
# create it. A build with Debian's python3 has no such RUNPATH.
{package}: custom-library-search-path *[opt/holoremote/_internal/*]
# numpy's license folder repeats its package name (numpy/_core/include/numpy).
{package}: repeated-path-segment numpy [opt/holoremote/_internal/numpy-*.dist-info/*]
"""


@dataclass(frozen=True)
class Built:
    deb: Path
    staging: Path
    version: str
    architecture: str


def _run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, text=True, capture_output=True, check=False, **kwargs)  # type: ignore[call-overload,no-any-return]


def architecture() -> str:
    return _run(["dpkg", "--print-architecture"]).stdout.strip()


def run_depends() -> list[str]:
    listed = _run([str(ROOT / "scripts" / "system-deps.sh"), "list-run"])
    if listed.returncode != 0:
        raise SystemExit(f"scripts/system-deps.sh list-run failed: {listed.stderr}")
    return listed.stdout.split()


def _is_elf(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"\x7fELF"


def glibc_requirement(tree: Path) -> str:
    """The newest GLIBC_x.y symbol version any ELF file under `tree` needs."""
    newest = (2, 0)
    files = [p for p in tree.rglob("*") if p.is_file() and not p.is_symlink() and _is_elf(p)]
    for start in range(0, len(files), 64):
        dumped = _run(["objdump", "-T", *map(str, files[start : start + 64])])
        for major, minor in re.findall(r"\bGLIBC_(\d+)\.(\d+)", dumped.stdout):
            newest = max(newest, (int(major), int(minor)))
    return f"libc6 (>= {newest[0]}.{newest[1]})"


def metainfo(version: str) -> str:
    text = (RESOURCES / f"{PACKAGE}.metainfo.xml").read_text(encoding="utf-8")
    today = datetime.now(UTC).date().isoformat()
    releases = f'  <releases>\n    <release version="{version}" date="{today}"/>\n  </releases>\n'
    return text.replace("</component>", releases + "</component>")


def man_page(name: str, version: str) -> str:
    """A short man page per executable (Debian policy 12.1: every program has one)."""
    window = name == "holoremote"
    lines = [
        f'.TH {name.upper()} 1 "" "{PACKAGE} {version}" "User Commands"',
        ".SH NAME",
        f"{name} \\- {SUMMARY}",
        ".SH SYNOPSIS",
        f".B {name}",
        "[\\fB\\-\\-version\\fR] [\\fICOMMAND\\fR [\\fIOPTIONS\\fR]]",
        ".SH DESCRIPTION",
        (
            "Without a command, opens the window; with one, runs it headless."
            if window
            else "The console form of \\fBholoremote\\fR: the same commands, for terminals "
            "and scripts."
        ),
        f"Run \\fB{name} COMMAND \\-\\-help\\fR for the options of a command.",
        ".SH COMMANDS",
    ]
    for command, (_module, help_text) in COMMANDS.items():
        lines += [".TP", f".B {command}", help_text.replace("-", "\\-")]
    lines += [
        ".SH EXIT STATUS",
        "0 done, 2 usage or unusable input, 3 the connection failed.",
        ".SH SEE ALSO",
        "/usr/share/doc/holoremote/",
    ]
    return "\n".join(lines) + "\n"


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def _write(path: Path, data: bytes | str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    path.chmod(mode)


def copyright_text() -> str:
    license_text = (
        (ROOT / "LICENSE").read_text(encoding="utf-8") if (ROOT / "LICENSE").is_file() else ""
    )
    mit = license_text or (
        "Permission is hereby granted, free of charge, to any person obtaining a copy of this\n"
        'software and associated documentation files (the "Software"), to deal in the Software\n'
        "without restriction, including without limitation the rights to use, copy, modify,\n"
        "merge, publish, distribute, sublicense, and/or sell copies of the Software, and to\n"
        "permit persons to whom the Software is furnished to do so, subject to the following\n"
        "conditions:\n\nThe above copyright notice and this permission notice shall be included\n"
        'in all copies or substantial portions of the Software.\n\nTHE SOFTWARE IS PROVIDED "AS\n'
        'IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE\n'
        "WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN\n"
        "NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR\n"
        "OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT\n"
        "OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.\n"
    )
    body = "\n".join(" " + (line if line.strip() else ".") for line in mit.strip().splitlines())
    return (
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        f"Upstream-Name: {PACKAGE}\n\n"
        "Files: *\n"
        f"Copyright: {datetime.now(UTC).year} holoremote contributors\n"
        "License: Expat\n\n"
        "Files: opt/holoremote/_internal/*\n"
        "Copyright: the authors of each bundled component\n"
        "License: various\n"
        " The bundle carries CPython (PSF-2.0), Qt and PySide6 (LGPL-3), OpenSSL\n"
        " (Apache-2.0), cryptography (Apache-2.0 or BSD-3-clause), numpy (BSD-3-clause),\n"
        " PyOpenGL (BSD-3-clause), pyopenxr and the Khronos OpenXR loader (Apache-2.0)\n"
        " and the other dependencies in pyproject.toml; each one's license text is in\n"
        " its *.dist-info folder or its own folder under /opt/holoremote/_internal.\n\n"
        f"License: Expat\n{body}\n"
    )


def _normalise_modes(tree: Path) -> None:
    """Directories 0755; the two programs 0755; everything else 0644 (shared
    libraries too: Debian policy 8.1, they are not run)."""
    for path in tree.rglob("*"):
        if path.is_symlink():
            continue
        if path.is_dir() or (path.parent == tree and path.name in EXECUTABLES):
            path.chmod(0o755)
        else:
            path.chmod(0o644)


def stage(bundle: Path, staging: Path, version: str, arch: str) -> None:
    if staging.exists():
        shutil.rmtree(staging)
    opt = staging / "opt" / PACKAGE
    shutil.copytree(bundle, opt, symlinks=True)
    _normalise_modes(opt)
    usr = staging / "usr"
    (usr / "bin").mkdir(parents=True)
    for name in EXECUTABLES:
        (usr / "bin" / name).symlink_to(f"/opt/{PACKAGE}/{name}")
    share = usr / "share"
    _write(
        share / "applications" / f"{PACKAGE}.desktop",
        (RESOURCES / f"{PACKAGE}.desktop").read_bytes(),
    )
    hicolor = share / "icons" / "hicolor"
    _write(
        hicolor / "scalable" / "apps" / f"{PACKAGE}.svg",
        (RESOURCES / "icons" / f"{PACKAGE}.svg").read_bytes(),
    )
    for size in ICON_SIZES:
        png = (RESOURCES / "icons" / f"{PACKAGE}-{size}.png").read_bytes()
        _write(hicolor / f"{size}x{size}" / "apps" / f"{PACKAGE}.png", png)
    _write(share / "metainfo" / f"{PACKAGE}.metainfo.xml", metainfo(version))
    for name in EXECUTABLES:
        _write(share / "man" / "man1" / f"{name}.1.gz", _gzip(man_page(name, version).encode()))
    doc = share / "doc" / PACKAGE
    _write(doc / "copyright", copyright_text())
    stamp = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    changelog = (
        f"{PACKAGE} ({version}) unstable; urgency=medium\n\n"
        f"  * Release {version}: see README.md of the source for what it holds.\n\n"
        f" -- {MAINTAINER}  {stamp}\n"
    )
    _write(doc / "changelog.gz", _gzip(changelog.encode()))
    _write(share / "lintian" / "overrides" / PACKAGE, LINTIAN_OVERRIDES.format(package=PACKAGE))

    installed_kib = sum(
        (p.lstat().st_size + 1023) // 1024 for p in staging.rglob("*") if not p.is_dir()
    )
    depends = [glibc_requirement(opt), *run_depends()]
    control = (
        f"Package: {PACKAGE}\n"
        f"Version: {version}\n"
        f"Architecture: {arch}\n"
        f"Maintainer: {MAINTAINER}\n"
        f"Installed-Size: {installed_kib}\n"
        f"Depends: {', '.join(depends)}\n"
        "Section: net\n"
        "Priority: optional\n"
        f"Description: {SUMMARY}\n{DESCRIPTION}\n"
    )
    debian = staging / "DEBIAN"
    _write(debian / "control", control)
    sums = []
    for path in sorted(p for p in staging.rglob("*") if p.is_file() and not p.is_symlink()):
        relative = path.relative_to(staging).as_posix()
        if not relative.startswith("DEBIAN/"):
            sums.append(f"{hashlib.md5(path.read_bytes()).hexdigest()}  {relative}\n")  # noqa: S324 - dpkg's format
    _write(debian / "md5sums", "".join(sums))
    for directory in [
        staging,
        *(p for p in staging.rglob("*") if p.is_dir() and not p.is_symlink()),
    ]:
        directory.chmod(0o755)


def build(bundle: Path, out: Path) -> Built:
    version = package_version()
    arch = architecture()
    staging = ROOT / "build" / "deb" / f"{PACKAGE}_{version}_{arch}"
    stage(bundle, staging, version, arch)
    out.mkdir(parents=True, exist_ok=True)
    deb = out / f"{PACKAGE}_{version}_{arch}.deb"
    made = _run(["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(staging), str(deb)])
    if made.returncode != 0:
        raise SystemExit(f"dpkg-deb failed:\n{made.stderr}")
    return Built(deb, staging, version, arch)


@dataclass(frozen=True)
class Validation:
    tool: str
    returncode: int
    output: str

    def errors(self) -> list[str]:
        if self.tool == "lintian":
            return [line for line in self.output.splitlines() if line.startswith("E:")]
        if self.tool == "appstreamcli":
            return [line for line in self.output.splitlines() if line.startswith("E:")]
        return [line for line in self.output.splitlines() if "error:" in line]


def validate(built: Built) -> list[Validation]:
    share = built.staging / "usr" / "share"
    checks = [
        ("desktop-file-validate", [str(share / "applications" / f"{PACKAGE}.desktop")]),
        (
            "appstreamcli",
            [
                "validate",
                "--no-net",
                "--pedantic",
                str(share / "metainfo" / f"{PACKAGE}.metainfo.xml"),
            ],
        ),
        (
            "lintian",
            ["--no-tag-display-limit", "--info", "--pedantic", "--show-overrides", str(built.deb)],
        ),
    ]
    results = []
    for tool, arguments in checks:
        done = _run([tool, *arguments], env={**os.environ, "LC_ALL": "C.UTF-8"})
        results.append(Validation(tool, done.returncode, done.stdout + done.stderr))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    version = package_version()
    parser.add_argument("--bundle", type=Path, default=ROOT / "dist" / f"{PACKAGE}-{version}")
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--no-validate", action="store_true")
    args = parser.parse_args()
    if not (args.bundle / "holoremote-cli").is_file():
        print(f"deb: no bundle at {args.bundle}; run 'make bundle' first", file=sys.stderr)
        return 2
    built = build(args.bundle, args.out)
    size = built.deb.stat().st_size
    print(f"deb: {built.deb} ({size / 1e6:.1f} MB)")
    if args.no_validate:
        return 0
    failed = False
    for result in validate(built):
        print(f"--- {result.tool} (exit {result.returncode})")
        print(result.output.rstrip() or "(no output)")
        failed = failed or bool(result.errors())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
