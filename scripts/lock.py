"""The dependency lock, requirements.lock: write it, check it is current, keep a virtualenv equal to it.

    python3.11 scripts/lock.py write --uv UV [--upgrade]   # `make lock` / `make lock-upgrade`
    python3.11 scripts/lock.py check                       # exit 1 when pyproject.toml changed since `make lock`
    python3.11 scripts/lock.py pin pip                     # one package's locked line, hashes included
    .venv/bin/python scripts/lock.py sync                  # make the running venv equal to the lock, or fail

pyproject.toml keeps compatible ranges (for people who install Kefu as a library); the lock pins every package
that those ranges, the build requirements and the extras named in ``[tool.kefu.lock]`` resolve to, and pip
itself (the installer), exact version and SHA-256 hashes, for the project's machine (CPython 3.11, Linux x86_64). ``make setup`` installs it
with ``pip --require-hashes --no-deps``, so pip resolves nothing and two fresh installs get the same packages.

The lock's header records a SHA-256 of pyproject.toml's dependency tables (``dependencies``,
``optional-dependencies``, ``requires-python``, ``build-system.requires``, ``tool.kefu.lock``); ``check``
recomputes it, so a dependency edited without ``make lock`` stops ``make setup`` (and CI) with the fix in the
message. Other sections of pyproject.toml (ruff, mypy, pytest) do not touch the digest.

``write`` keeps the lock's current pins wherever they still satisfy pyproject.toml (uv prefers the versions in
its output file), so adding one dependency changes only what that dependency brings; ``--upgrade`` re-resolves
everything to the newest allowed releases. Packages in ``no-deps`` are locked (with hashes) but their own
dependencies are not: Kefu uses one data file of each. Only the standard library is imported here, so ``check``
runs before anything is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LOCK_NAME = "requirements.lock"
DIGEST_PREFIX = "# pyproject-dependencies-sha256: "
# Locked beside the dependencies: the installer, so every machine installs with the same pip.
INSTALLER = "pip"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


class LockError(Exception):
    """The lock cannot be used or written; the message says what to do."""


def dependency_tables(pyproject: dict[str, Any]) -> dict[str, Any]:
    """The parts of pyproject.toml the lock is resolved from (and nothing else)."""
    project = pyproject.get("project", {})
    return {
        "requires-python": project.get("requires-python"),
        "dependencies": project.get("dependencies", []),
        "optional-dependencies": project.get("optional-dependencies", {}),
        "build-system.requires": pyproject.get("build-system", {}).get("requires", []),
        "tool.kefu.lock": lock_settings(pyproject),
    }


def lock_settings(pyproject: dict[str, Any]) -> dict[str, Any]:
    settings: dict[str, Any] = pyproject.get("tool", {}).get("kefu", {}).get("lock", {})
    return settings


def digest(pyproject_text: str) -> str:
    """SHA-256 of the dependency tables, independent of formatting, comments and key order.

    >>> a = digest('[project]\\ndependencies = ["numpy>=1.26"]\\n[tool.ruff]\\nline-length = 120\\n')
    >>> a == digest('[project]\\ndependencies = [ "numpy>=1.26" ]  # same\\n')
    True
    >>> a == digest('[project]\\ndependencies = ["numpy>=2"]\\n')
    False
    """
    tables = dependency_tables(tomllib.loads(pyproject_text))
    return hashlib.sha256(json.dumps(tables, sort_keys=True).encode()).hexdigest()


def recorded_digest(lock_text: str) -> str | None:
    for line in lock_text.splitlines():
        if line.startswith(DIGEST_PREFIX):
            return line.removeprefix(DIGEST_PREFIX).strip()
    return None


def check(root: Path = ROOT) -> None:
    """Raise LockError unless the lock was written from pyproject.toml's current dependency tables."""
    lock = root / LOCK_NAME
    if not lock.is_file():
        raise LockError(f"{LOCK_NAME} is missing: run `make lock` and commit {LOCK_NAME}")
    recorded = recorded_digest(lock.read_text(encoding="utf-8"))
    current = digest((root / "pyproject.toml").read_text(encoding="utf-8"))
    if recorded != current:
        raise LockError(
            f"{LOCK_NAME} is out of date: pyproject.toml's dependencies (or [tool.kefu.lock]) changed since it was "
            f"generated. Run `make lock` and commit {LOCK_NAME} with pyproject.toml "
            f"(recorded digest {recorded or 'none'}, pyproject.toml now {current})."
        )


def pins(lock_text: str) -> dict[str, str]:
    """Normalized name → version of every package line in a requirements file (or `pip freeze` output)."""
    found: dict[str, str] = {}
    for line in lock_text.splitlines():
        if match := _PIN.match(line):
            found[normalize(match[1])] = match[2]
    return found


def normalize(name: str) -> str:
    """PEP 503 name: `Typing_Extensions` and `typing.extensions` are `typing-extensions`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def header(current_digest: str, settings: dict[str, Any]) -> str:
    return "\n".join(
        [
            "# Every package Kefu installs, exact versions and hashes: `make setup` runs",
            f"#   pip install --require-hashes --no-deps -r {LOCK_NAME}",
            "# Generated by `make lock` (scripts/lock.py) from pyproject.toml; do not edit by hand.",
            f"# Resolved for CPython {settings['python']} on {settings['platform']}, extras "
            + ", ".join(settings["extras"])
            + ".",
            f"{DIGEST_PREFIX}{current_digest}",
            "",
        ]
    )


def _uv_compile(uv: str, args: list[str], stdin: str, cwd: Path) -> None:
    result = subprocess.run([uv, "pip", "compile", *args], input=stdin, text=True, cwd=cwd, check=False)
    if result.returncode != 0:
        raise LockError(f"uv pip compile failed (exit {result.returncode}); {LOCK_NAME} was left unchanged")


def write(uv: str, upgrade: bool = False, root: Path = ROOT) -> Path:
    """Resolve pyproject.toml into the lock; the old lock stays in place if resolution fails."""
    pyproject_text = (root / "pyproject.toml").read_text(encoding="utf-8")
    pyproject = tomllib.loads(pyproject_text)
    settings = lock_settings(pyproject)
    missing = {"extras", "python", "platform"} - settings.keys()
    if missing:
        raise LockError(f"pyproject.toml: [tool.kefu.lock] needs {', '.join(sorted(missing))}")
    lock = root / LOCK_NAME
    common = ["--quiet", "--generate-hashes", "--no-header", "--python-version", settings["python"]]
    common += ["--python-platform", settings["platform"]]
    for location in settings.get("find-links", []):
        common += ["--find-links", location]
    with tempfile.TemporaryDirectory() as tmp:
        main = Path(tmp) / "main.txt"
        if lock.is_file():
            shutil.copyfile(lock, main)  # uv keeps the pins it finds in its output file
        args = ["pyproject.toml", "-", *common, "--emit-find-links", "-o", str(main)]
        for extra in settings["extras"]:
            args += ["--extra", extra]
        if upgrade:
            args.append("--upgrade")
        build_requires = pyproject.get("build-system", {}).get("requires", [])
        _uv_compile(uv, args, "\n".join([INSTALLER, *build_requires]), root)
        resolved = main.read_text(encoding="utf-8").strip()
        parts = [header(digest(pyproject_text), settings), resolved, ""]
        no_deps = settings.get("no-deps", [])
        if no_deps:
            out = Path(tmp) / "no-deps.txt"
            _uv_compile(uv, ["-", *common, "--no-deps", "--no-annotate", "-o", str(out)], "\n".join(no_deps), root)
            without_deps = out.read_text(encoding="utf-8").strip()
            clash = pins(resolved).keys() & pins(without_deps).keys()
            if clash:
                raise LockError(f"[tool.kefu.lock] no-deps lists {', '.join(sorted(clash))}, already a dependency")
            parts += ["# Installed without their dependencies ([tool.kefu.lock] no-deps):", without_deps, ""]
        text = "\n".join(parts)
    lock.write_text(text, encoding="utf-8")
    return lock


def pin(lock_text: str, name: str) -> str:
    """The lock's line for one package (with its hashes), as a requirements file pip accepts on its own."""
    lines = lock_text.splitlines()
    for i, line in enumerate(lines):
        if (match := _PIN.match(line)) and normalize(match[1]) == normalize(name):
            block = [line]
            while block[-1].endswith("\\") and i + len(block) < len(lines):
                block.append(lines[i + len(block)])
            return "\n".join(block) + "\n"
    raise LockError(f"{name} is not in {LOCK_NAME}: run `make lock`")


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, check=False)


def sync(lock_text: str, no_deps: list[str]) -> list[str]:
    """Make the running interpreter's environment hold exactly the lock; return what was uninstalled.

    `pip install --no-deps -r` installs and replaces but never removes, so a virtualenv made from an older
    lock keeps a dependency that was dropped: it is uninstalled here. Then every locked version must be the
    installed one, and `pip check` must pass, except for the dependencies of `no_deps` packages, which are
    left out on purpose. The editable project itself is not in the lock and is left alone.
    """
    locked = pins(lock_text)
    installed = pins(_pip("freeze", "--all", "--exclude-editable").stdout)
    extra = sorted(installed.keys() - locked.keys())
    if extra:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", *extra], check=True)
    wrong = [
        f"{name} {version} (installed: {installed.get(name, 'none')})"
        for name, version in locked.items()
        if installed.get(name) != version
    ]
    if wrong:
        raise LockError(f"the virtualenv does not match {LOCK_NAME}: {'; '.join(wrong)}; run `make clean setup`")
    skipped = {normalize(requirement.split("==")[0]) for requirement in no_deps}
    problems = [
        line for line in _pip("check").stdout.splitlines() if line.strip() and normalize(line.split()[0]) not in skipped
    ]
    if problems:
        raise LockError(f"pip check: {'; '.join(problems)}; the lock is inconsistent, run `make lock`")
    return extra


def lock_text() -> str:
    try:
        return (ROOT / LOCK_NAME).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LockError(f"{LOCK_NAME} is missing: run `make lock` and commit it") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    write_cmd = sub.add_parser("write", help="resolve pyproject.toml into requirements.lock")
    write_cmd.add_argument("--uv", required=True, help="the uv executable")
    write_cmd.add_argument("--upgrade", action="store_true", help="newest allowed releases, not the current pins")
    sub.add_parser("check", help="fail when pyproject.toml changed since the lock was written")
    pin_cmd = sub.add_parser("pin", help="print one package's locked line")
    pin_cmd.add_argument("name")
    sub.add_parser("sync", help="uninstall what the lock does not list, verify the rest (run with the venv's python)")
    args = parser.parse_args(argv)
    try:
        if args.command == "write":
            print(f"wrote {write(args.uv, upgrade=args.upgrade)}")
        elif args.command == "check":
            check()
        elif args.command == "pin":
            print(pin(lock_text(), args.name), end="")
        else:
            settings = lock_settings(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8")))
            removed = sync(lock_text(), settings.get("no-deps", []))
            print(f"virtualenv matches {LOCK_NAME}" + (f"; removed {', '.join(removed)}" if removed else ""))
    except LockError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
