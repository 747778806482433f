"""Knowledge-base question answering data for Key-Value Memory Networks (Miller et al., "Key-Value Memory Networks
for Directly Reading Documents", EMNLP 2016): files -> triples and questions -> memories -> hashed memory lists
-> padded tensors.

Formats read:
  - knowledge bases: MetaQA's ``kb.txt`` (``subject|relation|object``, one triple a line) and the WikiMovies layout
    (``<n> <subject> <relation> <object>, <object>, ...``, numbered per movie, ``has_plot`` lines skipped);
  - questions: MetaQA (``question with [topic entity]<TAB>a|b|c``) and WikiMovies (``1 question?<TAB>a, b, c``).
    Where no brackets mark the topic entity it is found as the longest entity name in the question (§5, "entity
    detection").

Entities are single symbols however many words their names hold. Memories are (key, value) lists of symbols
held once in a :class:`MemoryTable`; each question gets the ids of its memories, chosen by key hashing (§3.1:
an inverted index from entities and rare words to memories) or, for multi-hop questions, by a bounded subgraph
around the topic entity. The documents settings of the paper's analysis (§5.2, Table 3) render the same facts as
text (:func:`render_documents`) and store them as sentence or window memories (:func:`document_memories`).
"""
from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from memnets.data.babi import DataError, decode
from memnets.data.vocab import NIL, UNK, Vocab

TASK_NAMES = {1: "1-hop", 2: "2-hop", 3: "3-hop"}
INVERSE = "_inv"  # suffix of a reverse triple's relation: (o, r_inv, s) for (s, r, o), §5.1
REPRESENTATIONS = ("kb", "sentence", "window", "window-centre", "window-title")
WIKIMOVIES_RELATIONS = ("directed_by", "written_by", "starred_actors", "release_year", "in_language", "has_genre",
                        "has_tags", "has_imdb_rating", "has_imdb_votes", "has_plot")
CENTRE = "\u2299"  # prefix of a centre word's symbol: window + centre encoding gives it its own embedding (§5)
TITLE = "\u2295title"  # the feature a window + title key carries: its value is the document's title (§5)
_WORD = re.compile(r"\w+")


def parse_tasks(spec: str) -> list[int]:
    """Hop counts from "1-hop", "1-hop,3-hop", "1", "all"; a DataError names one that is not a MetaQA task."""
    if spec.strip().lower() == "all":
        return sorted(TASK_NAMES)
    tasks = set()
    for part in spec.split(","):
        name = part.strip().lower()
        hops = name[:-4] if name.endswith("-hop") else name
        if not (hops.isdigit() and int(hops) in TASK_NAMES):
            raise DataError(f"bad task {part.strip()!r}; knowledge-base tasks are 1-hop, 2-hop, 3-hop (or all)")
        tasks.add(int(hops))
    return sorted(tasks)


def words(text: str) -> list[str]:
    """Lower-case word tokens: the same for question text and entity names, so that names can be matched."""
    return _WORD.findall(text.lower())


# ------------------------------------------------------------------------------------------------- readers


def _read_text(path: str | Path) -> str:
    path = Path(path)
    try:
        return decode(path.read_bytes(), str(path))
    except OSError as err:
        raise DataError(f"{path}: cannot be read ({err.strerror or err})") from None


def parse_triples(text: str, source: str) -> list[tuple[str, str, str]]:
    """``subject|relation|object`` lines (MetaQA kb.txt); duplicates are kept once, in first-seen order."""
    triples = {}
    for lineno, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line:
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) != 3 or not all(parts):
            raise DataError(f"{source}:{lineno}: expected 'subject|relation|object', got {line[:60]!r}")
        triples[tuple(parts)] = None
    if not triples:
        raise DataError(f"{source}: no triples found; expected lines 'subject|relation|object'")
    return list(triples)


def parse_wikimovies_kb(text: str, source: str) -> list[tuple[str, str, str]]:
    """The WikiMovies layout: ``<n> <subject> <relation> <obj>, <obj>`` (plot lines, free text, are skipped)."""
    triples = {}
    pattern = re.compile(r"^(\d+) (.+?) (" + "|".join(WIKIMOVIES_RELATIONS) + r") (.+)$")
    for lineno, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line:
            continue
        m = pattern.match(line)
        if not m:
            raise DataError(f"{source}:{lineno}: expected '<n> <subject> <relation> <object>, ...' with a relation "
                            f"of {', '.join(WIKIMOVIES_RELATIONS)}; got {line[:60]!r}")
        _, subject, relation, objects = m.groups()
        if relation == "has_plot":
            continue
        for obj in objects.split(", "):
            if obj.strip():
                triples[(subject.strip(), relation, obj.strip())] = None
    if not triples:
        raise DataError(f"{source}: no triples found; expected WikiMovies lines '<n> <subject> <relation> <objects>'")
    return list(triples)


def read_kb(path: str | Path) -> list[tuple[str, str, str]]:
    """Triples of a knowledge-base file in either layout (told apart by its first line)."""
    text = _read_text(path)
    first = next((line for line in text.split("\n") if line.strip()), "")
    if "|" in first:
        return parse_triples(text, str(path))
    return parse_wikimovies_kb(text, str(path))


@dataclass(frozen=True)
class KBQuestion:
    """One question: its tokens (words, and each entity as one symbol), the entities found, the gold answers."""

    text: str  # as written in the file
    tokens: tuple[str, ...]  # lower-case words and entity symbols (names as in the knowledge base)
    entities: tuple[str, ...]  # the topic entity first
    answers: tuple[str, ...]
    task: int  # hops


class EntityMatcher:
    """Longest-match entity detection: the longest run of question words that spells an entity name."""

    def __init__(self, entities):
        self.names: dict[tuple[str, ...], str] = {}
        for entity in entities:
            key = tuple(words(entity))
            if key and (key not in self.names or len(entity) < len(self.names[key])):
                self.names[key] = entity
        self.longest = max((len(k) for k in self.names), default=0)

    def find(self, tokens: list[str]) -> tuple[int, int, str] | None:
        """(start, end, entity) of the longest name in ``tokens`` (the first of equally long ones), or None."""
        for n in range(min(self.longest, len(tokens)), 0, -1):
            for i in range(len(tokens) - n + 1):
                entity = self.names.get(tuple(tokens[i:i + n]))
                if entity is not None:
                    return i, i + n, entity
        return None


def parse_questions(text: str, source: str, task: int, matcher: EntityMatcher | None = None) -> list[KBQuestion]:
    """MetaQA (``... [entity] ...<TAB>a|b``) or WikiMovies (``1 question?<TAB>a, b``) lines, line by line."""
    questions = []
    for lineno, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip("\r\n")
        if not line.strip():
            continue
        where = f"{source}:{lineno}"
        question, tab, answer_text = line.partition("\t")
        if not tab or not question.strip() or not answer_text.strip() or "\t" in answer_text:
            raise DataError(f"{where}: expected 'question<TAB>answer|answer|...', got {line[:60]!r}")
        head, _, rest = question.strip().partition(" ")
        wikimovies = head.isdigit() and "[" not in question
        if wikimovies:
            question, answers = rest, [a.strip() for a in answer_text.split(", ")]
        else:
            answers = [a.strip() for a in answer_text.split("|")]
        if not all(answers):
            raise DataError(f"{where}: an empty answer in {answer_text[:60]!r}")
        tokens, entities = question_symbols(question, where, matcher)
        questions.append(KBQuestion(question.strip(), tokens, entities, tuple(answers), task))
    if not questions:
        raise DataError(f"{source}: no questions found; expected lines 'question<TAB>answers'")
    return questions


def question_symbols(question: str, where: str, matcher: EntityMatcher | None) -> tuple[tuple, tuple]:
    """A question's symbols and entities: the bracketed topic entity, else the longest entity name in it."""
    marked = re.fullmatch(r"(.*?)\[([^\[\]]+)\](.*)", question.strip())
    if marked:
        before, entity, after = marked.groups()
        return (*words(before), entity.strip(), *words(after)), (entity.strip(),)
    if "[" in question or "]" in question:
        raise DataError(f"{where}: unbalanced brackets; expected one '[topic entity]', got {question[:60]!r}")
    if matcher is None:
        raise DataError(f"{where}: no '[topic entity]' in {question[:60]!r} and no knowledge base to find it in")
    plain = words(question)
    found = matcher.find(plain)
    if found is None:
        return tuple(plain), ()
    start, end, entity = found
    return (*plain[:start], entity, *plain[end:]), (entity,)


def read_questions(path: str | Path, task: int, matcher: EntityMatcher | None = None) -> list[KBQuestion]:
    return parse_questions(_read_text(path), str(path), task, matcher)


# ------------------------------------------------------------------------------------------------ memories


@dataclass
class MemoryTable:
    """Every memory once: key and value symbol lists, and which entity each memory is about (for subgraphs)."""

    keys: list[tuple[str, ...]]
    values: list[tuple[str, ...]]
    about: list[str | None] = field(default_factory=list)  # the subject entity of a KB memory; None for text

    def __len__(self) -> int:
        return len(self.keys)

    def render(self, i: int) -> str:
        """A memory as people read it: ``key -> value``."""
        return f"{' '.join(self.keys[i])} -> {' '.join(self.values[i])}"


def kb_memories(triples, reverse: bool = True) -> MemoryTable:
    """KB-triple memories (§5.1): key = subject + relation, value = object; with ``reverse``, also key = object +
    inverse relation, value = subject, so a question about an object reaches its subjects."""
    keys, values, about = [], [], []
    for s, r, o in triples:
        keys.append((s, r)), values.append((o,)), about.append(s)
        if reverse:
            keys.append((o, r + INVERSE)), values.append((s,)), about.append(o)
    return MemoryTable(keys, values, about)


def document_memories(documents, representation: str, entities, window: int = 7) -> MemoryTable:
    """Memories of documents (§5.2): ``sentence`` (key = value = the sentence), ``window`` (key = the ``window``
    symbols centred on an entity, value = the entity), ``window-centre`` (the same with the centre symbol given
    an embedding of its own) or ``window-title`` (window memories, and beside each one whose key also carries a
    title feature and whose value is the document's title). Documents are (title, sentences of symbols)."""
    if representation not in REPRESENTATIONS[1:]:
        raise ValueError(f"document representation must be one of {', '.join(REPRESENTATIONS[1:])}, "
                         f"got {representation!r}")
    entities = set(entities)
    keys, values = [], []
    half = window // 2
    for title, sentences in documents:
        for sentence in sentences:
            if representation == "sentence":
                keys.append(tuple(sentence)), values.append(tuple(sentence))
                continue
            for i, symbol in enumerate(sentence):
                if symbol not in entities:
                    continue
                around = list(sentence[max(0, i - half): i + half + 1])
                if representation == "window-centre":
                    around[min(i, half)] = CENTRE + symbol
                keys.append(tuple(around)), values.append((symbol,))
                if representation == "window-title":
                    keys.append((*around, TITLE)), values.append((title,))
    return MemoryTable(keys, values, [None] * len(keys))


class KeyHash:
    """Key hashing (§3.1): an inverted index from key symbols to memories. A question's memories are those whose
    key holds one of its entities, or one of its words that fewer than ``threshold`` memories hold."""

    def __init__(self, table: MemoryTable, threshold: int = 1000):
        self.table = table
        self.threshold = threshold
        index = defaultdict(list)
        for i, key in enumerate(table.keys):
            for symbol in dict.fromkeys(s[len(CENTRE):] if s.startswith(CENTRE) else s for s in key):
                index[symbol].append(i)
        self.index = dict(index)
        about = defaultdict(list)  # entity -> the memories about it (KB memories: whose subject it is)
        for i, entity in enumerate(table.about):
            if entity is not None:
                about[entity].append(i)
        self.about = dict(about)

    def rare(self, word: str) -> bool:
        return word in self.index and len(self.index[word]) < self.threshold

    def lookup(self, tokens, entities=()) -> list[int]:
        """Memory ids whose key holds one of ``entities`` (the question's, however many memories hold them) or a
        word of ``tokens`` that is rare; the entities' memories first, each group in ascending order. A word that
        spells an entity's name ("film" is also a tag) is a word here: only the question's own entities count."""
        by_entity = sorted({i for e in entities for i in self.index.get(e, ())})
        seen = set(by_entity)
        by_word = sorted({i for w in tokens if w not in entities and self.rare(w) for i in self.index[w]} - seen)
        return by_entity + by_word

    def subgraph(self, topic: str, hops: int, bound: int, hub: int) -> list[int]:
        """Multi-hop pre-selection: the memories about the topic entity, then about the entities they lead to, for
        ``hops`` levels; entities with more than ``hub`` memories (years, genres, languages) are read but not
        walked through, and at most ``bound`` memories are kept, nearer levels and smaller neighbourhoods first
        (the order they are returned in, so that a shorter memory keeps the nearest)."""
        chosen, seen, frontier = [], {topic}, [topic]
        for level in range(hops):
            nxt = []
            for entity in sorted(frontier, key=lambda e: len(self.about.get(e, ()))):
                ids = self.about.get(entity, [])
                if level and len(ids) > hub:
                    break  # sorted by size: every entity left is a hub too
                chosen.extend(ids[:bound - len(chosen)])
                if len(chosen) >= bound:
                    return chosen
                if level + 1 < hops:
                    for i in ids:
                        for value in self.table.values[i]:
                            if value not in seen:
                                seen.add(value)
                                nxt.append(value)
            frontier = nxt
        return chosen


# ------------------------------------------------------------------------------------- documents from the KB

# Sentence templates per relation: {s} the subject, {o} the object(s). The first is the single-template setting
# (§5.2's "one template"); the others are the extra phrasings of the several-templates setting.
TEMPLATES = {
    "directed_by": ["{s} was directed by {o}", "{o} directed {s}", "{s} is a film by director {o}"],
    "written_by": ["{s} was written by {o}", "{o} wrote {s}", "the screenplay of {s} is by {o}"],
    "starred_actors": ["{s} starred {o}", "{o} acted in {s}", "the cast of {s} includes {o}"],
    "release_year": ["{s} was released in {o}", "{s} came out in {o}", "{s} first appeared in {o}"],
    "in_language": ["{s} is in {o}", "the language of {s} is {o}", "{s} is spoken in {o}"],
    "has_genre": ["{s} is a {o} film", "{s} belongs to the genre {o}", "the genre of {s} is {o}"],
    "has_tags": ["{s} is about {o}", "{s} is tagged {o}", "keywords of {s} are {o}"],
    "has_imdb_rating": ["{s} is rated {o}", "{s} has a rating of {o}", "viewers rate {s} {o}"],
    "has_imdb_votes": ["{s} is {o} popular", "{s} got {o} votes", "the popularity of {s} is {o}"],
}
PRONOUN = "it"  # coreference: the subject after its first mention in a document (§5.2)


def render_documents(triples, templates: int = 1, conjunction: float = 0.0, coreference: float = 0.0,
                     seed: int = 0) -> list[tuple[str, list[tuple[str, ...]]]]:
    """One document per subject, one sentence per (subject, relation) with all its objects, as in the paper's
    KB-to-text analysis (§5.2). ``templates``: how many phrasings each relation draws from (1 or up to 3);
    ``conjunction``: the chance that a sentence is joined to the previous one with "and"; ``coreference``: the
    chance that the subject, after the document's first sentence, is replaced by a pronoun. Sentences are
    symbol tuples (entities are single symbols); returns [(title, sentences)]."""
    if not 1 <= templates <= 3:
        raise ValueError(f"templates must be 1, 2 or 3, got {templates}")
    for name, rate in (("conjunction", conjunction), ("coreference", coreference)):
        if not 0 <= rate <= 1:
            raise ValueError(f"{name} must be in [0, 1], got {rate}")
    rng = random.Random(seed)
    grouped: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for s, r, o in triples:
        grouped[s][r].append(o)
    documents = []
    for subject, relations in grouped.items():
        sentences: list[tuple[str, ...]] = []
        for relation, objects in relations.items():
            phrasing = TEMPLATES.get(relation, ["{s} " + relation.replace("_", " ") + " {o}"])
            template = phrasing[rng.randrange(min(templates, len(phrasing)))]
            who = PRONOUN if sentences and rng.random() < coreference else subject
            listed = [objects[0]] if len(objects) == 1 else [*sum(([o, ","] for o in objects[:-1]), [])[:-1],
                                                              "and", objects[-1]]
            symbols = []
            for piece in re.split(r"(\{s\}|\{o\})", template):
                symbols += [who] if piece == "{s}" else listed if piece == "{o}" else words(piece)
            symbols = [s for s in symbols if s != ","]
            if sentences and rng.random() < conjunction:
                sentences[-1] = (*sentences[-1], "and", *symbols)
            else:
                sentences.append(tuple(symbols))
        documents.append((subject, sentences))
    return documents


# ---------------------------------------------------------------------------------------- generated data

_GEN_RELATIONS = {  # relation: (object kind, [objects per movie]), a small movie world
    "directed_by": ("person", [1]), "written_by": ("person", [1, 2]), "starred_actors": ("person", [2, 3]),
    "release_year": ("year", [1]), "has_genre": ("genre", [1]), "in_language": ("language", [1]),
}
_GEN_QUESTIONS = {  # (relation, reverse?) -> templates; the entity goes in the brackets
    ("directed_by", False): ["who directed [{e}]", "who is the director of [{e}]"],
    ("directed_by", True): ["what films did [{e}] direct", "which movies were directed by [{e}]"],
    ("written_by", False): ["who wrote [{e}]", "who is the writer of [{e}]"],
    ("written_by", True): ["what did [{e}] write", "which films were written by [{e}]"],
    ("starred_actors", False): ["who acted in [{e}]", "who starred in [{e}]"],
    ("starred_actors", True): ["what movies did [{e}] act in", "which films star [{e}]"],
    ("release_year", False): ["when was [{e}] released", "what year did [{e}] come out"],
    ("has_genre", False): ["what genre is [{e}]", "what kind of film is [{e}]"],
    ("in_language", False): ["what language is [{e}] in", "which language is spoken in [{e}]"],
}
_GEN_SECOND = {"directed_by": "directed by", "written_by": "written by", "starred_actors": "starring",
               "release_year": "released", "has_genre": "in the genre of", "in_language": "in the language of"}


def generate_kb(seed: int = 0, movies: int = 120) -> list[tuple[str, str, str]]:
    """A small random movie knowledge base: titles, people, years, genres and languages as in WikiMovies."""
    rng = random.Random(seed)
    syllables = ["ka", "lo", "mi", "ren", "tas", "vo", "bel", "dun", "sha", "pi", "gor", "nel", "ur", "zan"]

    def name(parts: int) -> str:
        return " ".join("".join(rng.choice(syllables) for _ in range(2)).capitalize() for _ in range(parts))

    pools = {"person": sorted({name(2) for _ in range(movies)}), "year": [str(y) for y in range(1960, 2016)],
             "genre": ["Drama", "Comedy", "Thriller", "Western", "Horror", "Musical"],
             "language": ["English", "French", "German", "Italian"]}
    titles = sorted({"The " + name(1) if rng.random() < 0.3 else name(rng.choice([1, 2])) for _ in range(movies)})
    triples = []
    for title in titles:
        for relation, (kind, counts) in _GEN_RELATIONS.items():
            for obj in rng.sample(pools[kind], rng.choice(counts)):
                triples.append((title, relation, obj))
    return triples


def generate_questions(triples, task: int, seed: int = 0, count: int = 1000) -> list[KBQuestion]:
    """Templated questions with their answers read off ``triples``: 1-hop (one relation, either direction) and
    2-/3-hop chains from a movie through a person back to movies, then to one of their attributes."""
    rng = random.Random(seed * 10 + task)
    forward, backward = defaultdict(set), defaultdict(set)
    for s, r, o in triples:
        forward[s, r].add(o)
        backward[o, r].add(s)
    movies = sorted({s for s, _, _ in triples})
    people = sorted({o for s, r, o in triples if r in ("directed_by", "written_by", "starred_actors")})
    questions, seen = [], set()
    for _ in range(count * 20):
        if len(questions) >= count:
            break
        if task == 1:
            relation, reverse = rng.choice(list(_GEN_QUESTIONS))
            entity = rng.choice(people if reverse else movies)
            answers = backward[entity, relation] if reverse else forward[entity, relation]
            text = rng.choice(_GEN_QUESTIONS[relation, reverse]).format(e=entity)
        else:
            movie, via = rng.choice(movies), rng.choice(["directed_by", "written_by", "starred_actors"])
            linked = {m for p in forward[movie, via] for m in backward[p, via]} - {movie}
            text = f"which other films {_GEN_SECOND[via]} the people of [{movie}]"
            answers = linked
            if task == 3:
                attribute = rng.choice(["release_year", "has_genre", "in_language", "directed_by"])
                answers = {a for m in linked for a in forward[m, attribute]}
                text = f"what are the {attribute.split('_')[-1]}s of the films that share {via.split('_')[0]} " \
                       f"people with [{movie}]"
        if answers and text not in seen:
            seen.add(text)
            before, entity, after = re.fullmatch(r"(.*?)\[(.+)\](.*)", text).groups()
            questions.append(KBQuestion(text, (*words(before), entity, *words(after)), (entity,),
                                        tuple(sorted(answers)), task))
    return questions


# ------------------------------------------------------------------------------------------------ tensors


@dataclass
class KBBatch:
    """N questions over one memory table: each question holds the ids of its memories, not copies of them.

    ``tensors(index)`` gathers the keys and values of the indexed questions' memories, so a batch of B questions
    costs (B, M, L) ids while the data set holds the table (T, L) once and (N, M) memory ids.
    """

    memory: torch.Tensor  # (N, M) memory ids; T (the table's last row, all padding) = empty slot
    query: torch.Tensor  # (N, Lq) symbol ids, 0 = padding
    answer: torch.Tensor  # (N, A) gold answer ids, -1 = padding; any of them is right (hits@1)
    task: torch.Tensor  # (N,) hops
    key_table: torch.Tensor  # (T + 1, Lk) symbol ids of every memory's key; the last row is the empty memory
    value_table: torch.Tensor  # (T + 1, Lv)

    def __len__(self) -> int:
        return self.query.shape[0]

    def __getitem__(self, index: torch.Tensor) -> KBBatch:
        t = self.tensors(index)
        return KBBatch(self.memory[index], t["query"], t["answer"], t["task"], self.key_table, self.value_table)

    def tensors(self, index: torch.Tensor | None = None, device: torch.device | str | None = None
                ) -> dict[str, torch.Tensor]:
        """keys (…, M, Lk), values (…, M, Lv), query, answer and task of the questions ``index`` names, moved to
        ``device`` if given."""
        pick = (lambda x: x) if index is None else (lambda x: x[index])
        memory = pick(self.memory)
        picked = {"keys": self.key_table[memory], "values": self.value_table[memory], "query": pick(self.query),
                  "answer": pick(self.answer), "task": pick(self.task)}
        return {k: v.to(device) for k, v in picked.items()} if device is not None else picked


def build_vocab(table: MemoryTable, entities, questions) -> Vocab:
    """Entities first (ids 2 .. 2 + E - 1: the answer candidates), then every other symbol of the memories and
    the questions, sorted."""
    entities = sorted(set(entities))
    known = set(entities)
    other = {s for key in table.keys for s in key} | {s for value in table.values for s in value}
    other |= {t for q in questions for t in q.tokens}
    return Vocab([NIL, UNK, *entities, *sorted(other - known - {NIL, UNK})])


def _pad(rows: list[list[int]], fill: int, width: int | None = None) -> torch.Tensor:
    width = width or max(1, max((len(r) for r in rows), default=1))
    out = np.full((len(rows), width), fill, dtype=np.int64)
    for i, row in enumerate(rows):
        out[i, :len(row)] = row[:width]
    return torch.from_numpy(out)


def encode_table(table: MemoryTable, vocab: Vocab) -> tuple[torch.Tensor, torch.Tensor]:
    """The key and value tables as symbol ids, with one all-padding row at the end for empty memory slots."""
    keys = _pad([vocab.encode(k) for k in table.keys] + [[]], 0)
    values = _pad([vocab.encode(v) for v in table.values] + [[]], 0)
    return keys, values


def vectorize(questions: list[KBQuestion], memories: list[list[int]], tables, vocab: Vocab,
              memory_size: int) -> KBBatch:
    """Pad questions and their memory-id lists (at most ``memory_size`` each) into a :class:`KBBatch`."""
    keys, values = tables
    empty = keys.shape[0] - 1
    memory = _pad([m[:memory_size] for m in memories], empty, memory_size)
    query = _pad([vocab.encode(q.tokens) or [1] for q in questions], 0)
    answer = _pad([[vocab.index[a] for a in q.answers if a in vocab.index] for q in questions], -1)
    task = torch.tensor([q.task for q in questions])
    return KBBatch(memory, query, answer, task, keys, values)


# ------------------------------------------------------------------------------------------- data sources

DEFAULTS = {"memory": "kb", "threshold": 1000, "hub": 200, "bound": 1000, "templates": 1, "conjunction": 0.0,
            "coreference": 0.0, "window": 7}
# threshold: a word that this many memories' keys or more hold is no key to hash on (§3.1: 1,000);
# hub / bound: the subgraph of multi-hop questions (ours; the paper's questions are 1-hop)


@dataclass
class KBData:
    """A knowledge-base data set: the memory table, and per split its questions and their memory ids."""

    table: MemoryTable
    entities: list[str]
    questions: dict[str, list[KBQuestion]]  # train, valid, test
    memories: dict[str, list[list[int]]]  # per split, per question: memory ids
    hashing: KeyHash

    def __getitem__(self, split: str) -> list[KBQuestion]:  # read like the record splits of bAbI
        return self.questions[split]

    def coverage(self, split: str = "test") -> dict[str, dict[int, float]]:
        """Per task, the share (%) of questions with a gold answer among the values of their own memories
        ("memory": the cap on hits@1 that the knowledge base and hashing leave; for 1-hop questions every fact
        about the topic entity is a memory, so this is the knowledge base's own cap) and among the knowledge
        base's entities at all ("kb")."""
        known = set(self.entities)
        caps: dict[str, dict[int, list[bool]]] = {"kb": defaultdict(list), "memory": defaultdict(list)}
        for q, ids in zip(self.questions[split], self.memories[split]):
            reachable = {v for i in ids for v in self.table.values[i]}
            caps["kb"][q.task].append(any(a in known for a in q.answers))
            caps["memory"][q.task].append(any(a in reachable for a in q.answers))
        return {name: {t: round(100 * sum(v) / len(v), 2) for t, v in sorted(per.items())}
                for name, per in caps.items()}


def _find(root: Path, names: list[str]) -> Path | None:
    for name in names:
        if (root / name).is_file():
            return root / name
        found = sorted(root.glob(f"**/{name}"))
        if found:
            return found[0]
    return None


def question_files(root: Path, task: int) -> dict[str, Path | None]:
    """MetaQA's ``N-hop/vanilla/qa_{train,dev,test}.txt``; for 1-hop, WikiMovies' ``wiki-entities_qa_*.txt``."""
    files = {}
    for split in ("train", "dev", "test"):
        path = root / f"{task}-hop" / "vanilla" / f"qa_{split}.txt"
        if not path.is_file() and task == 1:
            path = _find(root, [f"wiki-entities_qa_{split}.txt"])
        files[split] = path if path and path.is_file() else None
    return files


def read_kb_source(settings: dict):
    """The triples, and a reader of question files, of a data directory or of the generated world."""
    if settings["source"] == "generated-kb":
        return generate_kb(settings["data_seed"], settings["movies"])
    root = Path(settings["data_dir"])
    path = _find(root, ["kb.txt", "wiki_entities_kb.txt"])
    if path is None:
        raise DataError(f"{root}: no knowledge base found; expected kb.txt (MetaQA) or wiki_entities_kb.txt "
                        f"(WikiMovies)")
    return read_kb(path)


@dataclass
class KnowledgeBase:
    """What answering needs besides the questions: the memory table, its hashing and the entity matcher."""

    table: MemoryTable
    entities: list[str]
    hashing: KeyHash
    matcher: EntityMatcher
    settings: dict


def load_memories(settings: dict, tasks: list[int]) -> KnowledgeBase:
    """The memories that ``settings`` describe (KB triples, or documents rendered from them) and their index."""
    s = {**DEFAULTS, **settings}
    triples = read_kb_source(s)
    entities = sorted({x for t in triples for x in (t[0], t[2])})
    if s["memory"] == "kb":
        table = kb_memories(triples)
    elif s["memory"] in REPRESENTATIONS:
        if max(tasks) > 1:
            raise DataError(f"--memory {s['memory']}: documents are read for 1-hop questions only (the paper's "
                            f"analysis, §5.2); the multi-hop tasks need --memory kb")
        documents = render_documents(triples, s["templates"], s["conjunction"], s["coreference"], s.get("seed", 0))
        table = document_memories(documents, s["memory"], entities, s["window"])
    else:
        raise DataError(f"unknown memory representation {s['memory']!r}; expected one of {', '.join(REPRESENTATIONS)}")
    return KnowledgeBase(table, entities, KeyHash(table, s["threshold"]), EntityMatcher(entities), s)


def load(settings: dict, tasks: list[int], valid_fraction: float) -> KBData:
    """Questions of ``tasks`` with their memories. With a training file (the full releases) train on it and
    select on dev; with dev and test only (../shared/data/metaqa), train on dev but a random ``valid_fraction``
    of it (the same every time), held out for selection; test is only ever tested on."""
    memory = load_memories(settings, tasks)
    s, matcher, triples = memory.settings, memory.matcher, None
    splits: dict[str, list[KBQuestion]] = {"train": [], "valid": [], "test": []}
    for task in tasks:
        if s["source"] == "generated-kb":
            triples = triples or read_kb_source(s)
            found = generate_questions(triples, task, s["data_seed"], 2 * s["questions"])
            cut = len(found) // 2  # as many test questions as training ones (fewer than asked if the world is small)
            train, dev, test = [], found[:cut], found[cut:]
        else:
            files = question_files(Path(s["data_dir"]), task)
            if files["test"] is None or (files["dev"] is None and files["train"] is None):
                raise DataError(f"{s['data_dir']}: no {TASK_NAMES[task]} questions; expected "
                                f"{task}-hop/vanilla/qa_dev.txt and qa_test.txt")
            train = read_questions(files["train"], task, matcher) if files["train"] else []
            dev = read_questions(files["dev"], task, matcher) if files["dev"] else []
            test = read_questions(files["test"], task, matcher)
        if not train:  # no training file: hold out a random slice of dev (MetaQA's dev files are sorted by
            # question type, so their last lines are all of one or two types)
            held = set(random.Random(task).sample(range(len(dev)), max(1, round(len(dev) * valid_fraction))))
            train, dev = [q for i, q in enumerate(dev) if i not in held], [q for i, q in enumerate(dev) if i in held]
        splits["train"] += train
        splits["valid"] += dev
        splits["test"] += test
    memories = {}
    for name, questions in splits.items():
        memories[name] = [memories_of(memory.hashing, q, s) for q in questions]
    return KBData(memory.table, memory.entities, splits, memories, memory.hashing)


def memories_of(hashing: KeyHash, q: KBQuestion, settings: dict) -> list[int]:
    """A question's memories: key hashing on its entities (KB) or its entities and rare words (documents); for
    multi-hop questions over the KB, the bounded subgraph around its topic entity."""
    s = {**DEFAULTS, **settings}
    if s["memory"] != "kb":
        return hashing.lookup(q.tokens, q.entities)
    if q.task > 1 and q.entities:
        return hashing.subgraph(q.entities[0], q.task, s["bound"], s["hub"])
    return hashing.lookup((), q.entities)  # KB keys hold entities and relations, no words of a question
