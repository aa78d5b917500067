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
              "measurement")


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
            extra={k: v for k, v in data.items() if k not in KNOWN_KEYS},
        )

    def to_dict(self) -> dict:
        """The eval JSON again: exactly what from_dict was given for any complete result."""
        out = {"base_model": self.base_model, "recipe": self.recipe, "recipe_key": self.recipe_key,
               "baseline": self.baseline, "compressed": self.compressed, "ratios": self.ratios,
               "labels": self.labels, "notes": self.notes, "measurement": self.measurement}
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
    Metric("fidelity_spearman", "Fidelity (Spearman)", "Spearman x100 of pairwise similarities", "max",
           ("compressed", "fidelity_spearman"), "{:.2f}", "fidelity_cosine",
           "rank agreement of pairwise similarities with the base model's", baseline=100.0),
)
METRICS: dict[str, Metric] = {m.key: m for m in METRIC_LIST}

# Rows of the report tables (model card, text, HTML): absolute value, with its ratio where there is one.
TABLE_ROWS = ("param_count", "size_mb", "sentences_per_s", "sts_spearman", "fidelity", "fidelity_spearman")
# The Explore page's metric cards, left to right.
CARD_METRICS = ("size_mb", "param_count", "sentences_per_s", "sts_spearman", "fidelity")
# The axes the trade-off chart offers.
X_CHOICES = ("size", "speedup", "params")
Y_CHOICES = ("sts_retained", "fidelity")

# The search objectives' table in the shape slimlib.sweep.objectives uses:
# name -> ((section, field) of the eval JSON, default direction, what it means).
SWEEP_METRICS: dict[str, tuple[tuple[str, str], str, str]] = {
    m.sweep: (m.source, m.direction, m.help) for m in sorted((m for m in METRIC_LIST if m.sweep),
                                                             key=lambda m: ("size", "params", "speed", "sts", "fidelity").index(m.sweep))
}


def metric(key: str) -> Metric:
    try:
        return METRICS[key]
    except KeyError:
        raise KeyError(f"unknown metric {key!r}; known: {', '.join(METRICS)}") from None


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
    for key in TABLE_ROWS:
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
        })
    return rows


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
    pairs = r.pairs_text()
    parts.append(f"STS on {pairs}" if pairs else "no pair file (STS not measured)")
    if m.get("threads"):
        parts.append(f"{m['threads']} threads")
    return ", ".join(parts) + "."
