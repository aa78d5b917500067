"""Plain-text rendering of an evaluation, for the terminal."""
from __future__ import annotations

from .result import as_result, table_rows


def format_eval(result: dict) -> str:
    """The measured table (rows and formats from slimlib.report.result.METRICS), then how it was measured."""
    r = as_result(result)
    rows = [(row["name"], row["baseline"], row["compressed"], row["ratio"], row["how"]) for row in table_rows(r)]
    width = max(len(row[0]) for row in rows)
    lines = [f"{'metric':<{width}}  {'baseline':>14}  {'compressed':>14}  {'ratio':>8}  how"]
    for name, base, comp, ratio, how in rows:
        lines.append(f"{name:<{width}}  {base:>14}  {comp:>14}  {ratio:>8}  {how}")
    m = r.measurement
    pairs = r.pairs_text()
    lines.append(f"threads {m.get('threads')}, batch {m.get('batch_size')}, {m.get('speed_sentences')} sentences x "
                 f"{m.get('speed_runs')} runs" + (f", STS on {pairs}" if pairs else "")
                 + f"; CPU features: {', '.join((m.get('hardware') or {}).get('features', [])) or 'unknown'}")
    lines += [f"note: {n}" for n in r.notes]
    return "\n".join(lines)
