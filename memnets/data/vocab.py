"""The vocabulary: words to ids, with id 0 for padding (the nil word) and id 1 for words never seen in training."""
from __future__ import annotations

from collections.abc import Iterable

from memnets.data.babi import QARecord, tokenize

NIL, UNK = "<nil>", "<unk>"


class Vocab:
    """A fixed list of words; ``encode`` maps unknown words to the ``<unk>`` id instead of failing."""

    def __init__(self, words: Iterable[str]):
        self.words = list(words)
        if self.words[:2] != [NIL, UNK]:
            raise ValueError(f"a vocabulary starts with {NIL!r}, {UNK!r}; got {self.words[:2]}")
        self.index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def build(cls, records: Iterable[QARecord]) -> Vocab:
        """Every word of the stories, questions and answers, in sorted order (answers are single entries)."""
        seen: set[str] = set()
        for r in records:
            for sentence in (*r.story, r.question):
                seen.update(tokenize(sentence))
            seen.add(r.answer)
        return cls([NIL, UNK, *sorted(seen)])

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        return [self.index.get(t, 1) for t in tokens]
