"""The embedded store's $text: MongoDB's text semantics (French), through plain collection queries."""
from __future__ import annotations

import pytest
from mongomock import OperationFailure
from pymongo import IndexModel

from infra.embedded import text_search
from infra.embedded.mongo import embedded_client

FRENCH = text_search.language("french")


@pytest.fixture
def coll():
    c = embedded_client()["t"]["m"]
    c.create_indexes([IndexModel([("convId", 1), ("content", "text")], name="text", default_language="french")])
    return c


def found(coll, search: str, corpus: list[str], conv: str = "c1") -> list[str]:
    """The texts of ``corpus`` (stored in one conversation) that a $text search returns."""
    if coll.count_documents({}) == 0:
        coll.insert_many([{"_id": i, "convId": conv, "content": text} for i, text in enumerate(corpus)])
    return [d["content"] for d in coll.find({"convId": conv, "$text": {"$search": search}}).sort("_id", 1)]


def test_stemming_finds_other_forms_of_a_word(coll):
    corpus = ["un message important", "deux messages", "messagerie en panne", "rien à voir"]
    assert found(coll, "messages", corpus) == ["un message important", "deux messages"]
    assert found(coll, "message", corpus) == ["un message important", "deux messages"]


def test_case_and_accents_do_not_matter(coll):
    corpus = ["Un niveau ÉLEVÉ", "l'élève est là", "elevage de chèvres"]
    assert found(coll, "eleve", corpus) == ["Un niveau ÉLEVÉ", "l'élève est là"]
    assert found(coll, "ÉLÈVES", corpus) == ["Un niveau ÉLEVÉ", "l'élève est là"]


def test_stop_words_are_never_terms(coll):
    corpus = ["le chien", "un chat", "la souris"]
    assert found(coll, "le", corpus) == []              # only stop words: nothing to look for
    assert found(coll, "le chat", corpus) == ["un chat"]  # "le" adds no match


def test_words_are_or_ed(coll):
    corpus = ["pizza ce soir", "cinéma demain", "réunion lundi"]
    assert found(coll, "pizza cinema", corpus) == ["pizza ce soir", "cinéma demain"]


def test_a_phrase_is_required_and_matched_as_written(coll):
    corpus = ["Un GÂTEAU au chocolat !", "du chocolat au gâteau", "gâteau aux fraises"]
    assert found(coll, '"gateau au chocolat"', corpus) == ["Un GÂTEAU au chocolat !"]
    # Words and a phrase: the words are OR-ed, the phrase must be there as well.
    assert found(coll, 'fraises "au gâteau"', corpus) == ["du chocolat au gâteau"]


def test_negation_excludes_documents_holding_the_word(coll):
    corpus = ["gâteau au chocolat", "gâteau aux fraises", "des chocolats", "tarte"]
    assert found(coll, "gâteau -chocolat", corpus) == ["gâteau aux fraises"]
    assert found(coll, "gâteau tarte -chocolats", corpus) == ["gâteau aux fraises", "tarte"]  # stemmed too
    assert found(coll, "-chocolat", corpus) == []   # negations alone match nothing
    assert found(coll, 'gâteau -"aux fraises"', corpus) == ["gâteau au chocolat"]


def test_only_the_conversation_searched_is_read(coll, monkeypatch):
    """The compound index's convId prefix: a search examines that conversation's messages only."""
    import infra.embedded.mongo as em

    coll.insert_many([{"convId": f"c{i % 10}", "content": f"message {i}"} for i in range(1000)])
    examined = []
    real = em.IndexedCollectionStore.candidates

    def candidates(self, filter):
        found = real(self, filter)
        examined.extend(d for docs in found or () for d in docs)
        return found

    monkeypatch.setattr(em.IndexedCollectionStore, "candidates", candidates)
    assert len(list(coll.find({"convId": "c3", "$text": {"$search": "message"}}))) == 100
    assert len(examined) == 100 and {d["convId"] for d in examined} == {"c3"}


def test_a_text_query_needs_the_index_and_its_prefix(coll):
    with pytest.raises(OperationFailure):
        list(coll.find({"$text": {"$search": "chat"}}))           # convId missing: a server refuses too
    with pytest.raises(OperationFailure):
        list(embedded_client()["t"]["other"].find({"convId": "c", "$text": {"$search": "chat"}}))  # no index


@pytest.mark.parametrize("search, positive, negated, phrases, negated_phrases", [
    ("l'élève", {"elev"}, set(), (), ()),                          # apostrophe: "l" is a stop word
    ("-foo-bar baz", {"baz"}, {"foo", "bar"}, (), ()),             # a negation lasts until a space
    ("pre-market", {"pre", "market"}, set(), (), ()),              # a hyphen inside a word is not one
    ("- chat", {"chat"}, set(), (), ()),                           # nor is a hyphen before a space
    ('-"Au Revoir" salut', {"salut"}, set(), (), ("au revoir",)),  # negated phrase: its words are no terms
    ('"Très Élevé"', {"elev"}, set(), ("tres eleve",), ()),        # "très" is a stop word, not in the phrase
    ('-"a b"-"c d" vu', set(), set(), (), ("a b", "c d")),         # both phrases negated ("vu": stop word)
    ("chat\t-chien", {"chat", "chien"}, set(), (), ()),            # a tab is no space to the query parser
])
def test_query_parsing(search, positive, negated, phrases, negated_phrases):
    query = text_search.parse_query(search, FRENCH)
    assert (set(query.positive), set(query.negated), query.phrases, query.negated_phrases) == \
        (positive, negated, phrases, negated_phrases)


# -- a language per document (language_override) ---------------------------------------------------
@pytest.fixture
def multilingual():
    c = embedded_client()["t"]["multi"]
    c.create_indexes([IndexModel([("convId", 1), ("content", "text")], name="text", default_language="french")])
    c.insert_many([{"_id": 1, "convId": "c", "content": "we deployed it", "language": "english"},
                   {"_id": 2, "convId": "c", "content": "die Häuser sind alt", "language": "german"},
                   {"_id": 3, "convId": "c", "content": "las canciones", "language": "spanish"},
                   {"_id": 4, "convId": "c", "content": "les élèves"},                     # the index's default
                   {"_id": 5, "convId": "c", "content": "the deployment", "language": "none"}])
    return c


def ids(coll, search: str, **options) -> list[int]:
    return sorted(d["_id"] for d in coll.find({"convId": "c", "$text": {"$search": search, **options}}))


def test_each_document_is_stemmed_in_its_own_language(multilingual):
    # The query is stemmed in its language ($language, else the default); each document in its own.
    assert ids(multilingual, "deploy", **{"$language": "english"}) == [1]
    assert ids(multilingual, "haus", **{"$language": "german"}) == [2]
    assert ids(multilingual, "cancion", **{"$language": "es"}) == [3]   # a two-letter code, as a server takes
    assert ids(multilingual, "eleve") == [4]
    # "none": the words as they are, and no stop words ("the" is a term there).
    assert ids(multilingual, "deployment", **{"$language": "none"}) == [5]
    assert ids(multilingual, "the", **{"$language": "none"}) == [5]


def test_a_documents_stop_words_are_those_of_its_language(multilingual):
    # "die" is a German stop word: not a term of document 2, whatever the query's language.
    assert ids(multilingual, "die", **{"$language": "none"}) == []
    assert ids(multilingual, "sind alt", **{"$language": "none"}) == [2]


def test_an_index_may_name_another_language_field():
    c = embedded_client()["t"]["override"]
    c.create_indexes([IndexModel([("content", "text")], name="text", default_language="none",
                                 language_override="lang")])
    c.insert_many([{"_id": 1, "content": "running fast", "lang": "english"},
                   {"_id": 2, "content": "running fast", "language": "english"}])   # not the field read
    assert sorted(d["_id"] for d in c.find({"$text": {"$search": "run", "$language": "english"}})) == [1]


def test_an_unknown_language_is_refused(multilingual):
    multilingual.insert_one({"_id": 9, "convId": "c", "content": "bonjour", "language": "klingon"})
    with pytest.raises(NotImplementedError):
        ids(multilingual, "bonjour")
