#!/usr/bin/env bash
# Export every examples/*.json recipe (with ONNX and OpenVINO where the recipe allows) and run
# `python -m slimlib verify` on each folder: one line per runtime, exit 1 if any folder fails.
#   benchmarks/verify_examples.sh [examples/int8.json ...]     (default: all examples but grid.json)
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
out=$(mktemp -d /tmp/slimlib-verify-examples.XXXX)
trap 'rm -rf "$out"' EXIT
recipes=("$@")
[ ${#recipes[@]} -eq 0 ] && recipes=($(ls examples/*.json | grep -v grid.json))
failed=()
for recipe in "${recipes[@]}"; do
  name=$(basename "$recipe" .json)
  echo "== $name"
  extra=(--onnx --openvino)
  grep -q '"op": "static"' "$recipe" && extra=()  # a static model is a table lookup: no graph to export
  if ! $PY -m slimlib apply "$recipe" --out "$out/$name" --no-eval "${extra[@]}" >"$out/$name.log" 2>&1; then
    tail -5 "$out/$name.log"; failed+=("$name (apply)"); continue
  fi
  grep -i "standard\|slimlib type\|blocker" "$out/$name.log" | head -2
  $PY -m slimlib verify "$out/$name" || failed+=("$name")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all ${#recipes[@]} example exports verified"
