"""Retrieval data sets in the BEIR layout: a folder with corpus.jsonl, queries.jsonl and qrels/test.tsv.

- corpus.jsonl: one JSON object a line with "_id" and "text" ("title" optional; a document is
  embedded as "title text", as BEIR and MTEB do);
- queries.jsonl: one JSON object a line with "_id" and "text";
- qrels/test.tsv: a header line, then query-id, corpus-id, score (tab-separated; score > 0 is relevant,
  the grade is the gain of nDCG).

Only queries that have at least one relevant document are evaluated (the BEIR convention). Every way a
folder can be malformed raises DataFileError with one line naming the file, the line and what is expected.

Quick evaluations use `quick_subset`: a fixed, stratified subset of the queries, every document relevant
to one of them, and a fixed sample of the rest of the corpus, the same for the same folder every time.
"""
from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataFileError
from .user_files import read_user_text

CORPUS_FILE = "corpus.jsonl"
QUERIES_FILE = "queries.jsonl"
QRELS_FILE = "qrels/test.tsv"
MAX_RETRIEVAL_FILE_BYTES = 500 * 1024 * 1024
MAX_ZIP_BYTES = 1024 * 1024 * 1024
# A quick evaluation's share of a retrieval set (one definition for the app, `eval --quick` and sweeps),
# sized so a live point on Cranfield costs about what 150 STS pairs do: a Cranfield abstract (~240
# tokens) costs a MiniLM ~6x a short sentence, one cut to ~128 tokens (600 characters) ~2.5x.
QUICK_QUERIES = 16
QUICK_OTHER_DOCUMENTS = 32
QUICK_DOCUMENT_CHARS = 600


@dataclass(frozen=True)
class RetrievalSet:
    """A corpus, its queries and their graded relevance judgements (query id -> {doc id: grade > 0})."""

    doc_ids: tuple[str, ...]
    doc_texts: tuple[str, ...]
    query_ids: tuple[str, ...]
    query_texts: tuple[str, ...]
    qrels: dict[str, dict[str, int]] = field(hash=False)
    source: str = ""
    digest: str = ""
    sample: str | None = None  # how this set was cut from a larger one (None: the whole set)

    @property
    def documents(self) -> int:
        return len(self.doc_ids)

    @property
    def queries(self) -> int:
        return len(self.query_ids)

    def texts(self) -> list[str]:
        """Every query and document text, e.g. as training sentences for distillation."""
        return list(dict.fromkeys([*self.query_texts, *self.doc_texts]))


def is_retrieval_folder(path: str | Path) -> bool:
    """True for a folder holding a BEIR corpus (what `--data` and the app's picker detect)."""
    return Path(path).is_dir() and (Path(path) / CORPUS_FILE).exists()


def looks_like_retrieval(path: str | Path) -> bool:
    """A folder, or a .zip of one: what the data picker treats as retrieval data rather than a pair file."""
    path = Path(path)
    return path.is_dir() or path.suffix.lower() == ".zip"


def _read_jsonl(path: Path, where: str, kind: str) -> list[dict]:
    text = read_user_text(path, f"{kind} file", DataFileError, MAX_RETRIEVAL_FILE_BYTES,
                          "save it as UTF-8, one JSON object a line")
    rows = []
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataFileError(f"{where}: line {line_no}: not valid JSON ({exc.msg}); expected one JSON object a line "
                                '(e.g. {"_id": "1", "text": "..."})') from None
        if not isinstance(row, dict):
            raise DataFileError(f"{where}: line {line_no}: expected a JSON object with \"_id\" and \"text\", "
                                f"got {type(row).__name__}")
        for key in ("_id", "text"):
            if key not in row:
                raise DataFileError(f"{where}: line {line_no}: missing \"{key}\"; each line needs \"_id\" and \"text\"")
        if not isinstance(row["text"], str) or not isinstance(row.get("title", ""), (str, type(None))):
            raise DataFileError(f"{where}: line {line_no}: \"text\" and \"title\" must be strings")
        row["_id"] = str(row["_id"])
        row["_line"] = line_no
        rows.append(row)
    return rows


def _unique_ids(rows: list[dict], where: str) -> None:
    seen: set[str] = set()
    for row in rows:
        if row["_id"] in seen:
            raise DataFileError(f"{where}: line {row['_line']}: duplicate _id {row['_id']!r}; ids must be unique")
        seen.add(row["_id"])


def _read_qrels(path: Path, where: str, doc_ids: set[str], query_ids: set[str]) -> dict[str, dict[str, int]]:
    text = read_user_text(path, "qrels file", DataFileError, MAX_RETRIEVAL_FILE_BYTES,
                          "save it as UTF-8, tab-separated query-id, corpus-id, score")
    lines = text.splitlines()
    if not lines:
        raise DataFileError(f"{where}: is empty; expected a header line (query-id, corpus-id, score) and judgements")
    header = [cell.strip().lower() for cell in lines[0].split("\t")]
    if header[:2] != ["query-id", "corpus-id"] or len(header) < 3:
        raise DataFileError(f"{where}: line 1: expected the header 'query-id<TAB>corpus-id<TAB>score', "
                            f"got {lines[0][:80]!r}")
    qrels: dict[str, dict[str, int]] = {}
    for line_no, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        cells = [cell.strip() for cell in line.split("\t")]
        if len(cells) < 3:
            raise DataFileError(f"{where}: line {line_no}: has {len(cells)} tab-separated fields, expected 3 "
                                "(query-id, corpus-id, score)")
        qid, did, raw = cells[:3]
        try:
            grade = int(float(raw))
        except ValueError:
            raise DataFileError(f"{where}: line {line_no}: score {raw!r} is not a number") from None
        if qid not in query_ids:
            raise DataFileError(f"{where}: line {line_no}: query-id {qid!r} is not in {QUERIES_FILE}")
        if did not in doc_ids:
            raise DataFileError(f"{where}: line {line_no}: corpus-id {did!r} is not in {CORPUS_FILE}")
        if grade > 0:
            qrels.setdefault(qid, {})[did] = grade
    if not qrels:
        raise DataFileError(f"{where}: no judgement with a score above 0; at least one relevant document is needed")
    return qrels


def _digest(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def read_retrieval(folder: str | Path, name: str | None = None) -> RetrievalSet:
    """The retrieval set of a BEIR folder; `name` is what messages call the folder (e.g. an upload's name)."""
    folder = Path(folder)
    where = name or str(folder)
    if not folder.is_dir():
        raise DataFileError(f"{where}: retrieval folder not found; expected a folder with {CORPUS_FILE}, "
                            f"{QUERIES_FILE} and {QRELS_FILE}")
    paths = {rel: folder / rel for rel in (CORPUS_FILE, QUERIES_FILE, QRELS_FILE)}
    for rel, path in paths.items():
        if not path.is_file():
            raise DataFileError(f"{where}/{rel}: missing; a BEIR folder holds {CORPUS_FILE}, {QUERIES_FILE} and {QRELS_FILE}")
    try:
        docs = _read_jsonl(paths[CORPUS_FILE], f"{where}/{CORPUS_FILE}", "corpus")
        if not docs:
            raise DataFileError(f"{where}/{CORPUS_FILE}: the corpus is empty; expected one document a line")
        _unique_ids(docs, f"{where}/{CORPUS_FILE}")
        queries = _read_jsonl(paths[QUERIES_FILE], f"{where}/{QUERIES_FILE}", "queries")
        if not queries:
            raise DataFileError(f"{where}/{QUERIES_FILE}: no queries; expected one query a line")
        _unique_ids(queries, f"{where}/{QUERIES_FILE}")
        qrels = _read_qrels(paths[QRELS_FILE], f"{where}/{QRELS_FILE}", {d["_id"] for d in docs},
                            {q["_id"] for q in queries})
    except DataFileError as exc:
        if name is None:
            raise
        raise DataFileError(str(exc).replace(str(folder), name)) from None
    judged = [q for q in queries if q["_id"] in qrels]
    return RetrievalSet(
        doc_ids=tuple(d["_id"] for d in docs),
        doc_texts=tuple(document_text(d) for d in docs),
        query_ids=tuple(q["_id"] for q in judged),
        query_texts=tuple(q["text"].strip() for q in judged),
        qrels=qrels,
        source=str(folder),
        digest=_digest(*paths.values()),
    )


def document_text(doc: dict) -> str:
    """What is embedded for a document: its title and text, joined by a space (BEIR's convention)."""
    title = (doc.get("title") or "").strip()
    text = (doc.get("text") or "").strip()
    return f"{title} {text}".strip() if title else text


def _cut(text: str, chars: int | None) -> str:
    """The first `chars` characters, ending at a word boundary (the whole text when it is shorter)."""
    if chars is None or len(text) <= chars:
        return text
    head = text[:chars]
    return head[: head.rfind(" ")] if " " in head else head


def quick_subset(full: RetrievalSet, queries: int = QUICK_QUERIES, other_documents: int = QUICK_OTHER_DOCUMENTS,
                 document_chars: int | None = QUICK_DOCUMENT_CHARS) -> RetrievalSet:
    """A fixed, stratified cut of `full`: `queries` queries spread evenly over the range of how many
    relevant documents they have, every document relevant to one of them, and `other_documents` more
    documents evenly spaced over the rest of the corpus (distractors), each document cut to its first
    `document_chars` characters. Deterministic; the whole set when it is no larger than the cut."""
    if (full.queries <= queries and full.documents <= queries * 10 + other_documents
            and all(len(t) <= (document_chars or len(t)) for t in full.doc_texts)):
        return full
    by_count = sorted(range(full.queries), key=lambda i: (len(full.qrels[full.query_ids[i]]), i))
    k = min(queries, full.queries)
    chosen = sorted(by_count[int((j + 0.5) * len(by_count) / k)] for j in range(k))
    query_ids = [full.query_ids[i] for i in chosen]
    relevant = {d for q in query_ids for d in full.qrels[q]}
    rest = [i for i, d in enumerate(full.doc_ids) if d not in relevant]
    n_other = min(other_documents, len(rest))
    others = {rest[int((j + 0.5) * len(rest) / n_other)] for j in range(n_other)} if n_other else set()
    keep = [i for i, d in enumerate(full.doc_ids) if d in relevant or i in others]
    return RetrievalSet(
        doc_ids=tuple(full.doc_ids[i] for i in keep),
        doc_texts=tuple(_cut(full.doc_texts[i], document_chars) for i in keep),
        query_ids=tuple(query_ids),
        query_texts=tuple(full.query_texts[i] for i in chosen),
        qrels={q: full.qrels[q] for q in query_ids},
        source=full.source,
        digest=full.digest,
        sample=(f"stratified: {k} of {full.queries} queries (evenly spaced over their number of relevant documents), "
                f"their {len(relevant)} relevant documents and {n_other} others evenly spaced over the corpus: "
                f"{len(keep)} of {full.documents} documents"
                + (f", each cut to its first {document_chars} characters" if document_chars else "")),
    )


def extract_zip(archive: str | Path, destination: str | Path, name: str | None = None) -> Path:
    """Unpack an uploaded .zip of a BEIR folder into `destination` and return the folder that holds
    corpus.jsonl (the archive's top level, or its one top folder). Refuses paths that leave `destination`."""
    archive, destination = Path(archive), Path(destination)
    where = name or str(archive)
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
                raise DataFileError(f"{where}: unpacks to more than {MAX_ZIP_BYTES // 2**30} GB")
            root = destination.resolve()
            for member in members:
                target = (destination / member.filename).resolve()
                if root not in (target, *target.parents):
                    raise DataFileError(f"{where}: entry {member.filename!r} points outside the archive's folder")
            zf.extractall(destination)
    except zipfile.BadZipFile:
        raise DataFileError(f"{where}: not a zip archive; upload a .zip of a folder with {CORPUS_FILE}, "
                            f"{QUERIES_FILE} and {QRELS_FILE}") from None
    candidates = [destination, *sorted(p for p in destination.iterdir() if p.is_dir() and p.name != "__MACOSX")]
    for candidate in candidates:
        if (candidate / CORPUS_FILE).is_file():
            return candidate
    raise DataFileError(f"{where}: no {CORPUS_FILE} at the top of the archive or in its top folder; zip the folder "
                        f"that holds {CORPUS_FILE}, {QUERIES_FILE} and {QRELS_FILE}")
