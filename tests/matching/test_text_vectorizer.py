"""Analyzer and TF-IDF vectoriser: tokens, normalisation, sklearn equivalence, blend and field weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from matching.text import CHAR_PREFIX, Analyzer, TextVectorizer, split_parts, split_sentences, stem

DOCS = [
    "煤矿井下5G通信网络与智能综采工作面",
    "微创手术机器人与力反馈控制",
    "Surgical robots with haptic feedback",
    "煤矿瓦斯抽采与安全监测，矿井通信",
    "Battery management systems for electric vehicles",
]


def test_words_mode_segments_chinese_into_words() -> None:
    tokens = Analyzer("words")("煤矿井下通信网络")
    assert "煤矿" in tokens and "井下" in tokens
    assert all(not t.startswith(CHAR_PREFIX) for t in tokens)


def test_long_words_also_give_their_dictionary_sub_words() -> None:
    tokens = Analyzer("words")("集成电路")
    assert "集成电路" in tokens and "电路" in tokens


def test_char2_mode_cuts_chinese_runs_into_bigrams() -> None:
    assert Analyzer("char2")("机器人") == ["机器", "器人"]
    assert Analyzer("char2")("煤、电") == ["煤", "电"]


def test_blend_mode_has_words_and_prefixed_bigrams() -> None:
    tokens = Analyzer("blend")("机器人")
    assert "机器人" in tokens
    assert f"{CHAR_PREFIX}机器" in tokens and f"{CHAR_PREFIX}器人" in tokens


def test_english_is_lower_cased_stop_worded_and_stemmed() -> None:
    tokens = Analyzer("words")("The Surgical Robots are running")
    assert tokens == ["surgical", "robot", "run"]


def test_full_width_letters_and_digits_become_ascii() -> None:
    assert Analyzer("char2")("５Ｇ通信") == ["通信", "5g"]


def test_mixed_text_keeps_both_scripts() -> None:
    tokens = Analyzer("words")("BMS电池热管理")
    assert "bms" in tokens and "电池" in tokens


def test_chinese_function_words_are_dropped() -> None:
    assert "的" not in Analyzer("words")("煤矿的安全")
    assert "进行" not in Analyzer("words")("进行煤矿安全监测")


@pytest.mark.parametrize(
    ("word", "expected"),
    [("robots", "robot"), ("studies", "study"), ("mining", "mine"), ("running", "run"), ("systems", "system")],
)
def test_stem_strips_common_suffixes(word: str, expected: str) -> None:
    assert stem(word) == expected


def test_surface_terms_are_original_words_with_their_tokens() -> None:
    surfaces = dict(Analyzer("char2").surface_terms("手术机器人 Robots"))
    assert surfaces["机器人"] == ("机器", "器人")
    assert surfaces["Robots"] == ("robot",)


@pytest.mark.parametrize("mode", ["words", "char2", "blend"])
@pytest.mark.parametrize("bilingual", [False, True])
def test_surface_words_are_the_words_of_surface_terms(mode: str, bilingual: bool) -> None:
    analyzer = Analyzer(mode, bilingual=bilingual)
    extra = ["的了和 与及 CMOS传感器、ＣＭＯＳ and the Robots 的研究", "", "。。", "基于深度学习的轴承故障诊断 of"]
    for text in [*DOCS, *extra]:
        assert analyzer.surface_words(text) == [w for w, _ in analyzer.surface_terms(text)]


def test_sentences_and_parts_split_on_punctuation_and_items() -> None:
    assert split_sentences("第一句。第二句；Third one. Fourth") == ["第一句。", "第二句；", "Third one.", "Fourth"]
    parts = split_parts({"bio": "煤矿安全监测。井下通信网络。", "keywords": ["煤矿", "通信"]})
    assert [(p.field, p.index, p.text) for p in parts] == [
        ("bio", 0, "煤矿安全监测。"),
        ("bio", 1, "井下通信网络。"),
        ("keywords", 0, "煤矿"),
        ("keywords", 1, "通信"),
    ]


@pytest.mark.parametrize("mode", ["words", "char2", "blend"])
def test_rows_are_unit_length(mode: str) -> None:
    X = TextVectorizer(analyzer=mode).fit_transform([{"text": d} for d in DOCS])
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    assert np.allclose(norms, 1.0, atol=1e-6)
    assert X.dtype == np.float32 and sp.isspmatrix_csr(X)


@pytest.mark.parametrize("mode", ["words", "char2"])
def test_one_field_of_weight_one_equals_sklearn_tfidf(mode: str) -> None:
    analyzer = Analyzer(mode)
    ours = TextVectorizer(analyzer=mode).fit([{"text": d} for d in DOCS])
    theirs = TfidfVectorizer(analyzer=analyzer, sublinear_tf=True).fit(DOCS)
    assert ours.vocabulary_ == theirs.vocabulary_
    assert np.allclose(ours.idf_, theirs.idf_, atol=1e-6)
    a = ours.transform([{"text": d} for d in DOCS]).toarray()
    b = theirs.transform(DOCS).toarray()
    assert np.allclose(a, b, atol=1e-6)


def test_blend_cosine_mixes_word_and_char_cosines() -> None:
    docs = [{"text": d} for d in ("煤矿井下通信网络与智能综采", "微创手术机器人与力反馈控制", "煤矿瓦斯抽采与矿井通信")]
    w = 0.3
    blend = TextVectorizer(analyzer="blend", char_weight=w, stem=False).fit_transform(docs)
    words = TextVectorizer(analyzer="words", stem=False).fit_transform(docs)
    chars = TextVectorizer(analyzer="char2", stem=False).fit_transform(docs)
    expected = (1 - w) * (words @ words.T).toarray() + w * (chars @ chars.T).toarray()
    assert np.allclose((blend @ blend.T).toarray(), expected, atol=1e-5)


def test_field_weights_raise_the_weight_of_a_field() -> None:
    docs = [{"title": "煤矿安全", "bio": "机器人控制"}, {"title": "机器人", "bio": "煤矿"}]
    plain = TextVectorizer(analyzer="words").fit(docs)
    heavy = TextVectorizer(analyzer="words", field_weights={"title": 3.0}).fit(docs)
    q = plain.transform([{"text": "煤矿安全"}])
    col = plain.vocabulary_["煤矿"]
    assert heavy.transform(docs)[0, col] > plain.transform(docs)[0, col]
    assert q.nnz > 0


def test_parallel_tokenisation_gives_the_same_matrix() -> None:
    docs = [{"text": d, "n": str(i)} for i, d in enumerate(DOCS * 3)]
    one = TextVectorizer(analyzer="blend", chunk_size=2).fit_transform(docs)
    two = TextVectorizer(analyzer="blend", chunk_size=2, n_jobs=2).fit_transform(docs)
    assert (one != two).nnz == 0


def test_unknown_words_are_dropped_at_transform_and_counted() -> None:
    v = TextVectorizer(analyzer="words").fit([{"text": "煤矿安全"}])
    enc = v.encode([{"text": "煤矿 石墨烯"}])
    assert enc.n_oov[0] >= 1
    assert enc.X.nnz == 1


def test_a_zero_weight_field_counts_towards_tokens_and_presence_only() -> None:
    v = TextVectorizer(analyzer="words", field_weights={"title": 1.0, "notes": 0.0})
    v.fit([{"title": "robot arm", "notes": "laser"}, {"title": "gear box"}])
    assert "laser" not in v.vocabulary_  # only weighted fields make the vocabulary
    enc = v.encode([{"title": "robot quantum", "notes": "robot laser quantum"}], presence_fields=("notes",))
    assert enc.n_tokens.tolist() == [5]
    assert enc.n_oov.tolist() == [1]  # quantum in the title; the unweighted notes are not looked up
    assert enc.presence_len.tolist() == [3]  # robot, laser, quantum: known or not
    assert enc.X.indices.tolist() == [v.vocabulary_["robot"]]


def test_chunks_and_processes_do_not_change_counts() -> None:
    docs = [{"title": f"robot {i} arm", "keywords": ["laser", "焊接机器人"], "notes": "gear"} for i in range(9)]
    docs += [{}, {"title": ""}, {"notes": "量子 quantum"}]
    weights = {"title": 2.0, "keywords": 1.0, "notes": 0.0}
    one = TextVectorizer(field_weights=weights, chunk_size=100)
    two = TextVectorizer(field_weights=weights, chunk_size=2, n_jobs=2)
    a, b = (v.fit_encode(docs, presence_fields=("keywords", "notes")) for v in (one, two))
    assert one.terms_ == two.terms_
    for name in ("n_tokens", "n_oov", "presence_len"):
        assert getattr(a, name).tolist() == getattr(b, name).tolist()
    assert (a.X != b.X).nnz == 0 and (a.presence != b.presence).nnz == 0
    c, d = (v.encode(docs[::-1], presence_fields=("keywords",), n_jobs=2) for v in (one, two))
    assert c.n_oov.tolist() == d.n_oov.tolist() and (c.X != d.X).nnz == 0


def test_max_df_prunes_terms_in_too_many_documents() -> None:
    docs = [{"text": f"通用 主题{i}"} for i in range(4)]
    v = TextVectorizer(analyzer="words", max_df=0.5).fit(docs)
    assert "通用" not in v.vocabulary_


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        TextVectorizer(analyzer="letters").fit([{"text": "x"}])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        TextVectorizer(char_weight=2.0).fit([{"text": "x"}])


_POOL_UNDER_A_SUPERVISOR = """
import faulthandler, signal, sys
faulthandler.dump_traceback_later(90)  # should it hang: where, in the output the test shows
sys.path.insert(0, "bench")
from text_corpus import Generator
from matching.matcher import expert_doc
from matching.text import TextVectorizer
signal.signal(signal.SIGTERM, lambda *_: None)  # as a server's supervisor does: note the signal, do not exit
docs = [expert_doc(p) for p in Generator(seed=1).experts(200)]
vec = TextVectorizer(chunk_size=10, n_jobs=1)
vec.fit_encode(docs)
for _ in range(10):
    vec.transform(docs, n_jobs=2)  # ends only if the pool's SIGTERM ends its children
print("done")
"""


def _run_alone(script: str, tmp_path: Path) -> tuple[int, str]:
    """Run a Python script from the repository root, killed with its children after 120 s; its exit code and output.

    Its own session, output to a file: a hung pool's children cannot keep the test waiting on a pipe."""
    import os
    import signal
    import subprocess
    import sys

    out = tmp_path / "out.txt"
    root = Path(__file__).resolve().parents[2]
    with out.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-c", script], cwd=root, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, out.read_text()


def test_a_tokenising_pool_ends_in_a_process_that_ignores_sigterm(tmp_path: Path) -> None:
    returncode, output = _run_alone(_POOL_UNDER_A_SUPERVISOR, tmp_path)
    assert returncode == 0 and output.strip().endswith("done"), output[-2000:]


_POOL_WITH_A_DYING_WORKER = """
import faulthandler, os, sys
faulthandler.dump_traceback_later(90)
sys.path.insert(0, "bench")
from text_corpus import Generator
from matching.matcher import expert_doc
import matching.text as text
from matching.text import TextVectorizer
docs = [expert_doc(p) for p in Generator(seed=1).experts(200)]
vec = TextVectorizer(chunk_size=10, n_jobs=1)
vec.fit_encode(docs)
tokenize = text._tokenize_chunk
def dying(args):
    if any("die" in t for doc in args[1] for _, t in doc):
        os._exit(1)  # as a child killed by the kernel would: no exception, no result
    return tokenize(args)
text._tokenize_chunk = dying
docs[150] = {"title": "die"}
try:
    vec.transform(docs, n_jobs=2)
except Exception as exc:
    print(type(exc).__name__)
"""


def test_a_tokenising_worker_that_dies_fails_the_call_instead_of_hanging(tmp_path: Path) -> None:
    returncode, output = _run_alone(_POOL_WITH_A_DYING_WORKER, tmp_path)
    assert returncode == 0 and output.strip().endswith("BrokenProcessPool"), output[-2000:]
