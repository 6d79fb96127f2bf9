# shellcheck shell=bash
# Where kaiser is and how the bench runs it.  Sourced by compare.sh, emperor-core.sh,
# emperor-idle-cpu.sh (not by the uwsgi-bench scripts, which only see env variables).
#
#   KAISER_ROOT  kaiser checkout to measure (default: the repo this bench/ is in)
#   NODE         node binary (default: node)
BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KAISER_ROOT=${KAISER_ROOT:-$(cd "$BENCH_ROOT/.." && pwd)}
NODE=${NODE:-node}
UB=$BENCH_ROOT/uwsgi-bench                    # the copied shared scripts
KAISER_EMPEROR_CMD="$NODE $KAISER_ROOT/bin/kaiser.js --emperor {dir}"
KAISER_SERVER_CMD="$NODE $KAISER_ROOT/bin/kaiser.js"
CMD_VASSAL_TEMPLATE=$BENCH_ROOT/lib/cmd-vassal.toml.tmpl
TINY_HTTP=$BENCH_ROOT/apps/tiny_http.py

# one line describing the kaiser under test (version output, commit, dirty flag)
kaiser_describe() {
  local v rev dirty
  v=$(timeout 10 "$NODE" "$KAISER_ROOT/bin/kaiser.js" --version 2>&1 | head -1)
  rev=$(git -C "$KAISER_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
  dirty=$(git -C "$KAISER_ROOT" status --porcelain --untracked-files=no 2>/dev/null | grep -vc ' bench/' || true)
  echo "kaiser_root=$KAISER_ROOT commit=$rev modified_tracked_files=$dirty version_output=\"$v\" node=$($NODE --version 2>&1)"
}
