"""An evaluation result as a type, and the one list of metrics everything reads it through.

`slimlib.workflows.evaluate.evaluate` returns a JSON dict (printed by the CLI, stored in the
history, read back by the app). `EvalResult` is that dict with named fields: `from_dict` accepts
anything evaluate ever wrote (old history rows lack newer keys; unknown keys from newer versions
ride along in `extra`), and `to_dict` gives back exactly the JSON it was made from.

`METRICS` is the single list of the numbers a result holds: name, unit, direction (smaller or
larger is better), where it is read from, what the baseline's value is, how it is formatted and
which "how was this obtained" label belongs to it. The trade-off chart, the metric cards, the
model card's measured table, the HTML and text reports, goals and (via `SWEEP_METRICS`) the
search objectives all read it, so a metric is defined in one place.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

# The top-level keys evaluate() writes, in its order (to_dict writes them back in this order).
KNOWN_KEYS = ("base_model", "recipe", "recipe_key", "baseline", "compressed", "ratios", "labels", "notes",
              "significance", "measurement")


@dataclass
class EvalResult:
    """One evaluation of a recipe against its baseline (see slimlib.workflows.evaluate.evaluate)."""

    base_model: str
    recipe: dict
    recipe_key: str
    baseline: dict  # params, size_bytes, sentences_per_s, sts_spearman of the base model
    compressed: dict  # the same plus fidelity_cosine, fidelity_spearman of the compressed model
    ratios: dict  # speedup, size, params, sts_retained (compressed / baseline)
    labels: dict  # metric field -> how it was obtained ("measured", "not measured: ...")
    measurement: dict  # threads, sentences, runs, data file and pairs, quick, hardware, versions
    notes: list = field(default_factory=list)
    # metric field -> {"difference_ci": [low, high], "verdict": "within noise" | "better/worse than the baseline"}
    significance: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)  # keys this version does not know, kept for round trips

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "EvalResult":
        """Read an eval JSON; missing sections (very old rows, hand-made results) become empty."""
        data = copy.deepcopy(dict(data))
        return cls(
            base_model=data.get("base_model", (data.get("recipe") or {}).get("base_model", "")),
            recipe=data.get("recipe") or {},
            recipe_key=data.get("recipe_key", ""),
            baseline=data.get("baseline") or {},
            compressed=data.get("compressed") or {},
            ratios=data.get("ratios") or {},
            labels=data.get("labels") or {},
            measurement=data.get("measurement") or {},
            notes=list(data.get("notes") or []),
            significance=data.get("significance") or {},
            extra={k: v for k, v in data.items() if k not in KNOWN_KEYS},
        )

    def to_dict(self) -> dict:
        """The eval JSON again: exactly what from_dict was given for any complete result."""
        out = {"base_model": self.base_model, "recipe": self.recipe, "recipe_key": self.recipe_key,
               "baseline": self.baseline, "compressed": self.compressed, "ratios": self.ratios,
               "labels": self.labels, "notes": self.notes}
        if self.significance:  # only results with accuracy intervals carry it (older JSON round-trips unchanged)
            out["significance"] = self.significance
        out["measurement"] = self.measurement
        out.update(self.extra)
        return copy.deepcopy(out)

    # Derived facts the pages ask for ----------------------------------------------------------
    @property
    def quick(self) -> bool:
        return bool(self.measurement.get("quick", False))

    @property
    def is_baseline(self) -> bool:
        return not self.recipe.get("steps")

    def value(self, key: str) -> float | None:
        return metric(key).value(self)

    def baseline_value(self, key: str) -> float | None:
        return metric(key).baseline_value(self)

    def how(self, key: str) -> str:
        """How the metric was obtained ("measured", "not measured: no kernel", "no pair file")."""
        return metric(key).how(self)

    @property
    def data_kind(self) -> str | None:
        """ "pairs", "retrieval" or None (no data); rows older than data_kind had pairs when they scored STS."""
        kind = self.measurement.get("data_kind")
        if kind is None and self.measurement.get("data_pairs"):
            return "pairs"
        return kind

    def verdict(self, key: str) -> str | None:
        """ "within noise" (or better/worse than the baseline) for a metric with an interval, else None."""
        m = METRICS.get(key)
        field_name = m.interval_field if m is not None else key
        return (self.significance.get(field_name) or {}).get("verdict")

    def retrieval_text(self) -> str | None:
        """ "50 of 225 queries over 609 of 1,400 documents" / "225 queries over 1,400 documents" / None."""
        m = self.measurement
        queries, docs = m.get("data_queries"), m.get("data_documents")
        if not queries:
            return None
        q_total, d_total = m.get("data_queries_total") or queries, m.get("data_documents_total") or docs
        q_text = f"{queries:,} of {q_total:,} queries" if q_total != queries else f"{queries:,} queries"
        d_text = f"{docs:,} of {d_total:,} documents" if d_total != docs else f"{docs:,} documents"
        return f"{q_text} over {d_text}"

    def pairs_text(self) -> str | None:
        """ "100 of 1,500 pairs" / "1,500 pairs" / None; rows older than data_pairs_total say less."""
        scored, total = self.measurement.get("data_pairs"), self.measurement.get("data_pairs_total")
        if not scored:
            return None
        if total and total != scored:
            return f"{scored:,} of {total:,} pairs"
        return f"{scored:,} pairs"


def as_result(result: "EvalResult | Mapping[str, Any]") -> EvalResult:
    return result if isinstance(result, EvalResult) else EvalResult.from_dict(result)


def number(value) -> float | None:
    """A finite float, or None for missing, bools, text and NaN."""
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


Formatter = Callable[[float], str]
NO_PAIRS = "no pair file given"
NO_RETRIEVAL = "no retrieval folder given"
RETRIEVAL_KEYS = ("ndcg_at_10", "recall_at_10", "mrr_at_10")


@dataclass(frozen=True)
class Metric:
    """One number of an evaluation result: what it is, which way is better, where it lives."""

    key: str
    name: str  # short human name ("Speedup"): hover text, tables, goal editors
    unit: str  # what one unit means ("x the baseline's sentences/s")
    direction: str  # "min" or "max": which way is better
    source: tuple[str, str]  # (section, field) of the eval JSON the value is read from
    fmt: str | Formatter  # display: a format pattern or a function of the value
    how_key: str  # the "labels" field that says how the value was obtained
    help: str  # one sentence: what it means (sweep --help, tooltips)
    baseline: str | float | None = "same"  # "same": the baseline section's field; "ratio": 1.0 when the
    #                                        baseline measured `how_key`; a number: that constant
    convert: Callable[[float], float | None] | None = None  # raw field value -> metric value (e.g. bytes -> MB)
    compact: str | Formatter | None = None  # a shorter display for metric cards
    card: str | None = None  # the metric card's title (the name otherwise)
    ratio: str | None = None  # the key of the matching ratio-to-baseline metric (tables' ratio column)
    sweep: str | None = None  # the name `--objectives` uses for it (slimlib.sweep.objectives)
    interval_of: str | None = None  # the compressed-section field whose significance verdict applies to it

    @property
    def interval_field(self) -> str:
        return self.interval_of or self.how_key

    def interval(self, result: "EvalResult | Mapping[str, Any]", baseline: bool = False) -> tuple[float, float] | None:
        """The 95% interval stored beside the value (`<field>_ci`), converted like the value; None if absent."""
        r = as_result(result)
        section = r.baseline if baseline else getattr(r, self.source[0])
        raw = (section or {}).get(f"{self.source[1]}_ci")
        if not isinstance(raw, (list, tuple)) or len(raw) != 2 or any(number(v) is None for v in raw):
            return None
        low, high = (float(v) for v in raw)
        if self.convert is not None:
            low, high = self.convert(low), self.convert(high)
        return (low, high) if low is not None and high is not None else None

    @property
    def label(self) -> str:
        """Axis title: name and unit."""
        return f"{self.name} ({self.unit})"

    @property
    def better(self) -> str:  # the name the Pareto helpers use
        return self.direction

    def _read(self, section: Mapping | None) -> float | None:
        raw = number((section or {}).get(self.source[1]))
        if raw is None:
            return None
        return self.convert(raw) if self.convert is not None else raw

    def value(self, result: "EvalResult | Mapping[str, Any]") -> float | None:
        """The compressed model's value, or None when it was not measured."""
        return self._read(getattr(as_result(result), self.source[0]))

    def baseline_value(self, result: "EvalResult | Mapping[str, Any]") -> float | None:
        """The base model's value on the same scale (1.0 for ratios it measured)."""
        r = as_result(result)
        if isinstance(self.baseline, (int, float)) and not isinstance(self.baseline, bool):
            return float(self.baseline)
        if self.baseline == "ratio":
            return 1.0 if number(r.baseline.get(self.how_key)) is not None else None
        if self.baseline == "same":
            return self._read(r.baseline)
        return None

    def format(self, value, compact: bool = False, missing: str = "not measured") -> str:
        value = number(value)
        if value is None:
            return missing
        pattern = (self.compact if compact and self.compact is not None else self.fmt)
        return pattern(value) if callable(pattern) else pattern.format(value)

    def how(self, result: "EvalResult | Mapping[str, Any]") -> str:
        r = as_result(result)
        label = r.labels.get(self.how_key)
        if self.how_key == "sts_spearman" and self.value(r) is None and label in (None, "measured"):
            return NO_PAIRS
        if self.how_key in RETRIEVAL_KEYS and self.value(r) is None and label in (None, "measured"):
            return NO_RETRIEVAL
        return label or "measured"


def _latency_ms(sentences_per_s: float) -> float | None:
    return round(1000.0 / sentences_per_s, 4) if sentences_per_s > 0 else None


def _megabytes(size_bytes: float) -> float:
    return round(size_bytes / 1e6, 6)


def _millions(value: float) -> str:
    return f"{value / 1e6:.2f} M"


def _count(value: float) -> str:
    return f"{value:,.0f}"


# The one list. Ratios are against the baseline measured in the same process, so points from
# different sessions (and the published anchors) share a scale; absolute values are for tables.
METRIC_LIST: tuple[Metric, ...] = (
    Metric("size", "Size", "fraction of the baseline's bytes", "min", ("ratios", "size"), "{:.3f}",
           "size_bytes", "bytes of the model files relative to the base model's", baseline="ratio"),
    Metric("params", "Parameters", "fraction of the baseline's", "min", ("ratios", "params"), "{:.3f}",
           "params", "parameter count relative to the base model's", baseline="ratio"),
    Metric("speedup", "Speedup", "x the baseline's sentences/s", "max", ("ratios", "speedup"), "{:.2f}x",
           "sentences_per_s", "sentences/s relative to the baseline, measured in the same worker", baseline="ratio",
           sweep="speed"),
    Metric("sts_retained", "STS retained", "fraction of the baseline's STS", "max", ("ratios", "sts_retained"),
           "{:.1%}", "sts_spearman", "STS Spearman relative to the base model's on the same pairs", baseline="ratio"),
    Metric("fidelity", "Fidelity", "mean cosine to the original", "max", ("compressed", "fidelity_cosine"),
           "{:.4f}", "fidelity_cosine", "mean cosine to the base model's embeddings", baseline=1.0,
           card="Fidelity (cosine)", sweep="fidelity"),
    Metric("latency_ms", "Latency", "ms per sentence", "min", ("compressed", "sentences_per_s"), "{:.2f} ms",
           "sentences_per_s", "milliseconds per sentence at the measured batch size", convert=_latency_ms),
    Metric("size_mb", "Size", "MB of model files", "min", ("compressed", "size_bytes"), "{:,.2f} MB",
           "size_bytes", "bytes of the exported model folder", convert=_megabytes, compact="{:.1f} MB", ratio="size",
           card="Size", sweep="size"),
    Metric("param_count", "Parameters", "count", "min", ("compressed", "params"), _count, "params",
           "logical parameter count", compact=_millions, ratio="params", card="Parameters", sweep="params"),
    Metric("sentences_per_s", "sentences / s", "sentences encoded per second", "max", ("compressed", "sentences_per_s"), "{:.1f}",
           "sentences_per_s", "sentences encoded per second at the measured batch size", compact="{:.0f} sent/s", ratio="speedup", card="Speed"),
    Metric("sts_spearman", "STS Spearman x100", "Spearman x100 on the pair file", "max", ("compressed", "sts_spearman"),
           "{:.2f}", "sts_spearman", "STS Spearman x100 on --data", ratio="sts_retained", card="Accuracy (STS x100)",
           sweep="sts"),
    Metric("ndcg_retained", "nDCG@10 retained", "fraction of the baseline's nDCG@10", "max",
           ("ratios", "ndcg_at_10_retained"), "{:.1%}", "ndcg_at_10",
           "retrieval nDCG@10 relative to the base model's on the same queries and corpus", baseline="ratio"),
    Metric("recall_retained", "Recall@10 retained", "fraction of the baseline's Recall@10", "max",
           ("ratios", "recall_at_10_retained"), "{:.1%}", "recall_at_10",
           "retrieval Recall@10 relative to the base model's", baseline="ratio"),
    Metric("mrr_retained", "MRR@10 retained", "fraction of the baseline's MRR@10", "max",
           ("ratios", "mrr_at_10_retained"), "{:.1%}", "mrr_at_10",
           "retrieval MRR@10 relative to the base model's", baseline="ratio"),
    Metric("ndcg_at_10", "nDCG@10", "on the retrieval folder", "max", ("compressed", "ndcg_at_10"), "{:.4f}",
           "ndcg_at_10", "retrieval nDCG@10 (exact cosine search over the corpus) on --data", ratio="ndcg_retained",
           card="Retrieval (nDCG@10)", sweep="ndcg"),
    Metric("recall_at_10", "Recall@10", "on the retrieval folder", "max", ("compressed", "recall_at_10"), "{:.4f}",
           "recall_at_10", "share of the relevant documents in the top 10", ratio="recall_retained"),
    Metric("mrr_at_10", "MRR@10", "on the retrieval folder", "max", ("compressed", "mrr_at_10"), "{:.4f}",
           "mrr_at_10", "reciprocal rank of the first relevant document in the top 10", ratio="mrr_retained"),
    Metric("fidelity_spearman", "Fidelity (Spearman)", "Spearman x100 of pairwise similarities", "max",
           ("compressed", "fidelity_spearman"), "{:.2f}", "fidelity_cosine",
           "rank agreement of pairwise similarities with the base model's", baseline=100.0),
)
METRICS: dict[str, Metric] = {m.key: m for m in METRIC_LIST}

# Rows of the report tables (model card, text, HTML): absolute value, with its ratio where there is one.
TABLE_ROWS = ("param_count", "size_mb", "sentences_per_s", "sts_spearman", "ndcg_at_10", "recall_at_10", "mrr_at_10",
              "fidelity", "fidelity_spearman")
# The Explore page's metric cards, left to right (the accuracy card follows the data's kind: card_metrics()).
CARD_METRICS = ("size_mb", "param_count", "sentences_per_s", "sts_spearman", "fidelity")
RETRIEVAL_CARD_METRICS = ("size_mb", "param_count", "sentences_per_s", "ndcg_at_10", "fidelity")
# The axes the trade-off chart offers.
X_CHOICES = ("size", "speedup", "params")
Y_CHOICES = ("sts_retained", "ndcg_retained", "fidelity")

SWEEP_ORDER = ("size", "params", "speed", "sts", "ndcg", "fidelity")
# The search objectives' table in the shape slimlib.sweep.objectives uses:
# name -> ((section, field) of the eval JSON, default direction, what it means).
SWEEP_METRICS: dict[str, tuple[tuple[str, str], str, str]] = {
    m.sweep: (m.source, m.direction, m.help) for m in sorted((m for m in METRIC_LIST if m.sweep),
                                                             key=lambda m: SWEEP_ORDER.index(m.sweep))
}


def metric(key: str) -> Metric:
    try:
        return METRICS[key]
    except KeyError:
        raise KeyError(f"unknown metric {key!r}; known: {', '.join(METRICS)}") from None


def card_metrics(result: "EvalResult | Mapping[str, Any]") -> tuple[str, ...]:
    """The metric cards for this result: the accuracy card is nDCG@10 on retrieval data, STS otherwise."""
    return RETRIEVAL_CARD_METRICS if as_result(result).data_kind == "retrieval" else CARD_METRICS


def table_keys(result: "EvalResult | Mapping[str, Any]") -> tuple[str, ...]:
    """TABLE_ROWS without the rows of the other data kind (retrieval rows only when it had a retrieval folder)."""
    if as_result(result).data_kind == "retrieval":
        return tuple(k for k in TABLE_ROWS if k != "sts_spearman")
    return tuple(k for k in TABLE_ROWS if k not in RETRIEVAL_KEYS)


def values_of(result: "EvalResult | Mapping[str, Any]") -> dict[str, float | None]:
    """Every metric of the compressed model: {key: value or None}."""
    r = as_result(result)
    return {m.key: m.value(r) for m in METRIC_LIST}


def baseline_values_of(result: "EvalResult | Mapping[str, Any]") -> dict[str, float | None]:
    """Every metric of the baseline, on the same scales."""
    r = as_result(result)
    return {m.key: m.baseline_value(r) for m in METRIC_LIST}


def table_rows(result: "EvalResult | Mapping[str, Any]") -> list[dict]:
    """The measured table the reports print: one row per TABLE_ROWS metric, values formatted."""
    r = as_result(result)
    rows = []
    for key in table_keys(r):
        m = METRICS[key]
        ratio = METRICS[m.ratio] if m.ratio else None
        if ratio is None:
            ratio_text = ""
        elif r.is_baseline:  # against itself: a measured speed ratio would be timing noise shown as a change
            ratio_text = "baseline"
        else:
            ratio_text = ratio.format(ratio.value(r), missing="-")
        rows.append({
            "key": key, "name": m.name, "unit": m.unit,
            "baseline": m.format(m.baseline_value(r)),
            "compressed": m.format(m.value(r)),
            "ratio": ratio_text,
            "how": m.how(r),
            "interval": _interval_text(m, r),
        })
    return rows


def _interval_text(m: Metric, r: EvalResult) -> str:
    """ "95% CI 84.1-88.9 (baseline 84.5-89.2); within noise" or "" when the metric has no interval."""
    comp, base = m.interval(r), m.interval(r, baseline=True)
    if comp is None:
        return ""
    text = f"95% CI {m.format(comp[0])}-{m.format(comp[1])}"
    if base is not None and not r.is_baseline:
        text += f" (baseline {m.format(base[0])}-{m.format(base[1])})"
    verdict = r.verdict(m.key)
    return f"{text}; {verdict}" if verdict and not r.is_baseline else text


def measurement_text(result: "EvalResult | Mapping[str, Any]") -> str:
    """One sentence: how the numbers were measured (sentences, runs, pairs, threads)."""
    r = as_result(result)
    m = r.measurement
    parts = [f"{'quick' if r.quick else 'full'} evaluation"]
    if m.get("speed"):  # evaluate() says in words how speed was timed (interleaved rounds, whole passes, ...)
        parts.append(f"speed: {m['speed']}")
    elif m.get("speed_sentences"):
        parts.append(f"speed on {m['speed_sentences']} sentences x {m.get('speed_runs', '?')} runs (median)")
    if m.get("fidelity_sentences"):
        parts.append(f"fidelity on {m['fidelity_sentences']} sentences")
    pairs, retrieval = r.pairs_text(), r.retrieval_text()
    if retrieval:
        parts.append(f"retrieval on {retrieval}" + (" (a fixed stratified subset)" if m.get("data_sample") else ""))
    else:
        parts.append(f"STS on {pairs}" if pairs else "no pair file (STS not measured)")
    if m.get("threads"):
        parts.append(f"{m['threads']} threads")
    return ", ".join(parts) + "."
