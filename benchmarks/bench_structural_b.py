"""Structural ops part B on all-MiniLM-L6-v2, no recovery: low-rank Linears, factorized and trimmed vocabularies.

Read with care: trim_vocab's default corpus is the project sentences, which are also the fidelity
sentences, so its fidelity is 1 by construction; STS-B (text the corpus does not cover) tells how
much coverage matters. low_rank at rank 256 leaves the 384x384 attention Linears alone (no saving).
"""
from common import describe_machine, evaluate_rows

ALL_TARGETS = ["attention", "ffn_in", "ffn_out"]
FFN_ONLY = ["ffn_in", "ffn_out"]

ROWS = (
    [(f"low_rank r{r} all", [{"op": "low_rank", "rank": r, "targets": ALL_TARGETS}]) for r in (256, 128, 64)]
    + [(f"low_rank r{r} ffn", [{"op": "low_rank", "rank": r, "targets": FFN_ONLY}]) for r in (256, 128, 64)]
    + [(f"factorize_embeddings r{r}", [{"op": "factorize_embeddings", "rank": r}]) for r in (256, 128, 64)]
    + [(f"trim_vocab {n} (default corpus)", [{"op": "trim_vocab", "corpus": "default", "max_tokens": n}])
       for n in (16000, 8000)]
)


def main():
    print(f"\n## Structural ops B (no recovery) — {describe_machine()}\n")
    return evaluate_rows(ROWS)


if __name__ == "__main__":
    main()
