"""Plain-text rendering of an evaluation, for the terminal."""
from __future__ import annotations


def _mb(n):
    return "-" if n is None else f"{n / 1e6:.1f} MB"


def _num(x, fmt="{:.2f}"):
    return "-" if x is None else fmt.format(x)


def format_eval(result: dict) -> str:
    b, c, r, labels = result["baseline"], result["compressed"], result["ratios"], result["labels"]
    rows = [
        ("params", f"{b['params']:,}", f"{c['params']:,}", _num(r["params"], "{:.3f}x"), labels.get("params")),
        ("size", _mb(b["size_bytes"]), _mb(c["size_bytes"]), _num(r["size"], "{:.3f}x"), labels.get("size_bytes")),
        ("sentences/s", _num(b["sentences_per_s"], "{:.1f}"), _num(c["sentences_per_s"], "{:.1f}"),
         _num(r["speedup"], "{:.2f}x"), labels.get("sentences_per_s")),
        ("STS Spearman", _num(b["sts_spearman"]), _num(c["sts_spearman"]), _num(r["sts_retained"], "{:.3f}x"),
         labels.get("sts_spearman")),
        ("fidelity cosine", "1", _num(c["fidelity_cosine"], "{:.4f}"), "", labels.get("fidelity_cosine")),
        ("fidelity Spearman", "100", _num(c["fidelity_spearman"]), "", labels.get("fidelity_cosine")),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"{'metric':<{width}}  {'baseline':>12}  {'compressed':>12}  {'ratio':>8}  how"]
    for name, base, comp, ratio, label in rows:
        lines.append(f"{name:<{width}}  {base:>12}  {comp:>12}  {ratio:>8}  {label or ''}")
    m = result["measurement"]
    lines.append(f"threads {m['threads']}, batch {m['batch_size']}, {m['speed_sentences']} sentences x {m['speed_runs']} runs; "
                 f"CPU features: {', '.join(m['hardware']['features']) or 'unknown'}")
    lines += [f"note: {n}" for n in result.get("notes", [])]
    return "\n".join(lines)
