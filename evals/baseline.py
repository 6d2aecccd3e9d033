"""The plain-dense retrieval baseline that query formulation must beat (issue 12).

The customer's turns, joined as they were typed (masked tokens, greetings and all), embedded with the index's own
model and searched in the same dense index; documents best first. `kefu eval run` scores it beside the
assistant's retrieval on the same cases (`retrieval.dense_baseline.*`).

>>> DenseBaseline(index).run([Turn("customer", "你好"), Turn("customer", "能退吗")])[:1]
['policy-return-7day']
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant.result import Turn
from indexer.index import Index


def joined_customer_turns(turns: Sequence[Turn]) -> str:
    """Every customer turn, oldest first, joined by spaces: the query of a retriever that reads the chat as is."""
    return " ".join(t.text for t in turns if t.role == "customer")


class DenseBaseline:
    """Dense retrieval of the joined customer turns; one entry per document, best first."""

    def __init__(self, index: Index, *, k: int = 10, depth: int = 40) -> None:
        self.index = index
        self.k = k
        self.depth = max(depth, k * 4)

    def run(self, turns: Sequence[Turn]) -> list[str]:
        docs: list[str] = []
        for hit in self.index.search_dense(joined_customer_turns(turns), self.depth):
            if hit.chunk.doc_id not in docs:
                docs.append(hit.chunk.doc_id)
            if len(docs) == self.k:
                break
        return docs
