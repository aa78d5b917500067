"""Named public retrieval sets, fetched once and kept as BEIR folders: `--data nanobeir:scifact`.

NanoBEIR (sentence-transformers/NanoBEIR-en on the Hugging Face hub: 13 small BEIR sets of 50 queries
each, what sentence-transformers' NanoBEIREvaluator scores) is downloaded with huggingface_hub, turned
into an ordinary BEIR folder under the data directory, and from then on read like any user folder
(offline too). Without a network the first use fails with one line saying so and what to do instead.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import DataFileError
from ..paths import cache_dir

PREFIX = "nanobeir:"
NANOBEIR_REPO = "sentence-transformers/NanoBEIR-en"
# name users type -> the split name the hub repository uses (its subsets are corpus, queries, qrels)
NANOBEIR = {"arguana": "NanoArguAna", "climatefever": "NanoClimateFEVER", "dbpedia": "NanoDBPedia",
            "fever": "NanoFEVER", "fiqa2018": "NanoFiQA2018", "hotpotqa": "NanoHotpotQA", "msmarco": "NanoMSMARCO",
            "nfcorpus": "NanoNFCorpus", "nq": "NanoNQ", "quoraretrieval": "NanoQuoraRetrieval",
            "scidocs": "NanoSCIDOCS", "scifact": "NanoSciFact", "touche2020": "NanoTouche2020"}


def is_named_set(spec: str | None) -> bool:
    return bool(spec) and str(spec).lower().startswith(PREFIX)


def _download(split: str) -> Path:
    """The hub repository's files for one split (huggingface_hub's own cache; raises when offline)."""
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(NANOBEIR_REPO, repo_type="dataset", allow_patterns=[f"*/{split}*", f"*/{split}/*"]))


def _rows(snapshot: Path, subset: str, split: str) -> list[dict]:
    import pandas as pd

    files = sorted(p for p in snapshot.rglob("*.parquet") if p.relative_to(snapshot).parts[0] == subset
                   and split in p.as_posix())
    if not files:
        raise DataFileError(f"{PREFIX}{split}: the download has no {subset} files for {split} ({NANOBEIR_REPO})")
    return [row for f in files for row in pd.read_parquet(f).to_dict("records")]


def _write_beir(folder: Path, snapshot: Path, split: str) -> None:
    partial = folder.with_name(folder.name + ".partial")
    (partial / "qrels").mkdir(parents=True, exist_ok=True)
    with open(partial / "corpus.jsonl", "w", encoding="utf-8") as out:
        for row in _rows(snapshot, "corpus", split):
            out.write(json.dumps({"_id": str(row["_id"]), "title": row.get("title") or "", "text": row["text"]}) + "\n")
    with open(partial / "queries.jsonl", "w", encoding="utf-8") as out:
        for row in _rows(snapshot, "queries", split):
            out.write(json.dumps({"_id": str(row["_id"]), "text": row["text"]}) + "\n")
    with open(partial / "qrels" / "test.tsv", "w", encoding="utf-8") as out:
        out.write("query-id\tcorpus-id\tscore\n")
        for row in _rows(snapshot, "qrels", split):
            out.write(f"{row['query-id']}\t{row['corpus-id']}\t{int(row.get('score', 1) or 1)}\n")
    partial.replace(folder)  # whole or not at all: a stopped download never leaves a half folder


def fetch_named_set(spec: str) -> Path:
    """The BEIR folder of a named set ("nanobeir:scifact"), downloaded on first use."""
    name = str(spec)[len(PREFIX):].strip().lower()
    if name not in NANOBEIR:
        raise DataFileError(f"--data {spec}: unknown NanoBEIR set {name!r}; known: {', '.join(sorted(NANOBEIR))}")
    split = NANOBEIR[name]
    folder = cache_dir("datasets") / f"nanobeir-{name}"
    if (folder / "corpus.jsonl").is_file():
        return folder
    try:
        snapshot = _download(split)
    except Exception as exc:  # noqa: BLE001 - every hub failure (offline, DNS, HTTP, auth) is one line to the user
        raise DataFileError(f"--data {spec}: cannot download {split} from the Hugging Face hub ({NANOBEIR_REPO}): "
                            f"{type(exc).__name__}; check the network, or pass a local BEIR folder "
                            "(corpus.jsonl, queries.jsonl, qrels/test.tsv) instead") from None
    _write_beir(folder, snapshot, split)
    return folder
