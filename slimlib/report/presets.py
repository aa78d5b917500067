"""One-click presets: recipes that replay claims from the compression literature on this model.

Each preset pairs a recipe with the claim it tests, written as explicit checks on measured ratios
(`slimlib.report.tradeoff.metrics_of`), so "does this model confirm it?" is computed, not eyeballed. A
check whose metric was not measured (no pair file, no fast kernel) says so instead of passing.

A claim about accuracy can be checked on STS (a pair file: `sts_retained`) and, for presets whose
`confirms_on` includes "retrieval", on retrieval too (a BEIR folder: `ndcg_retained`). One replay
scores one kind of data, so `judge` checks the accuracy on the data the result was scored on and
leaves the other kind's checks out (a retrieval replay is not "partly measured" for lacking STS).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ops.recipe import Recipe, make_step

PAIRS, RETRIEVAL = "pairs", "retrieval"
# The data kind an accuracy metric needs (metrics not listed need none).
NEEDS = {"sts_retained": PAIRS, "sts_spearman": PAIRS,
         "ndcg_retained": RETRIEVAL, "recall_retained": RETRIEVAL, "mrr_retained": RETRIEVAL,
         "ndcg_at_10": RETRIEVAL, "recall_at_10": RETRIEVAL, "mrr_at_10": RETRIEVAL}
DATA_NAMES = {PAIRS: "STS (a pair file)", RETRIEVAL: "retrieval (nDCG@10 on a BEIR folder)"}


@dataclass(frozen=True)
class Check:
    metric: str  # a key of slimlib.report.tradeoff.METRICS
    op: str  # "<=" or ">="
    threshold: float
    text: str  # the part of the claim this check stands for

    @property
    def data(self) -> str | None:
        """The kind of data the check needs: "pairs" (STS), "retrieval" (nDCG@10, ...) or None (size, speed)."""
        return NEEDS.get(self.metric)

    def judge(self, metrics: dict) -> dict:
        value = metrics.get(self.metric)
        if value is None:
            passed = None
        else:
            passed = value <= self.threshold if self.op == "<=" else value >= self.threshold
        return {"claim": self.text, "metric": self.metric, "expected": f"{self.op} {self.threshold:g}",
                "measured": value, "passed": passed, "data": self.data}


@dataclass(frozen=True)
class Preset:
    key: str
    title: str
    claim: str
    source: str
    steps: tuple[dict, ...]
    checks: tuple[Check, ...]
    note: str = ""
    trains: bool = False  # needs distillation: run as a background job with progress

    def recipe(self, base_model: str) -> Recipe:
        return Recipe(base_model, [make_step(**step) for step in self.steps], name=self.title).canonical()

    def ops(self) -> list[str]:
        return [step["op"] for step in self.steps]

    @property
    def confirms_on(self) -> tuple[str, ...]:
        """The kinds of data its accuracy claim is checked on: ("pairs",) or ("pairs", "retrieval")."""
        kinds = {check.data for check in self.checks if check.data}
        return tuple(k for k in (PAIRS, RETRIEVAL) if k in kinds)

    @property
    def retrieval(self) -> bool:
        """True when the claim is confirmed on retrieval as well as on STS."""
        return RETRIEVAL in self.confirms_on

    def confirms_on_text(self) -> str:
        """ "STS (a pair file) and retrieval (nDCG@10 on a BEIR folder)" or "STS (a pair file) only"."""
        names = [DATA_NAMES[k] for k in self.confirms_on]
        if not names:
            return "no accuracy check"
        return " and ".join(names) if len(names) > 1 else f"{names[0]} only"


PRESETS: tuple[Preset, ...] = (
    Preset(
        key="prune20",
        title="Prune 20% of the parameters",
        claim="Pruning about 20% of a BERT's parameters costs little accuracy (within 3%).",
        source="magnitude/structured pruning literature as quoted in the project brief",
        # MiniLM's FFN neurons each own 769 weights per layer: keeping 36% of them removes 19.97%
        # of all 22.7M parameters, the closest a single training-free op gets to 20%.
        steps=({"op": "prune_ffn", "keep": 0.36},),
        checks=(Check("params", "<=", 0.82, "about 20% fewer parameters"),
                Check("sts_retained", ">=", 0.97, "accuracy within 3% (STS retained)"),
                Check("ndcg_retained", ">=", 0.97, "accuracy within 3% on retrieval (nDCG@10 retained)")),
        note="Training-free: no recovery step, so this tests pruning alone.",
    ),
    Preset(
        key="int8",
        title="8-bit: 4x smaller, about 4x faster",
        claim="8-bit weights make the model 4x smaller and about 4x faster with minimal loss.",
        source="Q8BERT (Zafrir et al. 2019); ONNX/OpenVINO int8 in sentence-transformers' efficiency docs",
        steps=({"op": "quantize", "bits": 8},),
        checks=(Check("size", "<=", 0.3, "4x smaller (size at most 0.3 of the baseline)"),
                Check("speedup", ">=", 3.2, "about 4x faster (at least 3.2x)"),
                Check("sts_retained", ">=", 0.99, "minimal loss (99% of STS retained)"),
                Check("ndcg_retained", ">=", 0.99, "minimal loss on retrieval (99% of nDCG@10 retained)")),
    ),
    Preset(
        key="half_layers",
        title="Half the layers + distillation",
        claim="Keeping half the layers and distilling from the original loses about 0.2% at 1.7x speed.",
        source="sentence-transformers distillation README (stsb-roberta-base, 6 of 12 layers)",
        steps=({"op": "drop_layers", "keep": 3}, {"op": "distill", "steps": 300}),
        checks=(Check("speedup", ">=", 1.5, "roughly 1.7x faster (at least 1.5x)"),
                Check("sts_retained", ">=", 0.99, "about -0.2% (at least 99% of STS retained)"),
                Check("ndcg_retained", ">=", 0.99, "about -0.2% on retrieval (at least 99% of nDCG@10 retained)")),
        trains=True,
        note="Distillation trains for a few minutes on 2 cores; it runs in the background with a Stop button.",
    ),
    Preset(
        key="static",
        title="Distil into static embeddings",
        claim=("A BERT distilled into a much simpler network (here: one vector per token, no layers) keeps most of "
               "its accuracy at a fraction of the size and many times the speed."),
        source=("the survey's refs [10] (Tang et al. 2019, BERT into a BiLSTM) and [11]; model2vec's static "
                "distillation, which this op follows"),
        steps=({"op": "static"},),
        checks=(Check("speedup", ">=", 50.0, "at least 50x the sentences/s"),
                Check("size", "<=", 0.05, "at most 5% of the size"),
                Check("sts_retained", ">=", 0.92, "at least 92% of the STS Spearman")),
        trains=True,
        note="Builds the token table from the model's outputs and tunes it on the project sentences (about a minute).",
    ),
    Preset(
        key="mpnet_teacher",
        title="A MiniLM-sized student taught by mpnet",
        claim=("Using a larger SBERT model as the teacher, a student with 50% fewer parameters keeps the accuracy "
               "(here: 3 of this model's layers, chosen as drop_layers does by default, learn all-mpnet-base-v2's "
               "similarities between sentences while keeping this model's own embeddings)."),
        source="the SBERT slimming answer, section 3 (sentence-transformers' model distillation example)",
        # 3,000 steps (about 13 minutes on 2 cores): the op's default 1,000 reach 98.8% of MiniLM's STS-B dev
        # Spearman, 3,000 pass the claim's 99% (README, Distillation); a Dense projection reached 96.6%.
        steps=({"op": "drop_layers", "keep": 3},
               {"op": "distill", "teacher": "all-mpnet-base-v2", "loss": "similarity", "base_weight": 1.0,
                "steps": 3000}),
        checks=(Check("params", "<=", 0.8, "fewer parameters than this model (mpnet has 4.8x MiniLM's)"),
                Check("speedup", ">=", 1.7, "about 2x this model's speed"),
                Check("sts_retained", ">=", 0.99, "at least 99% of this model's STS Spearman")),
        trains=True,
        note="Needs all-mpnet-base-v2 (`make mpnet`). Ratios are against the model you picked, not the teacher.",
    ),
)


def verdict(results: list[dict]) -> str:
    """'confirmed', 'not confirmed', 'partly confirmed' or 'not measured' from judged checks."""
    known = [r["passed"] for r in results if r["passed"] is not None]
    if not known:
        return "not measured"
    if len(known) < len(results):
        return "partly measured: " + ("confirmed so far" if all(known) else "not confirmed")
    if all(known):
        return "confirmed"
    return "partly confirmed" if any(known) else "not confirmed"


def scored_on(metrics: dict) -> str | None:
    """The kind of data a result's accuracy was scored on, read from its metrics (None: neither)."""
    has = {kind for key, kind in NEEDS.items() if metrics.get(key) is not None}
    if len(has) == 1:
        return has.pop()
    return None


def judge(item: Preset, metrics: dict, data_kind: str | None = None) -> tuple[str, list[dict]]:
    """The verdict and each check's outcome. Accuracy checks of the other kind of data than the result
    was scored on (`data_kind`, else read from the metrics) are left out; with no labelled data every
    check is kept, its accuracy ones "not measured"."""
    kind = data_kind or scored_on(metrics)
    checks = [c for c in item.checks if kind is None or c.data in (None, kind)]
    results = [check.judge(metrics) for check in checks]
    return verdict(results), results


def listing() -> list[dict]:
    """One row per preset for lists and tables: key, title, claim, source, whether it trains, and the
    data its accuracy claim is confirmed on."""
    return [{"key": p.key, "title": p.title, "claim": p.claim, "source": p.source, "trains": p.trains,
             "confirms_on": list(p.confirms_on), "retrieval": p.retrieval, "confirmed_on": p.confirms_on_text()}
            for p in PRESETS]
