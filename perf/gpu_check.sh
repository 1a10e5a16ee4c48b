#!/usr/bin/env bash
# GPU check (issue 14, item 5), under 8 minutes on one GPU; run from the repository root:
#   bash perf/gpu_check.sh            # figures to stdout and to $OUT/gpu_check.txt (or ./gpu_check.txt)
# 1. bf16 training throughput and MFU of the bundled me5-small, batch 128, max length 128, against the
#    GPU's bf16 matrix-product peak measured now; sentence-transformers' trainer in its default (fp32)
#    and at bf16=True in the same run.
# 2. evaluation encoding throughput (ours vs SentenceTransformer.encode, fp32 and bf16 model) and one
#    full XQuAD-R evaluation split into phases.
# 3. FAISS exact search on GPU (faiss-gpu) vs CPU on the same embeddings (+ a 1M synthetic pool).
# 4. GPU (bf16) and CPU (fp32) metrics of one zero-shot evaluation agree within bf16 noise.
# Each step has its own time limit, so one slow step cannot eat the others; a failed step is reported
# and the rest still run. Exit status: number of failed steps.
# Smoke test on a CPU (tiny settings, no GPU): GPU_CHECK_DEVICE=cpu GPU_CHECK_SMOKE=1 bash perf/gpu_check.sh
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python )}
DEVICE=${GPU_CHECK_DEVICE:-cuda}
SMOKE=${GPU_CHECK_SMOKE:-0}
SCALE=${GPU_CHECK_LIMIT_SCALE:-$( [ "$SMOKE" = 1 ] && echo 8 || echo 1 )}  # a busy CPU smoke run needs longer limits
LOG=${OUT:-.}/gpu_check.txt
export WANDB_MODE=offline TOKENIZERS_PARALLELISM=false
if [ -z "${HYBRID_RETRIEVAL_DATA:-}" ]; then
  for d in shared/data ../shared/data; do [ -d "$d/xquad-r" ] && export HYBRID_RETRIEVAL_DATA=$(cd "$d" && pwd) && break; done
fi
if [ "$SMOKE" = 1 ]; then  # seconds, not minutes: checks that every step runs, measures nothing
  TRAIN="--steps 2 --warmup 1 --batch-size 4 --max-length 16 --peak-n 256"
  EVAL="--languages en --eval-languages en --limit 64 --batch-size 16 --no-full-eval"
  FAISS="--languages en --limit 64 --synthetic 2000 --synthetic-queries 64"
  AGREE="--languages de en --articles 2 --precision 32-true"
else
  TRAIN="--steps 30 --warmup 5 --batch-size 128 --max-length 128 --peak-n 8192"
  EVAL="--batch-size 512 --peer-bf16 auto"
  FAISS="--languages ar de el en es hi ru th tr vi zh --synthetic 1000000 --synthetic-queries 1000"
  AGREE="--languages de en zh"
fi
failed=0
step() {  # step NAME LIMIT_S command...
  local name=$1 limit=$2; shift 2
  limit=$((limit * SCALE))
  echo "== $name (limit ${limit}s): $*" | tee -a "$LOG"
  local t0=$SECONDS
  timeout "$limit" "$@" 2>&1 | grep -v -E "^\s*$|Warning|warn\(" | tee -a "$LOG"
  local rc=${PIPESTATUS[0]}
  echo "== $name: exit $rc after $((SECONDS - t0)) s" | tee -a "$LOG"
  [ "$rc" = 0 ] || failed=$((failed + 1))
}
: > "$LOG"
echo "gpu_check $(date -u +%FT%TZ) device=$DEVICE smoke=$SMOKE python=$PY data=${HYBRID_RETRIEVAL_DATA:-unset}" | tee -a "$LOG"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee -a "$LOG"
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())" | tee -a "$LOG"
"$PY" -c "from hybrid_retrieval.backbones.me5_bundled import ensure_me5_small; ensure_me5_small()" 2>&1 | tail -2 | tee -a "$LOG"  # one conversion, outside the timed steps
step train 200 "$PY" perf/train_throughput.py --device "$DEVICE" $TRAIN
step encode 120 "$PY" perf/eval_throughput.py --device "$DEVICE" $EVAL
step faiss 60 "$PY" perf/gpu_check.py faiss --device "$DEVICE" $FAISS
step agree 90 "$PY" perf/gpu_check.py agree --device "$DEVICE" $AGREE
echo "gpu_check: $failed step(s) failed; figures in $LOG" | tee -a "$LOG"
exit "$failed"
