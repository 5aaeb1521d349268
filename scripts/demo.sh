#!/usr/bin/env bash
# make demo: start the local OpenProject double, run `meltano run tap-openproject target-jsonl` against it, and show
# what landed. Everything runs on 127.0.0.1; nothing needs Meltano Hub.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
MELTANO_VENV=${MELTANO_VENV:-.venv-meltano}
WORK_PACKAGES=${DEMO_WORK_PACKAGES:-2000}

if [ ! -x "$MELTANO_VENV/bin/meltano" ]; then
  echo "==> installing Meltano into $MELTANO_VENV"
  "$PYTHON" -m venv "$MELTANO_VENV"
  "$MELTANO_VENV/bin/python" -m pip install --quiet --upgrade pip
  "$MELTANO_VENV/bin/python" -m pip install --quiet 'meltano>=4.0,<5'
fi
export MELTANO_SEND_ANONYMOUS_USAGE_STATS=false MELTANO_CLI_DISABLE_VERSION_CHECK=true
MELTANO="$MELTANO_VENV/bin/meltano"

port_file=$(mktemp)
"$VENV/bin/python" -m tests.openproject_double --port 0 --work-packages "$WORK_PACKAGES" \
  --api-key demo-api-key-for-the-local-double --port-file "$port_file" >/dev/null &
double_pid=$!
trap 'kill $double_pid 2>/dev/null || true; rm -f "$port_file"' EXIT
for _ in $(seq 1 100); do [ -s "$port_file" ] && break; sleep 0.1; done
[ -s "$port_file" ] || { echo "the OpenProject double did not start" >&2; exit 1; }
export TAP_OPENPROJECT_BASE_URL="http://127.0.0.1:$(cat "$port_file")"
export TAP_OPENPROJECT_API_KEY=demo-api-key-for-the-local-double
echo "==> OpenProject double with $WORK_PACKAGES work packages at $TAP_OPENPROJECT_BASE_URL"

echo "==> meltano install tap-openproject target-jsonl"
"$MELTANO" install tap-openproject target-jsonl >/dev/null
rm -rf output && mkdir -p output
echo "==> meltano run tap-openproject target-jsonl (log: output/meltano-run.log)"
if ! "$MELTANO" run --full-refresh tap-openproject target-jsonl > output/meltano-run.log 2>&1; then
  tail -n 40 output/meltano-run.log >&2
  echo "meltano run failed: see output/meltano-run.log" >&2
  exit 1
fi
grep -o "Run summary: .*" output/meltano-run.log | tail -n 1 | cut -c1-400

echo "==> what landed (records per stream, in $(pwd)/output)"
total=0
for file in output/*.jsonl; do
  total=$((total + $(wc -l < "$file")))
  printf '  %-22s %8d  %s\n' "$(basename "$file" .jsonl)" "$(wc -l < "$file")" "$file"
done
printf '  %-22s %8d\n' "total" "$total"
