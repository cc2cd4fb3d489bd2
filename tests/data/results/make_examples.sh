#!/usr/bin/env bash
# Stored example documents, one per result kind, for the typed-result round-trip tests
# (tests/test_documents.py). Made by the real commands on the built-in model with short settings:
#   bash tests/data/results/make_examples.sh
# Re-run when a kind's layout changes on purpose; an old example that stops reading is a break.
set -euo pipefail
export INFERPERF_HISTORY=/tmp/ip-examples-history.sqlite
cd "$(dirname "$0")"
ip() { python -m inferperf "$@" > /dev/null; }
[ -f bench.json ] || ip bench builtin --iterations 40 --repeats 2 --no-history --json bench.json
[ -f bench-b.json ] || ip bench builtin --iterations 40 --repeats 2 --no-history --json bench-b.json
ip compare bench.json bench-b.json --json compare.json || true
ip scenario builtin --scenario single-stream --min-duration 1s --min-queries 32 --out /tmp/ip-scen --json scenario.json
ip generate builtin --new-tokens 8 --min-requests 3 --time 0.2 --prompt-tokens 16 --no-history --json generate.json
L=../../../src/inferperf/model/data/tiny-llm
ip scenario $L --scenario server --target-qps 20 --min-duration 1s --min-queries 16 --new-tokens 8 --out /tmp/ip-sllm --json scenario-llm.json || true
ip llm-compress $L --modes int8 --new-tokens 8 --time 0.3 --rounds 2 --out /tmp/ip-llmc --json llm-compress.json
ip profile builtin --shapes 'image[1,3,32,32];image[4,3,32,32]' --seconds 0.3 --json profile-shapes.json
ip e2e builtin --seconds 0.3 --pipelined-seconds 0.3 --json e2e.json
ip coldstart builtin --runs 2 --json coldstart.json
ip memory builtin --steady 0.5 --leak-iterations 30 --json memory.json
ip profile builtin --seconds 0.5 --reference-time 0.5 --json profile.json
ip quantize builtin --seconds 0.5 --rounds 1 --subset-size 64 --out /tmp/ip-q.onnx --json quantize.json || true
ip prune builtin --seconds 0.3 --rounds 1 --out /tmp/ip-sparse.onnx --json prune.json || true
ip precision builtin --seconds 0.3 --rounds 1 --json precision.json || true
ip tune builtin --budget 15s --trial-time 0.5s --finalists 2 --save-config /tmp/ip-tuned.json --json tune.json || true
ip dynamic builtin --shapes 'image[1..4,3,32,32]' --stream 16 --rounds 1 --json dynamic.json || true
python -m inferperf.backends.openai_mock --port 18731 --max-seconds 60 --max-requests 40 > /dev/null 2>&1 &
sleep 2
ip generate http://127.0.0.1:18731/v1 --concurrency 2 --requests-per-level 8 --new-tokens 8 --no-history --json generate-serving.json || true
wait
rm -rf /tmp/ip-suite
ip suite --models builtin --backends openvino --modes latency --time 0.5 --out /tmp/ip-suite --no-history || true
cp /tmp/ip-suite/suite.json suite.json
cp /tmp/ip-suite/cells/builtin__fp32__openvino.json suite-cell.json
rm -rf /tmp/ip-opt
ip optimize builtin --budget 1m --time-scale 0.1 --backend openvino --out /tmp/ip-opt || true
cp /tmp/ip-opt/optimize.json optimize.json
cp /tmp/ip-opt/01-doctor.json doctor.json
cp /tmp/ip-opt/08-sweep.json sweep.json
cp /tmp/ip-opt/09-verify.json verify.json
cp /tmp/ip-opt/10-accuracy.json accuracy-check.json
rm -rf /tmp/ip-optllm
ip optimize "$L" --budget 30s --prompt-tokens 16 --new-tokens 4 --requests-per-level 4 --ttft-max 60s --out /tmp/ip-optllm
cp /tmp/ip-optllm/optimize.json optimize-llm.json
for step in compress search verify; do cp "/tmp/ip-optllm/$step.json" "optimize-llm-$step.json"; done
ip info builtin --json info.json
ip accuracy builtin --json accuracy.json
ip profile builtin /tmp/ip-opt/optimized-model.xml --compare --seconds 0.3 --reference-time 0.3 --json profile-compare.json
