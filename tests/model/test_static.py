"""Static (model2vec-style) distillation: a tiny random BERT with its own small WordPiece vocabulary."""
from __future__ import annotations

import json
import string

import numpy as np
import pytest
import torch

from slimlib.errors import Cancelled, SlimlibError
from slimlib.model import static
from slimlib.model.files import folder_bytes

WORDS = ("the a cat dog sat on mat sun rises over hills river bank quick brown fox jumps lazy man woman is are "
         "riding horse playing guitar eating food child car red blue green house reads book").split()
PIECES = ["##s", "##ing", "##ed", "##er", "##ly"]
SENTENCES = [
    "the cat sat on the mat", "a dog is riding a horse", "the man is playing a guitar",
    "a woman reads a book", "the quick brown fox jumps over the lazy dog", "the sun rises over the hills",
    "a child is eating food", "the red car is on the bank", "dogs are playing", "a man is riding a blue car",
    "the woman is eating", "cats sat on a green house", "the river bank", "a lazy cat reads",
]
ODD = ["zebra über ☃", "", "the cat"]  # unknown words, characters the vocabulary lacks, empty text


def _vocab() -> list[str]:
    letters = list(string.ascii_lowercase)
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *letters, *(f"##{c}" for c in letters), *WORDS, *PIECES]
    return list(dict.fromkeys(tokens))  # "a" is both a letter and a word


@pytest.fixture(scope="module")
def teacher_folder(tmp_path_factory):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(_vocab())}
    backend = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]",
                                        cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64)
    folder = tmp_path_factory.mktemp("tiny-static-teacher")
    BertModel(config, add_pooling_layer=False).save_pretrained(folder / "hf")
    tokenizer.save_pretrained(folder / "hf")
    return folder / "hf"


@pytest.fixture(scope="module")
def teacher(teacher_folder):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    return SentenceTransformer(modules=[Transformer(str(teacher_folder), max_seq_length=32), Pooling(32, "mean")],
                               device="cpu")


def _cosines(a, b) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)


def _distill(teacher, **kwargs):
    kwargs.setdefault("dims", 8)
    return static.distill_static(teacher, **kwargs)


def test_shapes_progress_and_vocabulary(teacher):
    calls = []
    model = _distill(teacher, train_sentences=SENTENCES, train_steps=4,
                     progress=lambda message, fraction: calls.append((message, fraction)))
    assert static.is_static(model) and not static.is_static(teacher)
    assert [type(m).__name__ for m in model] == ["StaticEmbedding", "Normalize"]
    assert model[0].embedding.weight.shape == (len(_vocab()), 8)
    out = model.encode(SENTENCES[:3] + ODD[:1], convert_to_numpy=True)
    assert out.shape == (4, 8)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert len(calls) >= 3 and calls[-1][1] == 1.0
    assert all(0.0 <= f <= 1.0 for _, f in calls)
    fractions = [f for _, f in calls]
    assert fractions == sorted(fractions)
    assert any("training" in message for message, _ in calls)


def test_vocabulary_keeps_given_special_and_character_tokens(teacher):
    model = _distill(teacher, vocabulary=["cat", "dog", "##ing"])
    vocab = model[0].tokenizer.get_vocab()
    assert {"cat", "dog", "##ing", "[UNK]", "[CLS]", "a", "##z"} <= set(vocab)
    assert "horse" not in vocab and "guitar" not in vocab
    assert sorted(vocab.values()) == list(range(len(vocab)))
    assert model[0].embedding.weight.shape[0] == len(vocab)
    # "horse" is now spelled with characters instead of one token
    assert model[0].tokenizer.encode("horse", add_special_tokens=False).tokens == ["h", "##o", "##r", "##s", "##e"]
    with pytest.raises(SlimlibError, match="vocabulary"):
        _distill(teacher, vocabulary=["cat", "notatoken"])


def test_corpus_vocabulary_puts_corpus_tokens_first(teacher):
    tokens = static.corpus_vocabulary(teacher, ["the horse", "a horse riding"], size=len(_vocab()) - 10)
    assert len(tokens) == len(_vocab()) - 10 and len(set(tokens)) == len(tokens)
    assert {"horse", "riding", "the", "[UNK]", "q", "##q"} <= set(tokens)
    small = static.corpus_vocabulary(teacher, ["the horse"], size=10)  # the always-kept tokens exceed 10
    assert "horse" not in small and "[CLS]" in small
    model = _distill(teacher, vocabulary=tokens)
    assert model[0].embedding.weight.shape[0] == len(tokens)


@pytest.mark.parametrize("table_dtype", ["int8", "float16", "float32"])
def test_saved_folder_loads_identically_in_both_loaders(teacher, teacher_folder, tmp_path, table_dtype):
    from model2vec import StaticModel
    from safetensors.numpy import load_file
    from sentence_transformers import SentenceTransformer

    model = _distill(teacher, dims=24, table_dtype=table_dtype, train_sentences=SENTENCES, train_steps=3)
    folder = static.save_static(model, tmp_path / "static")
    texts = SENTENCES + ODD
    expected = model.encode(texts, convert_to_numpy=True)

    reloaded = SentenceTransformer(str(folder), device="cpu")
    assert static.is_static(reloaded)
    got_st = reloaded.encode(texts, convert_to_numpy=True)
    got_m2v = StaticModel.from_pretrained(folder).encode(texts)
    # model2vec 0.10 averages a float16 table in float16 (its output keeps the table dtype): exact only
    # when it upcasts at load time
    got_m2v32 = StaticModel.from_pretrained(folder, quantize_to="float32").encode(texts)
    nonempty = np.linalg.norm(expected, axis=1) > 0
    assert nonempty.sum() == len(texts) - 1  # only the empty text embeds to zeros
    for got, tolerance in ((got_st, 1e-5), (got_m2v32, 1e-5), (got_m2v, 1e-3 if table_dtype == "float16" else 1e-5)):
        assert got.shape == expected.shape
        assert _cosines(got[nonempty], expected[nonempty]).min() > 1 - tolerance
        assert np.abs(got[~nonempty]).max() == 0
    assert got_m2v.dtype == (np.float16 if table_dtype == "float16" else np.float32)

    tensors = load_file(str(folder / "model.safetensors"))
    assert set(tensors) == ({"embeddings"} if table_dtype == "float32" else {"embeddings", "weights"})
    assert tensors["embeddings"].dtype == np.dtype(table_dtype)
    assert json.loads((folder / "config.json").read_text())["embedding_dtype"] == table_dtype
    assert folder_bytes(folder) < folder_bytes(teacher_folder)


def test_quantized_tables_encode_like_float32(teacher):
    texts = SENTENCES + ODD[:1]
    reference = _distill(teacher, dims=16, table_dtype="float32").encode(texts, convert_to_numpy=True)
    for dtype, floor in (("float16", 0.9999), ("int8", 0.999)):
        got = _distill(teacher, dims=16, table_dtype=dtype).encode(texts, convert_to_numpy=True)
        assert _cosines(got, reference).min() > floor, dtype


def test_reloaded_int8_model_resaves_to_the_same_table(teacher, tmp_path):
    from safetensors.numpy import load_file
    from sentence_transformers import SentenceTransformer

    first = static.save_static(_distill(teacher, train_sentences=SENTENCES, train_steps=3), tmp_path / "first")
    reloaded = SentenceTransformer(str(first), device="cpu")
    second = static.save_static(reloaded, tmp_path / "second", table_dtype="int8")  # re-quantizing is lossless
    a, b = load_file(str(first / "model.safetensors")), load_file(str(second / "model.safetensors"))
    np.testing.assert_array_equal(a["embeddings"], b["embeddings"])
    np.testing.assert_allclose(a["weights"], b["weights"], rtol=1e-6)
    as_float = static.save_static(reloaded, tmp_path / "float")  # unknown origin: kept exact, as float32
    assert load_file(str(as_float / "model.safetensors"))["embeddings"].dtype == np.float32


def test_int8_halves_float16_which_halves_float32(teacher, tmp_path):
    sizes = {}
    for dtype in ("int8", "float16", "float32"):
        folder = static.save_static(_distill(teacher, dims=32, table_dtype=dtype), tmp_path / dtype)
        sizes[dtype] = (folder / "model.safetensors").stat().st_size
    assert sizes["int8"] < 0.6 * sizes["float16"] and sizes["float16"] < 0.6 * sizes["float32"]


def test_training_moves_the_table_toward_the_teacher(teacher):
    def agreement(model) -> float:
        # how well the static model's pairwise similarities follow the teacher's, on the training sentences
        s = model.encode(SENTENCES, convert_to_numpy=True)
        t = teacher.encode(SENTENCES, convert_to_numpy=True, normalize_embeddings=True)
        upper = np.triu_indices(len(SENTENCES), 1)
        return float(np.corrcoef((s @ s.T)[upper], (t @ t.T)[upper])[0, 1])

    plain = _distill(teacher, table_dtype="float32")
    trained = _distill(teacher, table_dtype="float32", train_sentences=SENTENCES * 4, train_steps=300)
    assert agreement(trained) > agreement(plain) + 0.05


@pytest.mark.parametrize("stop_after", [1, 3])
def test_should_stop_cancels(teacher, stop_after):
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return calls["n"] > stop_after

    with pytest.raises(Cancelled):
        _distill(teacher, train_sentences=SENTENCES, train_steps=50, should_stop=should_stop)


def test_bad_settings_are_user_errors(teacher, tmp_path):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Dense

    with pytest.raises(SlimlibError, match="table_dtype"):
        _distill(teacher, table_dtype="int4")
    with pytest.raises(SlimlibError, match="sif_coefficient"):
        _distill(teacher, sif_coefficient=2.0)
    with pytest.raises(SlimlibError, match="save_static"):
        static.save_static(teacher, "unused-folder")
    with_dense = SentenceTransformer(modules=[_distill(teacher)[0], Dense(8, 4)], device="cpu")
    with pytest.raises(SlimlibError, match="Normalize"):  # model2vec could not apply the Dense layer
        static.save_static(with_dense, tmp_path / "dense")
