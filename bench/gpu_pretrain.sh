#!/usr/bin/env bash
# Training throughput of the paper-1.36b recipe on one GPU through the pretrain engine
# (DeepSpeed ZeRO-2, bf16, fp32 gradient accumulation): fused torch AdamW vs DeepSpeed
# FusedAdam, activation checkpointing of every block / every 2nd / none, and the fastest of
# those again with torch.compile. About 6-8 minutes on one H100/H200.
#
#   bash bench/gpu_pretrain.sh [OUT_DIR]          # on the GPU machine, from the project root
#   PYTHON=.venv/bin/python PRESET=tiny VOCAB=512 SEQ=32 MB=2 MB_SMALL=1 STEPS=2 WARMUP=1 \
#       THREADS=1 bash bench/gpu_pretrain.sh /tmp/dry   # a CPU dry run of the same rows
#
# Installs .whl/ (../shared/gpu/make-wheels.sh) when deepspeed is missing. One process per row
# (see bench/gpu_pretrain.py), so each row's peak memory is its own; a row that fails is
# reported and the next one runs. Rows after the first two start only while under BUDGET_S
# seconds, and each is killed after ROW_TIMEOUT_S, so the script ends by about
# BUDGET_S + ROW_TIMEOUT_S. Writes OUT_DIR/gpu_pretrain.txt (the table), rows.jsonl and one
# log per row.
set -uo pipefail
out=${1:-${OUT:-/tmp/gpu_pretrain}}
mkdir -p "$out"
PY=${PYTHON:-python3}
PRESET=${PRESET:-paper-1.36b} VOCAB=${VOCAB:-102400} SEQ=${SEQ:-2048}
MB=${MB:-8} MB_SMALL=${MB_SMALL:-4} STEPS=${STEPS:-6} WARMUP=${WARMUP:-3} THREADS=${THREADS:-0}
BUDGET_S=${BUDGET_S:-330} ROW_TIMEOUT_S=${ROW_TIMEOUT_S:-150}
# Forced, not defaulted: the image sets "9.0a", which DeepSpeed's FusedAdam build cannot parse
# (the engine strips such suffixes too; this keeps the prebuild below on the same flags).
export TORCH_CUDA_ARCH_LIST=${GPU_ARCH:-9.0}
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH}
if ! "$PY" -c "import deepspeed" 2>/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PYTHONPATH
fi
rows=$out/rows.jsonl
: > "$rows"
build=
if command -v nvidia-smi > /dev/null; then  # build FusedAdam while the first row runs
  "$PY" -c "from deepspeed.ops.op_builder import FusedAdamBuilder; FusedAdamBuilder().load()" \
    > "$out/fused_adam_build.log" 2>&1 &
  build=$!
fi

n=0
row() {  # row LABEL ARGS... -> 0 if the row was measured
  local label=$1 log
  shift
  n=$((n + 1))
  log=$out/row$n-${label//[^a-zA-Z0-9]/_}.log
  echo "== $label ($SECONDS s)"
  timeout "$ROW_TIMEOUT_S" "$PY" bench/gpu_pretrain.py --preset "$PRESET" --vocab "$VOCAB" \
    --seq-len "$SEQ" --steps "$STEPS" --warmup "$WARMUP" --threads "$THREADS" \
    --label "$label" --out "$rows" "$@" > "$log" 2>&1
  local rc=$?
  tail -n 1 "$log" | cut -c1-400
  if [ $rc -ne 0 ]; then
    echo "   failed (rc $rc): $(grep -E '(Error|error):' "$log" | tail -n 1 | cut -c1-300)"
  fi
  "$PY" bench/gpu_pretrain.py --report "$rows" "$out/gpu_pretrain.txt" > /dev/null  # so far
  return $rc
}
in_budget() { [ "$SECONDS" -lt "$BUDGET_S" ]; }

row "AdamW, ckpt every block" --micro-batch "$MB" --optimizer torch_adamw --ckpt-every 1
if [ -n "$build" ] && ! wait "$build"; then
  echo "FusedAdam does not build (its row is skipped):"; tail -n 3 "$out/fused_adam_build.log"
else
  row "FusedAdam, ckpt every block" --micro-batch "$MB" --optimizer ds_fused_adam --ckpt-every 1
fi
in_budget && row "AdamW, ckpt every 2nd block" --micro-batch "$MB" --optimizer torch_adamw \
  --ckpt-every 2
in_budget && { row "AdamW, no ckpt" --micro-batch "$MB" --optimizer torch_adamw --ckpt-every 0 \
  || { in_budget && row "AdamW, no ckpt" --micro-batch "$MB_SMALL" --optimizer torch_adamw \
    --ckpt-every 0; }; }
if in_budget && best=$("$PY" bench/gpu_pretrain.py --best "$rows" 2>/dev/null); then
  # shellcheck disable=SC2086  # $best is the row's switches, split on purpose
  row "fastest, compiled" $best --compile
fi

echo "== done ($SECONDS s)"
"$PY" bench/gpu_pretrain.py --report "$rows" "$out/gpu_pretrain.txt"
