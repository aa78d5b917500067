"""Plain-text rendering of an evaluation, for the terminal; and the one sentence that names the data."""
from __future__ import annotations

from pathlib import PurePath

from ..data.public_sets import is_named_set
from .result import as_result, measurement_text, table_rows


def data_name(path: str | None) -> str | None:
    """What a report calls the data: a folder's or file's name ("scifact", "sts-dev.tsv"), a named set as typed."""
    if not path:
        return None
    if is_named_set(path):
        return path  # a named public set, e.g. nanobeir:scifact
    return PurePath(path.rstrip("/\\")).name or path


def data_text(result) -> str:
    """The data set and its size in words, e.g. "retrieval folder scifact: 50 of 300 queries over 609 of
    5,183 documents (a fixed stratified subset)", "pair file sts-dev.tsv: 150 of 1,500 pairs", or that none
    was given."""
    r = as_result(result)
    m = r.measurement
    name = data_name(m.get("data_file"))
    subset = " (a fixed stratified subset)" if m.get("data_sample") else ""
    if r.data_kind == "retrieval":
        size = r.retrieval_text()
        return f"retrieval folder {name or '(unnamed)'}" + (f": {size}{subset}" if size else "")
    if r.data_kind == "pairs":
        pairs = r.pairs_text()
        return f"pair file {name or '(unnamed)'}" + (f": {pairs}{subset}" if pairs else "")
    return "none given (accuracy on labelled data not measured; fidelity needs no labels)"


def format_eval(result: dict) -> str:
    """The measured table (rows and formats from slimlib.report.result.METRICS, with each accuracy
    metric's 95% interval and verdict), then the data and how it was measured."""
    r = as_result(result)
    rows = table_rows(r)
    width = max(len(row["name"]) for row in rows)
    intervals = any(row["interval"] for row in rows)
    how_width = max(len("how"), *(len(row["how"]) for row in rows)) if intervals else 0
    head = f"{'metric':<{width}}  {'baseline':>14}  {'compressed':>14}  {'ratio':>8}  {'how':<{how_width}}"
    lines = [(head + "  interval" if intervals else head).rstrip()]
    for row in rows:
        line = (f"{row['name']:<{width}}  {row['baseline']:>14}  {row['compressed']:>14}  {row['ratio']:>8}  "
                f"{row['how']:<{how_width}}")
        lines.append((line + f"  {row['interval']}" if row["interval"] else line).rstrip())
    m = r.measurement
    lines.append(f"data: {data_text(r)}")
    lines.append(measurement_text(r))
    lines.append(f"batch {m.get('batch_size')}; CPU features: "
                 f"{', '.join((m.get('hardware') or {}).get('features', [])) or 'unknown'}")
    lines += [f"note: {n}" for n in r.notes]
    return "\n".join(lines)
