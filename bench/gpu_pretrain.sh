#!/usr/bin/env bash
# Training throughput of the paper-1.36b preset on one GPU through the pretrain engine
# (DeepSpeed ZeRO-2 bf16, FusedAdam), with and without activation checkpointing (issue 6).
#
#   bash bench/gpu_pretrain.sh [OUT_DIR]          # on the GPU machine, from the project root
#   PYTHON=.venv/bin/python PRESET=tiny VOCAB=4096 SEQ=64 STEPS=2 WARMUP=1 \
#       bash bench/gpu_pretrain.sh /tmp/dry       # a CPU dry run of the same rows
#
# Installs .whl/ (../shared/gpu/make-wheels.sh) when deepspeed is missing. One process per row
# (see bench/gpu_pretrain.py); a row that fails is reported and the next one runs. Rows after
# the first two start only while under BUDGET_S seconds. Writes OUT_DIR/gpu_pretrain.txt (the
# table), rows.jsonl and one log per row.
set -uo pipefail
out=${1:-${OUT:-/tmp/gpu_pretrain}}
mkdir -p "$out"
PY=${PYTHON:-python3}
PRESET=${PRESET:-paper-1.36b} VOCAB=${VOCAB:-102400} SEQ=${SEQ:-2048}
STEPS=${STEPS:-8} WARMUP=${WARMUP:-4} BUDGET_S=${BUDGET_S:-240} ROW_TIMEOUT_S=${ROW_TIMEOUT_S:-240}
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
if command -v nvidia-smi > /dev/null; then  # build FusedAdam while the first row starts up
  "$PY" -c "from deepspeed.ops.op_builder import FusedAdamBuilder; FusedAdamBuilder().load()" \
    > "$out/fused_adam_build.log" 2>&1 &
  build=$!
fi

n=0
row() {  # row LABEL ARGS... -> 0 if the row was measured
  local label=$1 log
  shift
  n=$((n + 1))
  log=$out/row$n-${label//[^a-z0-9]/_}.log
  echo "== $label ($SECONDS s)"
  timeout "$ROW_TIMEOUT_S" "$PY" bench/gpu_pretrain.py --preset "$PRESET" --vocab "$VOCAB" \
    --seq-len "$SEQ" --steps "$STEPS" --warmup "$WARMUP" --label "$label" --out "$rows" "$@" \
    > "$log" 2>&1
  local rc=$?
  tail -n 1 "$log"
  if [ $rc -ne 0 ]; then
    echo "   failed (rc $rc): $(grep -E '(Error|error):' "$log" | tail -n 1 | cut -c1-300)"
  fi
  "$PY" bench/gpu_pretrain.py --report "$rows" "$out/gpu_pretrain.txt" > /dev/null  # so far
  return $rc
}

row "ckpt, compiled" --micro-batch 8 --ckpt --compile
if [ -n "$build" ] && ! wait "$build"; then  # every row would fail the same way
  echo "FusedAdam does not build:"; tail -n 3 "$out/fused_adam_build.log"; exit 1
fi
row "no ckpt, compiled" --micro-batch 8 --compile \
  || row "no ckpt, compiled" --micro-batch 4 --compile
[ "$SECONDS" -lt "$BUDGET_S" ] && row "ckpt every 2nd block, compiled" --micro-batch 8 --ckpt \
  --ckpt-every 2 --compile
[ "$SECONDS" -lt "$BUDGET_S" ] && row "ckpt, eager" --micro-batch 8 --ckpt

"$PY" bench/gpu_pretrain.py --report "$rows" "$out/gpu_pretrain.txt"
