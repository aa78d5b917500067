"""Labelled sentence-pair files: STS Benchmark TSV, or any CSV/TSV with a header.

STS Benchmark rows are: genre, file, year, id, score, sentence1, sentence2 (a few rows carry extra
fields, and quotes are literal, hence QUOTE_NONE). Other files need a header naming two sentence
columns and a score column, e.g. sentence1,sentence2,score or sentence_A,sentence_B,relatedness_score;
a "genre" column, when there is one, is kept for stratified sampling.

Quick evaluations (the app's live points, `eval --quick`, sweeps and searches unless --full) score
STS on `stratified_sample(pairs, QUICK_PAIRS)`: pairs spread evenly over the score range within each
genre, the same pairs every time for the same file.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataFileError
from .user_files import read_user_text

MAX_PAIR_FILE_BYTES = 50 * 1024 * 1024
SENTENCE_COLUMNS = (("sentence1", "sentence2"), ("sentence_a", "sentence_b"), ("s1", "s2"),
                    ("text1", "text2"), ("text_a", "text_b"), ("premise", "hypothesis"))
SCORE_COLUMNS = ("score", "similarity", "relatedness_score", "label", "gold", "gold_score")
GENRE_COLUMNS = ("genre", "domain")
# Pairs a quick evaluation scores STS on (the one definition the app, the CLI and sweeps share).
QUICK_PAIRS = 150


@dataclass(frozen=True)
class Pair:
    sentence1: str
    sentence2: str
    score: float
    genre: str = ""  # the STS Benchmark's first column, or a "genre" column; "" when the file has none


def _read_text(path: Path) -> str:
    return read_user_text(path, "pair file", DataFileError, MAX_PAIR_FILE_BYTES, "save the pair file as UTF-8")


def _delimiter(first_line: str) -> str:
    return "\t" if first_line.count("\t") >= first_line.count(",") else ","


def _find_header(names: list[str]) -> tuple[int, int, int] | None:
    lowered = [n.strip().lower() for n in names]
    for a, b in SENTENCE_COLUMNS:
        if a in lowered and b in lowered:
            for score in SCORE_COLUMNS:
                if score in lowered:
                    return lowered.index(a), lowered.index(b), lowered.index(score)
    return None


def looks_like_pair_file(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8-sig") as handle:
            first = handle.readline()
    except (UnicodeDecodeError, OSError):
        return False
    fields = first.rstrip("\n").split(_delimiter(first))
    return _find_header(fields) is not None or _is_sts_row(fields)


def _is_sts_row(fields: list[str]) -> bool:
    if len(fields) < 7:
        return False
    try:
        float(fields[4])
    except ValueError:
        return False
    return True


def read_pairs(path: str | Path, name: str | None = None) -> list[Pair]:
    """The pairs of a file; `name` (e.g. an uploaded file's own name) is what error messages call it."""
    path = Path(path)
    where = name or str(path)
    try:
        text = _read_text(path)
    except DataFileError as exc:
        if name is None:
            raise
        raise DataFileError(str(exc).replace(str(path), name, 1)) from None
    lines = text.splitlines()
    if not lines or not any(line.strip() for line in lines):
        raise DataFileError(f"{where}: the pair file is empty")
    delimiter = _delimiter(lines[0])
    rows = list(csv.reader(lines, delimiter=delimiter, quoting=csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL))
    header = _find_header(rows[0])
    if header is not None:
        i1, i2, iscore = header
        igenre = _genre_column(rows[0])
        body, first_line_no = rows[1:], 2
    elif _is_sts_row(rows[0]):
        i1, i2, iscore, igenre = 5, 6, 4, 0
        body, first_line_no = rows, 1
    else:
        raise DataFileError(
            f"{where}: unknown columns {rows[0][:6]}; expected the STS Benchmark TSV layout or a header naming two "
            f"sentence columns ({', '.join('/'.join(p) for p in SENTENCE_COLUMNS[:2])}) and a score column ({', '.join(SCORE_COLUMNS[:3])})"
        )
    pairs: list[Pair] = []
    for offset, row in enumerate(body):
        line_no = first_line_no + offset
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) <= max(i1, i2, iscore):
            raise DataFileError(f"{where}: line {line_no} has {len(row)} fields, expected at least {max(i1, i2, iscore) + 1}")
        raw_score = row[iscore].strip()
        try:
            score = float(raw_score)
        except ValueError:
            raise DataFileError(f"{where}: line {line_no}: score {raw_score!r} is not a number") from None
        if not math.isfinite(score):
            raise DataFileError(f"{where}: line {line_no}: score {raw_score!r} is not a finite number")
        genre = row[igenre].strip() if igenre is not None and igenre < len(row) else ""
        pairs.append(Pair(row[i1].strip(), row[i2].strip(), score, genre))
    if len(pairs) < 3:
        raise DataFileError(f"{where}: has {len(pairs)} scored pairs; at least 3 are needed for a Spearman correlation")
    return pairs


def _genre_column(names: list[str]) -> int | None:
    lowered = [n.strip().lower() for n in names]
    return next((lowered.index(g) for g in GENRE_COLUMNS if g in lowered), None)


def stratified_sample(pairs: list[Pair], count: int) -> list[Pair]:
    """`count` pairs spread over the score range within each genre, in file order; deterministic.

    Genres get seats in proportion to their pairs (largest remainders, ties by name); within a genre
    the pairs are sorted by score (file order breaking ties) and evenly spaced ones are taken, so the
    sample has the file's score distribution and genre mix, and the same file always gives the same
    sample. All pairs when the file has no more than `count`.
    """
    if count >= len(pairs):
        return list(pairs)
    if count < 1:
        return []
    groups: dict[str, list[int]] = {}
    for index, pair in enumerate(pairs):
        groups.setdefault(pair.genre, []).append(index)
    exact = {genre: count * len(members) / len(pairs) for genre, members in groups.items()}
    seats = {genre: int(share) for genre, share in exact.items()}
    for genre in sorted(groups, key=lambda g: (-(exact[g] - seats[g]), g))[: count - sum(seats.values())]:
        seats[genre] += 1
    chosen: list[int] = []
    for genre, members in groups.items():
        by_score = sorted(members, key=lambda i: (pairs[i].score, i))
        k = seats[genre]
        chosen += [by_score[int((j + 0.5) * len(by_score) / k)] for j in range(k)]
    return [pairs[i] for i in sorted(chosen)]
