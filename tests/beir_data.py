"""Small BEIR-layout folders for tests (the real Cranfield set is read in place, never copied)."""
from __future__ import annotations

import json
from pathlib import Path

TOPICS = {
    "wing": ["the lift of a swept wing at high angles of attack", "wing flutter in a transonic wind tunnel",
             "boundary layer separation over an aerofoil"],
    "heat": ["heat transfer to a blunt body in hypersonic flow", "conduction of heat in composite slabs",
             "temperature of the skin of a re-entry vehicle"],
    "shell": ["buckling of thin cylindrical shells under axial load", "vibration of a clamped circular plate",
              "stress in a pressurised conical shell"],
}
QUERIES = {"q1": "how does a wing behave at high angle of attack", "q2": "heat flow into hypersonic bodies",
           "q3": "when do thin shells buckle"}
QRELS = {"q1": {"wing-0": 2, "wing-1": 1}, "q2": {"heat-0": 2, "heat-2": 1}, "q3": {"shell-0": 1}}


def write_beir(folder: Path, docs: dict[str, str] | None = None, queries: dict[str, str] | None = None,
               qrels: dict[str, dict[str, int]] | None = None) -> Path:
    """A BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv); defaults: 9 documents, 3 queries."""
    if docs is None:
        docs = {f"{topic}-{i}": text for topic, texts in TOPICS.items() for i, text in enumerate(texts)}
    queries = QUERIES if queries is None else queries
    qrels = QRELS if qrels is None else qrels
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    (folder / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": i, "title": "", "text": t}) + "\n" for i, t in docs.items()))
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in queries.items()))
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{s}\n" for q, ds in qrels.items() for d, s in ds.items()))
    return folder
