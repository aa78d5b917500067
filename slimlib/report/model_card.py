"""The README.md model card written next to an exported model: what it is and what it measured."""
from __future__ import annotations

import json

from .result import as_result, table_rows
from .text import data_text


def front_matter(recipe, standard: bool) -> list[str]:
    """Hugging Face model-card metadata, so hubs and serving stacks file the folder correctly."""
    base = recipe.base_model
    hub_base = base if "/" in base and not base.startswith((".", "/", "~")) else (
        f"sentence-transformers/{base}" if base.lower().startswith("all-") else None)
    tags = ["sentence-transformers", "sentence-similarity", "feature-extraction", "slimlib", "compressed"]
    lines = ["---", "library_name: sentence-transformers", "pipeline_tag: sentence-similarity"]
    if hub_base:
        lines.append(f"base_model: {hub_base}")
    lines += ["tags:"] + [f"- {t}" for t in tags + ([] if standard else ["custom-architecture"])] + ["---", ""]
    return lines


def load_section(fmt) -> list[str]:
    """How to load the folder with each runtime it holds."""
    runtimes = fmt.runtimes if fmt else []
    lines = ["## Load it", ""]
    if fmt is None or not fmt.standard:
        lines += ["This folder uses the slimlib model type" + (
            f" (a standard config cannot express: {'; '.join(fmt.blockers)})" if fmt and fmt.blockers else "") + ":", "",
            "```python", "import slimlib  # registers the slimlib model type with transformers",
            "from sentence_transformers import SentenceTransformer",
            "model = SentenceTransformer('path/to/this/folder')", "```"]
    else:
        lines += [f"A standard {fmt.model_type} sentence-transformers folder: no slimlib needed.", "",
                  "```python", "from sentence_transformers import SentenceTransformer",
                  "model = SentenceTransformer('path/to/this/folder')", "```"]
    if "onnxruntime" in runtimes:
        lines += ["", "**ONNX Runtime alone** (no torch, no slimlib): `onnx/model.onnx` (or `model.onnx` for an int8 "
                      "model) with `tokenizer.json`; tokenize, run, pool as `1_Pooling/config.json` says, "
                      + dense_step(fmt.dense) + "normalize "
                      "if `modules.json` has a Normalize module (slimlib's docs/runtimes.md has the snippet). "
                      "sentence-transformers' own ONNX backend (`backend=\"onnx\"`, needs optimum) reads the same "
                      "`onnx/model.onnx`."]
    if "openvino" in runtimes:
        lines += ["", "**OpenVINO**: `openvino/model.xml` + `model.bin`, same inputs, pooling"
                      + (", Dense layer" if fmt.dense else "") + " and normalization as the ONNX file."]
    if "model2vec" in runtimes:
        lines += ["", "**model2vec**: `from model2vec import StaticModel; StaticModel.from_pretrained('path/to/this/folder')`."]
    lines += ["", "Check every runtime before shipping: `python -m slimlib verify path/to/this/folder`."]
    return lines


def dense_step(folders: list[str]) -> str:
    """The Dense step of the by-hand recipe: the graph ends before these layers, so skipping them gives
    embeddings of the wrong width (distill's "dense" projection maps onto the teacher's)."""
    if not folders:
        return ""
    where = ", ".join(f"`{folder}/`" for folder in folders) + (" in that order" if len(folders) > 1 else "")
    return (f"then apply the Dense layer{'s' if len(folders) > 1 else ''} in {where} (`x @ W.T + b` with "
            "`linear.weight` and `linear.bias` from its `model.safetensors`, then the activation its "
            "`config.json` names), ")


def render(recipe, result: dict | None, fmt=None, notes: list[str] | None = None) -> str:
    """The folder's README.md; `fmt` is the export's ExportFormat (standard or not, runtimes); `notes`
    (what each op did, e.g. which matrices int8 kept in fp32) default to the result's."""
    lines = front_matter(recipe, bool(fmt and fmt.standard)) + [
        f"# {recipe.name or 'Compressed ' + recipe.base_model}",
        "",
        f"Compressed from `{recipe.base_model}` with slimlib by this recipe "
        "(also in `slimlib_recipe.json`):",
        "",
        "```json",
        json.dumps(recipe.to_dict(), indent=2, sort_keys=True),
        "```",
        "",
    ] + load_section(fmt)
    notes = list(notes if notes is not None else (as_result(result).notes if result is not None else []))
    if notes:
        lines += ["", "## What was done", ""] + [f"- {note}" for note in notes]
    lines += ["", "## Measured", ""]
    if result is None:
        lines.append("Not measured (exported with --no-eval). Run `python -m slimlib eval slimlib_recipe.json`.")
        return "\n".join(lines) + "\n"
    r = as_result(result)
    m = r.measurement
    rows = table_rows(r)
    if any(row["interval"] for row in rows):  # accuracy with 95% intervals (and whether the change is noise)
        lines += ["| metric | baseline | this model | ratio | how | 95% interval |", "|---|---|---|---|---|---|"]
        lines += [f"| {row['name']} | {row['baseline']} | {row['compressed']} | {row['ratio']} | {row['how']} | "
                  f"{row['interval'].removeprefix('95% CI ')} |" for row in rows]
    else:
        lines += ["| metric | baseline | this model | ratio | how |", "|---|---|---|---|---|"]
        lines += [f"| {row['name']} | {row['baseline']} | {row['compressed']} | {row['ratio']} | {row['how']} |"
                  for row in rows]
    lines += ["", "Units: " + "; ".join(f"{row['name']}: {row['unit']}" for row in rows) + "."]
    lines += [
        "",
        f"Speed: {m.get('speed_sentences')} sentences, batch {m.get('batch_size')}, median of {m.get('speed_runs')} runs "
        f"after a warm-up, {m.get('threads')} torch threads, interleaved with the baseline in one process. "
        f"Accuracy data: {data_text(r)}.",
        "",
        f"Hardware: {(m.get('hardware') or {}).get('cpu', 'unknown')}, {(m.get('hardware') or {}).get('cores', '?')} cores, "
        f"CPU features: {', '.join((m.get('hardware') or {}).get('features', [])) or 'unknown'}.",
        "",
        "Library versions: " + ", ".join(f"{k} {v}" for k, v in (m.get("versions") or {}).items() if v) + ".",
    ]
    return "\n".join(lines) + "\n"
