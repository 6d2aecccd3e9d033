from dataclasses import dataclass

from assistant.result import Turn
from evals.baseline import DenseBaseline, joined_customer_turns


@dataclass(frozen=True)
class _Chunk:
    doc_id: str


@dataclass(frozen=True)
class _Scored:
    chunk: _Chunk
    score: float


class FakeIndex:
    """The one call the baseline makes of an index: dense search, chunks best first."""

    def __init__(self, docs: list[str]) -> None:
        self.docs = docs
        self.queries: list[str] = []

    def search_dense(self, query: str, k: int) -> list[_Scored]:
        self.queries.append(query)
        return [_Scored(_Chunk(d), 1.0 - n / 100) for n, d in enumerate(self.docs[:k])]


def test_the_baseline_reads_the_customer_turns_as_typed() -> None:
    turns = [Turn("customer", "在吗"), Turn("agent", "您好"), Turn("customer", "[订单x] 能退吗")]
    assert joined_customer_turns(turns) == "在吗 [订单x] 能退吗"


def test_the_baseline_lists_each_document_once_best_first() -> None:
    index = FakeIndex(["a", "a", "b", "c", "b", "d"])
    baseline = DenseBaseline(index, k=3)  # type: ignore[arg-type]
    assert baseline.run([Turn("customer", "能退吗")]) == ["a", "b", "c"]
    assert index.queries == ["能退吗"]
