from pathlib import Path

from indexer.store import CURRENT, KEEP_GENERATIONS, commit_generation, new_generation


def test_generations_written_in_one_second_are_kept_newest_first(tmp_path: Path) -> None:
    made = []
    for i in range(KEEP_GENERATIONS + 2):  # well within one second
        tmp = new_generation(tmp_path)
        (tmp / "manifest.json").write_text(f'{{"n": {i}}}', encoding="utf-8")
        made.append(commit_generation(tmp_path, tmp).name)
    kept = sorted(p.name for p in tmp_path.glob("gen-*"))
    assert kept == made[-KEEP_GENERATIONS:]
    assert (tmp_path / CURRENT).read_text(encoding="utf-8") == made[-1]
