"""Tests of the knowledge-base data stage (memnets.data.kb): readers and their errors, entity detection, key
hashing and subgraphs on a hand-made knowledge base, memory representations, the documents renderer's knobs,
the generated world, and the tensors. The real MetaQA files are read when MEMNETS_TEST_METAQA_DIR names them."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from memnets.data import kb
from memnets.data.babi import DataError

# A hand-made knowledge base: two films sharing a director, a prolific genre.
TRIPLES = [
    ("Kismet", "directed_by", "William Dieterle"),
    ("Kismet", "starred_actors", "Ronald Colman"),
    ("Kismet", "starred_actors", "Marlene Dietrich"),
    ("Kismet", "has_genre", "Drama"),
    ("Kismet", "release_year", "1944"),
    ("Juarez", "directed_by", "William Dieterle"),
    ("Juarez", "starred_actors", "Bette Davis"),
    ("Juarez", "has_genre", "Drama"),
    ("Top Hat", "starred_actors", "Ginger Rogers"),
    ("Top Hat", "has_genre", "Drama"),
]
ENTITIES = sorted({x for s, _, o in TRIPLES for x in (s, o)})


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------- readers


def test_triples_file_is_read_and_a_bad_line_names_file_and_line(tmp_path):
    path = write(tmp_path / "kb.txt", "Kismet|directed_by|William Dieterle\n\nKismet|release_year|1944\n"
                                      "Kismet|release_year|1944\n")
    assert kb.read_kb(path) == [("Kismet", "directed_by", "William Dieterle"), ("Kismet", "release_year", "1944")]
    bad = write(tmp_path / "bad.txt", "Kismet|directed_by|William Dieterle\nKismet|directed_by\n")
    with pytest.raises(DataError, match=r"bad\.txt:2: expected 'subject\|relation\|object'"):
        kb.read_kb(bad)
    with pytest.raises(DataError, match=r"bad2\.txt:1: expected"):
        kb.read_kb(write(tmp_path / "bad2.txt", "a||b\n"))


def test_wikimovies_kb_layout(tmp_path):
    path = write(tmp_path / "wiki_entities_kb.txt",
                 "1 Kismet directed_by William Dieterle\n2 Kismet starred_actors Marlene Dietrich, Ronald Colman\n"
                 "3 Kismet has_plot A beggar becomes rich, in one day.\n\n1 Top Hat release_year 1935\n")
    assert kb.read_kb(path) == [("Kismet", "directed_by", "William Dieterle"),
                                ("Kismet", "starred_actors", "Marlene Dietrich"),
                                ("Kismet", "starred_actors", "Ronald Colman"), ("Top Hat", "release_year", "1935")]
    bad = write(tmp_path / "w2.txt", "1 Kismet directed_by William Dieterle\n2 Kismet was made in 1944\n")
    with pytest.raises(DataError, match=r"w2\.txt:2: expected '<n> <subject> <relation>"):
        kb.read_kb(bad)


def test_metaqa_questions_make_the_bracketed_entity_one_symbol(tmp_path):
    path = write(tmp_path / "qa.txt", "what movies did [Ronald Colman] act in\tKismet|Random Harvest\n")
    (q,) = kb.read_questions(path, 1)
    assert q.tokens == ("what", "movies", "did", "Ronald Colman", "act", "in")
    assert q.entities == ("Ronald Colman",) and q.answers == ("Kismet", "Random Harvest") and q.task == 1


def test_wikimovies_questions_find_the_longest_entity_name(tmp_path):
    matcher = kb.EntityMatcher(["The Dark Knight", "The Dark Knight Rises", "Knight", "Christopher Nolan"])
    path = write(tmp_path / "wiki-entities_qa_test.txt",
                 "1 who directed the dark knight rises?\tChristopher Nolan\n"
                 "1 what films did christopher nolan direct?\tThe Dark Knight, The Dark Knight Rises\n"
                 "1 what is a movie about nothing?\tKismet\n")
    first, second, third = kb.read_questions(path, 1, matcher)
    assert first.tokens == ("who", "directed", "The Dark Knight Rises") and first.entities == ("The Dark Knight Rises",)
    assert second.entities == ("Christopher Nolan",) and second.answers == ("The Dark Knight", "The Dark Knight Rises")
    assert third.entities == ()


@pytest.mark.parametrize("line, problem", [
    ("what movies did [Ronald Colman] act in", "expected 'question<TAB>answer"),
    ("what movies did [Ronald Colman act in\tKismet", "unbalanced brackets"),
    ("what movies did [Ronald Colman] act in\tKismet||Juarez", "an empty answer"),
    ("\tKismet", "expected 'question<TAB>answer"),
])
def test_a_bad_question_line_names_file_and_line(tmp_path, line, problem):
    path = write(tmp_path / "qa_dev.txt", f"who directed [Kismet]\tWilliam Dieterle\n{line}\n")
    with pytest.raises(DataError, match=rf"qa_dev\.txt:2: .*{problem}"):
        kb.read_questions(path, 1, kb.EntityMatcher(ENTITIES))


def test_tasks():
    assert kb.parse_tasks("1-hop") == [1]
    assert kb.parse_tasks("3-hop, 1-hop") == [1, 3]
    assert kb.parse_tasks("all") == [1, 2, 3] == kb.parse_tasks("1,2,3")
    with pytest.raises(DataError, match="'4-hop'"):
        kb.parse_tasks("4-hop")


# ------------------------------------------------------------------------------------------ memories, hashing


def test_kb_memories_hold_each_triple_and_its_reverse():
    table = kb.kb_memories(TRIPLES[:1])
    assert table.keys == [("Kismet", "directed_by"), ("William Dieterle", "directed_by_inv")]
    assert table.values == [("William Dieterle",), ("Kismet",)]
    assert table.about == ["Kismet", "William Dieterle"]
    assert len(kb.kb_memories(TRIPLES, reverse=False)) == len(TRIPLES)


def test_key_hashing_on_entities_and_rare_words():
    table = kb.kb_memories(TRIPLES)
    hashing = kb.KeyHash(table, threshold=1000)
    found = hashing.lookup(("who", "directed", "Kismet"), ("Kismet",))
    assert {table.keys[i] for i in found} == {("Kismet", r) for r in
                                              ("directed_by", "starred_actors", "has_genre", "release_year")}
    assert len(found) == 5  # two starred_actors memories
    # every memory about William Dieterle, in both directions of his two films
    assert [table.values[i] for i in hashing.lookup((), ["William Dieterle"])] == [("Kismet",), ("Juarez",)]
    # a relation symbol is a word of the keys: used below the threshold, not at or above it
    assert len(kb.KeyHash(table, threshold=4).lookup(["has_genre"])) == 3
    assert kb.KeyHash(table, threshold=3).lookup(["has_genre"]) == []
    # the question's entity is always a key, however many memories hold it; the same symbol as a plain word
    # of the question is held to the threshold
    assert len(kb.KeyHash(table, threshold=1).lookup(["Drama"], ["Drama"])) == 3
    assert kb.KeyHash(table, threshold=1).lookup(["Drama"]) == []
    # the entity's memories come first, then those of rare words
    mixed = kb.KeyHash(table, threshold=4).lookup(["has_genre", "Top Hat"], ["Top Hat"])
    assert [table.keys[i] for i in mixed] == [("Top Hat", "starred_actors"), ("Top Hat", "has_genre"),
                                              ("Kismet", "has_genre"), ("Juarez", "has_genre")]


def test_subgraph_walks_hops_but_not_through_hubs_and_keeps_the_bound():
    table = kb.kb_memories(TRIPLES)
    hashing = kb.KeyHash(table)
    one = {table.render(i) for i in hashing.subgraph("Kismet", 1, bound=100, hub=10)}
    assert one == {table.render(i) for i in hashing.lookup(["Kismet"]) if table.about[i] == "Kismet"}
    two = {table.render(i) for i in hashing.subgraph("Kismet", 2, bound=100, hub=10)}
    assert "William Dieterle directed_by_inv -> Juarez" in two  # Kismet -> director -> his other film
    assert "Drama has_genre_inv -> Top Hat" in two
    three = {table.render(i) for i in hashing.subgraph("Kismet", 3, bound=100, hub=10)}
    assert "Juarez starred_actors -> Bette Davis" in three
    # with hub = 2, Drama (3 films) is read as a value but not walked through
    hubless = {table.render(i) for i in hashing.subgraph("Kismet", 2, bound=100, hub=2)}
    assert "Drama has_genre_inv -> Top Hat" not in hubless and "William Dieterle directed_by_inv -> Juarez" in hubless
    assert len(hashing.subgraph("Kismet", 3, bound=7, hub=10)) == 7
    # the bound keeps the nearest level first
    assert set(hashing.subgraph("Kismet", 3, bound=5, hub=10)) == set(hashing.subgraph("Kismet", 1, 100, 10))


def test_document_representations():
    documents = [("Kismet", [("Kismet", "was", "directed", "by", "William Dieterle"),
                             ("Kismet", "starred", "Ronald Colman")])]
    sentence = kb.document_memories(documents, "sentence", ENTITIES)
    assert sentence.keys == sentence.values == documents[0][1]
    window = kb.document_memories(documents, "window", ENTITIES, window=3)
    assert window.keys == [("Kismet", "was"), ("by", "William Dieterle"), ("Kismet", "starred"),
                           ("starred", "Ronald Colman")]
    assert window.values == [("Kismet",), ("William Dieterle",), ("Kismet",), ("Ronald Colman",)]
    centre = kb.document_memories(documents, "window-centre", ENTITIES, window=3)
    assert centre.keys[1] == ("by", kb.CENTRE + "William Dieterle") and centre.values == window.values
    titled = kb.document_memories(documents, "window-title", ENTITIES, window=3)
    assert len(titled) == 2 * len(window)
    assert titled.keys[3] == ("by", "William Dieterle", kb.TITLE) and titled.values[3] == ("Kismet",)
    # hashing on a window memory: the centre entity, encoded apart, still indexes it
    assert kb.KeyHash(centre).lookup((), ["William Dieterle"]) == [1]
    with pytest.raises(ValueError, match="'kb'"):
        kb.document_memories(documents, "kb", ENTITIES)


# ------------------------------------------------------------------------------------------------ renderer


def test_renderer_one_template_conjunction_and_coreference_knobs():
    plain = kb.render_documents(TRIPLES)
    title, sentences = plain[0]
    assert title == "Kismet" and len(sentences) == 4  # one sentence per relation, objects listed together
    assert sentences[0] == ("Kismet", "was", "directed", "by", "William Dieterle")
    assert sentences[1] == ("Kismet", "starred", "Ronald Colman", "and", "Marlene Dietrich")
    assert all(s[0] == "Kismet" for s in sentences)  # no coreference
    joined = kb.render_documents(TRIPLES, conjunction=1.0)
    assert all(len(s) == 1 for _, s in joined)  # every sentence joined to the one before
    assert joined[0][1][0].count("and") >= 3
    pronouns = kb.render_documents(TRIPLES, coreference=1.0)[0][1]
    assert pronouns[0][0] == "Kismet" and all(s[0] == kb.PRONOUN for s in pronouns[1:])
    half = kb.render_documents(TRIPLES * 1, coreference=0.5, seed=3)
    assert {s[0] for _, d in half for s in d[1:]} <= {kb.PRONOUN, "Kismet", "Juarez", "Top Hat"}
    with pytest.raises(ValueError, match="conjunction"):
        kb.render_documents(TRIPLES, conjunction=1.5)
    with pytest.raises(ValueError, match="templates"):
        kb.render_documents(TRIPLES, templates=4)


def test_renderer_several_templates_vary_the_phrasing():
    many = [(f"Film {i}", "directed_by", f"Person {i}") for i in range(60)]
    one = {tuple(w for w in d[1][0] if not w.startswith(("Film", "Person"))) for d in kb.render_documents(many)}
    several = {tuple(w for w in d[1][0] if not w.startswith(("Film", "Person")))
               for d in kb.render_documents(many, templates=3)}
    assert one == {("was", "directed", "by")}
    assert len(several) == 3


# ---------------------------------------------------------------------------------------- generated, tensors


def test_generated_questions_are_answered_by_their_knowledge_base():
    triples = kb.generate_kb(seed=1, movies=40)
    facts = set(triples)
    for q in kb.generate_questions(triples, 1, seed=1, count=200):
        (entity,) = q.entities
        assert f"[{entity}]" in q.text and entity in q.tokens
        for answer in q.answers:  # each answer is one triple away from the topic entity, in either direction
            assert any((entity, r, answer) in facts or (answer, r, entity) in facts for _, r, _ in triples)
    two = kb.generate_questions(triples, 2, seed=1, count=50)
    assert two and all(q.entities[0] not in q.answers for q in two)


def test_batch_holds_the_table_once_and_gathers_memories():
    table = kb.kb_memories(TRIPLES)
    questions = [kb.KBQuestion("who directed [Kismet]", ("who", "directed", "Kismet"), ("Kismet",),
                               ("William Dieterle",), 1),
                 kb.KBQuestion("what is [Top Hat]", ("what", "is", "Top Hat"), ("Top Hat",), ("Drama", "Nowhere"), 1)]
    vocab = kb.build_vocab(table, ENTITIES, questions)
    assert vocab.words[2:2 + len(ENTITIES)] == ENTITIES  # entities first: the answer candidates
    hashing = kb.KeyHash(table)
    memories = [hashing.lookup((), q.entities) for q in questions]
    batch = kb.vectorize(questions, memories, kb.encode_table(table, vocab), vocab, memory_size=6)
    assert batch.memory.shape == (2, 6) and batch.key_table.shape == (len(table) + 1, 2)
    t = batch.tensors(torch.tensor([1]))
    assert t["keys"].shape == (1, 6, 2) and t["values"].shape == (1, 6, 1)
    assert [vocab.words[i] for i in t["keys"][0, 0].tolist()] == ["Top Hat", "starred_actors"]
    assert (t["keys"][0, len(memories[1]):] == 0).all()  # empty slots: the all-padding last row
    # an answer that is no symbol of the knowledge base ("Nowhere") is dropped: no memory could give it
    assert batch.answer.tolist() == [[vocab.index["William Dieterle"]], [vocab.index["Drama"]]]
    assert len(batch[torch.tensor([0])]) == 1


def test_load_holds_out_a_random_slice_of_dev_and_reports_coverage(tmp_path):
    write(tmp_path / "kb.txt", "".join(f"{s}|{r}|{o}\n" for s, r, o in TRIPLES))
    dev = [f"who directed [{'Kismet' if i % 2 else 'Juarez'}] {i}\tWilliam Dieterle\n" for i in range(20)]
    write(tmp_path / "1-hop" / "vanilla" / "qa_dev.txt", "".join(dev))
    write(tmp_path / "1-hop" / "vanilla" / "qa_test.txt",
          "who starred in [Top Hat]\tGinger Rogers\nwho directed [Top Hat]\tNobody Known\n")
    data = kb.load({"source": "kb", "data_dir": str(tmp_path)}, [1], 0.25)
    assert len(data["train"]) == 15 and len(data["valid"]) == 5 and len(data["test"]) == 2
    held = [q.text for q in data["valid"]]
    assert held != [d.split("\t")[0] for d in dev[15:]]  # not the end of the file
    assert held == [q.text for q in kb.load({"source": "kb", "data_dir": str(tmp_path)}, [1], 0.25)["valid"]]
    assert data.coverage()["memory"] == {1: 50.0}
    with pytest.raises(DataError, match="no 2-hop questions"):
        kb.load({"source": "kb", "data_dir": str(tmp_path)}, [2], 0.1)
    with pytest.raises(DataError, match="documents are read for 1-hop"):
        kb.load_memories({"source": "kb", "data_dir": str(tmp_path), "memory": "window"}, [2])


METAQA = os.environ.get("MEMNETS_TEST_METAQA_DIR")


@pytest.mark.skipif(not METAQA, reason="MEMNETS_TEST_METAQA_DIR does not name the MetaQA data")
def test_the_real_metaqa_files_read_as_documented():
    triples = kb.read_kb(Path(METAQA) / "kb.txt")
    assert len(triples) == 128_512 and len({r for _, r, _ in triples}) == 9
    dev = kb.read_questions(Path(METAQA) / "1-hop" / "vanilla" / "qa_dev.txt", 1)
    assert len(dev) == 9_992 and all(len(q.entities) == 1 for q in dev)
    table = kb.kb_memories(triples)
    assert len(table) == 2 * 128_512
