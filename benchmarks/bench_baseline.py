"""The uncompressed baseline: bundled all-MiniLM-L6-v2 on STS-B dev (expect Spearman 86.72)."""
from common import describe_machine, evaluate_rows

ROWS = [("baseline fp32 (no steps)", [])]


def main():
    print(f"\n## Baseline — {describe_machine()}\n")
    return evaluate_rows(ROWS)


if __name__ == "__main__":
    main()
