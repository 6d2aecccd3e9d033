import threading
from pathlib import Path

import pytest

from ui.editor.errors import ConflictError, NotFoundError
from ui.editor.versions import VersionStore


def _save(store: VersionStore, text: str, base: int | None, author: str) -> int:
    with store.lock():
        store.check_base("doc", base, text, author=author, message="")
        return store.append("doc", text, status="draft", author=author, message="", base=base).n


def test_versions_are_appended_and_read_back(tmp_path: Path) -> None:
    store = VersionStore(tmp_path / "h")
    assert _save(store, "one\n", None, "a") == 1
    assert _save(store, "two\n", 1, "b") == 2
    assert [v.n for v in store.log("doc")] == [1, 2]
    assert store.text("doc", 1) == "one\n"
    assert store.head("doc").author == "b"  # type: ignore[union-attr]
    assert store.diff("doc", 1, 2).splitlines()[2:] == ["@@ -1 +1 @@", "-one", "+two"]
    with pytest.raises(NotFoundError, match="no version 7"):
        store.text("doc", 7)


def test_a_stale_base_is_refused_and_its_text_kept_as_a_conflict(tmp_path: Path) -> None:
    store = VersionStore(tmp_path / "h")
    _save(store, "base\n", None, "a")
    _save(store, "first edit\n", 1, "a")
    with pytest.raises(ConflictError) as err:
        _save(store, "second edit\n", 1, "b")
    assert (err.value.base, err.value.current, err.value.saved_as) == (1, 2, 3)
    assert "-first edit" in err.value.diff and "+second edit" in err.value.diff
    assert store.text("doc", 3) == "second edit\n"  # nothing lost
    assert store.get("doc", 3).status == "conflict"
    assert store.head("doc").n == 2  # type: ignore[union-attr]  # a conflict never becomes the head


def test_two_threads_saving_from_the_same_base_one_wins(tmp_path: Path) -> None:
    _save(VersionStore(tmp_path / "h"), "base\n", None, "a")
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def edit(name: str) -> None:
        store = VersionStore(tmp_path / "h")  # each editor its own store object, as two requests would
        barrier.wait()
        try:
            results[name] = _save(store, f"{name}\n", 1, name)
        except ConflictError as e:
            results[name] = e

    threads = [threading.Thread(target=edit, args=(n,)) for n in ("x", "y")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    outcomes = sorted(results.values(), key=lambda r: isinstance(r, ConflictError))
    assert outcomes[0] == 2 and isinstance(outcomes[1], ConflictError)
    texts = {VersionStore(tmp_path / "h").text("doc", n) for n in (2, 3)}
    assert texts == {"x\n", "y\n"}  # both texts are in the history


def test_keys_must_be_plain_names(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        VersionStore(tmp_path / "h").log("../etc")
