"""Sentence sources: the project's own corpus, user files of sentences or pairs, and retrieval folders."""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from ..errors import DataFileError
from .user_files import read_user_text
from ..paths import PACKAGE_DIR

CORPUS_FILE = PACKAGE_DIR / "data" / "sentences.txt"
MAX_SENTENCE_FILE_BYTES = 200 * 1024 * 1024


@lru_cache(maxsize=1)
def project_sentences() -> tuple[str, ...]:
    """The project's English sentences (written for slimlib), used for fidelity, speed and distillation."""
    lines = CORPUS_FILE.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip())


def load_sentences(source: str = "default") -> list[str]:
    """Sentences from "default" (the project corpus), a text file (one a line), a pair file, or a
    retrieval folder in the BEIR layout (its queries and documents: RetrievalSet.texts())."""
    if source in (None, "", "default"):
        return list(project_sentences())
    path = Path(source)
    if path.is_dir():  # a BEIR folder; anything else in a folder fails with read_retrieval's one line
        from .retrieval import read_retrieval

        return read_retrieval(path).texts()
    text = read_user_text(path, "sentence file", DataFileError, MAX_SENTENCE_FILE_BYTES,
                          "save it as UTF-8 with one sentence per line")
    from .pairs import looks_like_pair_file, read_pairs

    if looks_like_pair_file(path):
        pairs = read_pairs(path)
        seen = dict.fromkeys([s for p in pairs for s in (p.sentence1, p.sentence2)])
        return list(seen)
    sentences = [line.strip() for line in text.splitlines() if line.strip()]
    if not sentences:
        raise DataFileError(f"{source}: contains no sentences (expected one sentence per line)")
    return sentences


def sentences_hash(sentences: list[str] | tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for sentence in sentences:
        digest.update(sentence.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()[:16]
