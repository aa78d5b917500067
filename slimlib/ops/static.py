"""static: distil the current model into static token embeddings (model2vec-style).

The model the earlier steps made (the base, or e.g. a vocabulary-trimmed one) teaches a table of one
vector per token: each token's output embedding, PCA, SIF weighting, optionally tuned on a corpus
against the teacher's sentence embeddings, stored as int8/fp16. A sentence is the normalized mean of
its tokens' vectors: no layers, so it encodes at tokenizer speed. The result replaces the model and
saves as ONE folder that plain sentence-transformers (StaticEmbedding) and model2vec both load.
The building blocks are in slimlib/model/static.py.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..data.corpus import load_sentences
from ..errors import DataFileError
from ..model import static as static_model
from .pipeline import OpContext
from ..model.shape import ModelShape
from .recipe import Step, setting
from .registry import OpSpec, register_op


@dataclass
class Static(Step):
    dims: int = setting("Vector size after PCA.", default=static_model.DEFAULT_DIMS)
    sif_coefficient: float | None = setting(
        "SIF token weighting sif / (sif + p(token)); null for none.", default=static_model.DEFAULT_SIF)
    train_steps: int = setting("Steps of 256 sentences that tune the table toward the teacher's sentence embeddings "
                               "of `corpus` (0: plain model2vec-style distillation, which scores lower).",
                               default=static_model.DEFAULT_TRAIN_STEPS)
    corpus: str = setting('Training sentences: "default" (the project sentences) a text / pair file, or a BEIR retrieval folder (its queries and documents).',
                          default="default")
    table_dtype: str = setting('How the table is stored: "int8" (per-row scales), "float16" or "float32".',
                               default="int8")
    seed: int = setting("Seed of the training: the same seed trains the same table.", default=0)

    def __post_init__(self) -> None:
        self._require_int("dims", low=2, high=4096)
        if self.sif_coefficient is not None:
            self._require_fraction("sif_coefficient", allow_one=False)
        self._require_int("train_steps", low=0, high=100_000)
        self._require_choice("table_dtype", static_model.TABLE_DTYPES)
        self._require_int("seed", low=0)
        if not isinstance(self.corpus, str) or not self.corpus:
            raise self.fail("corpus", f'expected "default" or a file path, got {self.corpus!r}')

    def check(self, shape: ModelShape) -> ModelShape:
        if self.dims > shape.hidden:
            raise self.fail("dims", f"{self.dims} exceeds the model's hidden size {shape.hidden}")
        return shape


def static(ctx: OpContext, step: Static) -> None:
    sentences = None
    if step.train_steps:
        try:
            sentences = load_sentences(step.corpus)
        except DataFileError as exc:
            raise step.fail("corpus", str(exc)) from None

    def report(message: str, fraction: float) -> None:
        ctx.progress(f"static: {message}", fraction)

    ctx.st_model = static_model.distill_static(
        ctx.st_model, dims=step.dims, sif_coefficient=step.sif_coefficient, train_sentences=sentences,
        train_steps=step.train_steps, seed=step.seed, table_dtype=step.table_dtype, progress=report,
        should_stop=ctx.should_stop)
    vocab = ctx.st_model[0].embedding.weight.shape[0]
    trained = f", tuned {step.train_steps} steps on {len(sentences)} sentences" if sentences else ""
    ctx.notes.append(f"static: {vocab} token vectors of {step.dims} dims ({step.table_dtype}){trained}; "
                     "no layers left: a sentence is the mean of its token vectors")


register_op(OpSpec(
    name="static",
    settings=Static,
    apply=static,
    order=85,  # after structure and recovery; nothing may follow it
    title="Static embeddings",
    summary=("Replaces the whole network by one vector per token (model2vec-style distillation): ~1-5% of the size "
             "and 50-100x the speed, at a few points of STS. Loads in plain sentence-transformers and model2vec."),
    example=lambda shape: {"dims": min(96, shape.hidden), "train_steps": 100, "table_dtype": "int8"},
    label=lambda s: f"static {s.get('dims', static_model.DEFAULT_DIMS)}d {s.get('table_dtype', 'int8')}",
    final=True,
    search_axes=lambda shape: {},
    not_smaller_because=None,
))
