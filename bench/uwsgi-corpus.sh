#!/usr/bin/env bash
# The uWSGI corpus (test/corpus/): every real vassal file under real uWSGI's emperor and under kaiser's, one table
# row per file (serving / refused / failed). Run under the bench lock on a shared machine:
#   flock /work/bench.lock bash bench/uwsgi-corpus.sh
# KAISER_CORPUS_WITHIN_MS: how long each emperor gets to bring all vassals up (default 60000).
set -euo pipefail
cd "$(dirname "$0")/.."
table="$(mktemp)"
npm run build >/dev/null
KAISER_CORPUS_RUN=1 KAISER_CORPUS_TABLE="$table" node --experimental-vm-modules node_modules/jest/bin/jest.js test/corpus/corpus-run.int.test.ts || status=$?
cat "$table"
rm -f "$table"
exit "${status:-0}"
