# Sourced by the end-to-end benchmark scripts (scripts/bench-*), never run: the simulated data, the
# model registry and the scoring pipeline they share. No Kafka broker is needed. The caller runs
# bash with `set -euo pipefail` from the repository root.

handbook=deploy/examples/handbook.yaml

bench_section() { printf '\n==== %s ====\n' "$*"; }

# bench_paths WORK_DIR: sets tx, labels, table, registry and pipeline to their paths in WORK_DIR.
bench_paths() {
  tx="$1/tx.jsonl" labels="$1/labels.jsonl" table="$1/table.csv" registry="$1/models"
  pipeline="$1/pipeline.yaml"
}

# handbook.yaml, reading the simulated files, with a score operator after the last window and sinks
# of kind none (the benchmarks measure the engine, not the output topics). Needs bench_paths.
bench_write_pipeline() {
  local score="  - type: score\n    registry: $registry\n    review_threshold: 0.3\n    reasons: 3"
  sed -e "s|^source: {kind: kafka, key: CUSTOMER_ID, topic: transactions}|source: {kind: file, key: CUSTOMER_ID, path: $tx}|" \
      -e "s|^  source: {kind: kafka, topic: labels, key: TERMINAL_ID}|  source: {kind: file, path: $labels}|" \
      -e "s|^\( *- {name: TERMINAL_ID_RISK_30DAY_WINDOW, agg: ratio, field: \$label, window: 30d}\)$|\1\n$score|" \
      -e "s|^  fields: \[TRANSACTION_ID, TX_TIME_MS,|  fields: [SCORE, DECISION, MODEL_VERSION, REASONS, TRANSACTION_ID, TX_TIME_MS,|" \
      -e "/^output:$/,/^  fields:/{s|^  kind: kafka$|  kind: none|;/^  topic: features$/d}" \
      -e "s|^dead_letter: .*|dead_letter: {kind: none}|" \
      "$handbook" > "$pipeline.tmp"
  # Every rewrite must have happened: a silent miss would measure another pipeline.
  for want in "kind: file, key: CUSTOMER_ID" "kind: file, path: $labels" "type: score" "fields: \[SCORE," \
              "^  kind: none" "dead_letter: {kind: none}"; do
    if ! grep -q "$want" "$pipeline.tmp"; then
      echo "error: $handbook changed; cannot add '$want' to the benchmark pipeline" >&2
      exit 1
    fi
  done
  mv "$pipeline.tmp" "$pipeline"
}

# bench_prepare VIGIL WORK_DIR CUSTOMERS TERMINALS DAYS [SEED]: bench_paths, then, unless
# WORK_DIR/pipeline.yaml exists already:
#   1. vigil simulate: CUSTOMERS customers, TERMINALS terminals, DAYS days from 2018-04-01 (JSONL and
#      labels; SEED empty: the simulator's default)
#   2. vigil replay deploy/examples/handbook.yaml: the training table
#   3. vigil train twice (2018-05-01 and 2018-05-08, 7 days each, 100 rounds), vigil models promote v1
#   4. the pipeline (bench_write_pipeline), checked with vigil check-config
bench_prepare() {
  local vigil="$1" work_dir="$2" customers="$3" terminals="$4" days="$5" seed="${6:-}"
  bench_paths "$work_dir"
  [ -f "$pipeline" ] && return 0
  bench_section "Simulate $customers customers, $terminals terminals, $days days"
  local seed_args=()
  [ -n "$seed" ] && seed_args=(--seed "$seed")
  "$vigil" simulate --customers "$customers" --terminals "$terminals" --days "$days" --start-date 2018-04-01 \
    "${seed_args[@]}" --quiet --out "$tx" --labels-out "$labels"
  echo "$(wc -l < "$tx") transactions, $(wc -l < "$labels") labels"
  bench_section "Replay $handbook into a training table"
  "$vigil" --log-level warn replay "$handbook" --events "$tx" --labels "$labels" --out "$table"
  bench_section "Train v1 and v2, promote v1"
  rm -rf "$registry"
  local start
  for start in 2018-05-01 2018-05-08; do
    "$vigil" --log-level warn train "$handbook" --table "$table" --models-dir "$registry" \
      --train-start "$start" --threads 2 > /dev/null
  done
  "$vigil" --log-level warn models --registry "$registry" promote v1
  bench_write_pipeline
  "$vigil" check-config "$pipeline"
}
