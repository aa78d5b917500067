"""The README.md model card written next to an exported model: what it is and what it measured."""
from __future__ import annotations

import json


def _fmt(value, pattern):
    return "not measured" if value is None else pattern.format(value)


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
                      "model) with `tokenizer.json`; tokenize, run, pool as `1_Pooling/config.json` says, normalize "
                      "if `modules.json` has a Normalize module (slimlib's docs/onnx.md has the snippet). "
                      "sentence-transformers' own ONNX backend (`backend=\"onnx\"`, needs optimum) reads the same "
                      "`onnx/model.onnx`."]
    if "openvino" in runtimes:
        lines += ["", "**OpenVINO**: `openvino/model.xml` + `model.bin`, same inputs and pooling as the ONNX file."]
    if "model2vec" in runtimes:
        lines += ["", "**model2vec**: `from model2vec import StaticModel; StaticModel.from_pretrained('path/to/this/folder')`."]
    lines += ["", "Check every runtime before shipping: `python -m slimlib verify path/to/this/folder`."]
    return lines


def render(recipe, result: dict | None, fmt=None) -> str:
    """The folder's README.md; `fmt` is the export's ExportFormat (standard or not, runtimes)."""
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
    lines += ["", "## Measured", ""]
    if result is None:
        lines.append("Not measured (exported with --no-eval). Run `python -m slimlib eval slimlib_recipe.json`.")
        return "\n".join(lines) + "\n"
    b, c, r, labels = result["baseline"], result["compressed"], result["ratios"], result["labels"]
    m = result["measurement"]
    lines += [
        "| metric | baseline | this model | ratio | how |",
        "|---|---|---|---|---|",
        f"| parameters | {b['params']:,} | {c['params']:,} | {_fmt(r['params'], '{:.3f}')} | {labels.get('params', '')} |",
        f"| size (bytes of this folder's model files) | {b['size_bytes']:,} | {c['size_bytes']:,} | {_fmt(r['size'], '{:.3f}')} | {labels.get('size_bytes', '')} |",
        f"| sentences / s | {_fmt(b['sentences_per_s'], '{:.1f}')} | {_fmt(c['sentences_per_s'], '{:.1f}')} | {_fmt(r['speedup'], '{:.2f}x')} | {labels.get('sentences_per_s', '')} |",
        f"| STS Spearman x100 | {_fmt(b['sts_spearman'], '{:.2f}')} | {_fmt(c['sts_spearman'], '{:.2f}')} | {_fmt(r['sts_retained'], '{:.3f}')} | {labels.get('sts_spearman', '') if c['sts_spearman'] is not None else 'no pair file given'} |",
        f"| fidelity: mean cosine to the original | 1 | {_fmt(c['fidelity_cosine'], '{:.4f}')} | | {labels.get('fidelity_cosine', '')} |",
        f"| fidelity: Spearman of pairwise similarities | 100 | {_fmt(c['fidelity_spearman'], '{:.2f}')} | | |",
        "",
        f"Speed: {m['speed_sentences']} sentences, batch {m['batch_size']}, median of {m['speed_runs']} runs after a warm-up, "
        f"{m['threads']} torch threads, interleaved with the baseline in one process. "
        f"Accuracy data: {m['data_file'] or 'none given (STS not measured)'}"
        + (f" ({m['data_pairs']} pairs)." if m.get("data_pairs") else "."),
        "",
        f"Hardware: {m['hardware']['cpu']}, {m['hardware']['cores']} cores, CPU features: "
        f"{', '.join(m['hardware']['features']) or 'unknown'}.",
        "",
        "Library versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v) + ".",
    ]
    for note in result.get("notes", []):
        lines.append(f"\nNote: {note}")
    return "\n".join(lines) + "\n"
