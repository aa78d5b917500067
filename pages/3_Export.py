"""Export: the recipe JSON, the compressed model folder (zip), the ONNX file, the CLI commands
that reproduce them, and a link that opens the same config for someone else."""
from __future__ import annotations

import io
import shlex
import tempfile
import zipfile
from pathlib import Path

import streamlit as st

from slimlib.ops.recipe import Recipe
from ui import page, state
from ui.controls import CRANFIELD_MODE, PATH_MODE, UPLOAD_MODE
from ui.evaluation import CRANFIELD, STSB_DEV
from ui.views import job_panel, start_job

page.setup("Export")
ctx = page.load()
st.title("Export")
recipe = page.current_recipe(ctx)
if recipe is None:
    st.stop()

st.subheader("Recipe")
st.download_button("Download recipe.json", recipe.to_json(), file_name="recipe.json", mime="application/json",
                   key="export.recipe", type="primary")
st.code(recipe.to_json(), language="json")

st.subheader("Reproduce from the command line")
saved = st.session_state.get("data.saved", {})
data = {PATH_MODE: saved.get("path"), UPLOAD_MODE: (saved.get("upload") or [None])[0],
        CRANFIELD_MODE: str(CRANFIELD)}.get(saved.get("mode"))
data = data or (str(STSB_DEV) if STSB_DEV.is_file() else "PAIRS.csv")
st.code(f"python -m slimlib apply recipe.json --out {shlex.quote('out/' + recipe.key())}\n"
        f"python -m slimlib eval recipe.json --data {shlex.quote(data)} --json", language="bash")

st.subheader("Share this config")
token = state.publish_link(recipe)
st.code(state.share_url(token, state.goal_text()), language=None)
st.caption("The link carries the recipe itself (compressed into the cfg parameter) and your goal, if you set one; it "
           "opens the Explore page with these controls. The evaluation data is not part of it: an uploaded file stays "
           "on this server.")

st.subheader("Model files")


def build(recipe_json: str, want_onnx: bool, int8: bool):
    """Work for a background job: apply the recipe, zip the folder, optionally export ONNX."""
    def work(progress, should_stop):
        from slimlib.model.base import load_base
        from slimlib.ops.pipeline import apply_recipe

        frozen = Recipe.from_json(recipe_json)
        compressed = apply_recipe(frozen, load_base(frozen.base_model), progress=progress, should_stop=should_stop)
        progress("saving the model folder", 0.8)
        files = {"key": frozen.key()}
        with tempfile.TemporaryDirectory(prefix="slimlib-export-") as tmp:
            folder = compressed.save(Path(tmp) / "model")
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(folder.rglob("*")):
                    if path.is_file():
                        archive.write(path, Path("model") / path.relative_to(folder))
            files["zip"] = buffer.getvalue()
            if want_onnx:
                from slimlib.ops.onnx_export import export_onnx_file

                progress("exporting ONNX", 0.9)
                files["onnx"] = export_onnx_file(compressed.st_model, Path(tmp) / "model.onnx", int8=int8).read_bytes()
        return files
    return work


def keep_files(job) -> None:
    st.session_state["export.files"] = job.result


cols = st.columns(3)
want_onnx = cols[0].checkbox("Also export ONNX", value=True, key="export.onnx")
int8 = cols[1].checkbox("ONNX int8 (dynamic, per channel)", value=False, disabled=not want_onnx, key="export.int8")
if cols[2].button("Build the model files", help="Applies the recipe (distillation included) in the background."):
    start_job("model export", build(recipe.to_json(), want_onnx, int8))
    st.rerun()
job_panel(on_done=keep_files)

files = st.session_state.get("export.files")
if files and files.get("key") == recipe.key():
    st.download_button(f"Download model folder (zip, {len(files['zip']) / 1e6:.1f} MB)", files["zip"],
                       file_name=f"slimlib-{recipe.key()}.zip", mime="application/zip", key="export.zip")
    if files.get("onnx"):
        st.download_button(f"Download model.onnx ({len(files['onnx']) / 1e6:.1f} MB)", files["onnx"],
                           file_name="model.onnx", mime="application/octet-stream", key="export.onnx_file")
    st.caption("Load the folder with `import slimlib; SentenceTransformer('model')` (slimlib registers the compressed model type).")
elif files:
    st.caption("The files built earlier belong to another config: build again for this one.")
