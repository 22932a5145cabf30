#!/usr/bin/env bash
# walship beside its peers, on the same machine in one run; prints one Markdown table (stdout) for
# docs/BENCHMARKS.md, "Peers". Progress goes to stderr.
#
#   scripts/bench-peers.sh [--runs N] [--quick] [--rows N] [--updates N] [--value-size B] [--seed N]
#                          [--scratch DIR] [--keep] [--step-timeout SECONDS]
#
# Restore against Litestream. One data set, generated once from a printed seed by
# `walship bench dataset` into two files (rows.tsv: --rows rows `kNNNNNNNNN<TAB>value` of
# --value-size random base64 bytes; updates.tsv: --updates updates of random rows to new values),
# then loaded into both:
#   walship    `walship bench restore-memory --dataset --build-only`: the rows in batches of 500,
#              a base backup, each update its own commit (durable every 1,000th), the WAL shipped
#              to a file:// archive;
#   Litestream SQLite (WAL mode, synchronous=NORMAL, table kv(key TEXT PRIMARY KEY, value TEXT)),
#              `litestream replicate` to a file replica: the rows in transactions of 500, a
#              synced snapshot (`replicate -once -force-snapshot`), each update its own
#              transaction, `litestream sync -wait`, then stopped.
# Each run then times `./walship restore` and `litestream restore` under `/usr/bin/time -v`
# (wall time, peak RSS), in alternating order, from a warm page cache, and checks that both
# restored stores hold the source's content: the SHA-256 of every key<TAB>value line in key
# order (`walship kv dump`, a sqlite3 query) must be equal, else exit 3. Reported: medians of
# --runs, and walship / Litestream ratios, with the sizes of the live stores (pages.dat, the
# SQLite file after a TRUNCATE checkpoint), of the restored ones and of archive and replica.
#
# Litestream: `litestream` from LITESTREAM (a path) if set, else the pinned version below built
# once with `go install` into ${WALSHIP_CACHE:-~/.cache/walship}. Needs java, sqlite3, GNU time
# (/usr/bin/time, Debian package 'time'), sha256sum and awk.
# --quick: 20,000 rows and updates and 1 run unless given: a smoke test of a few minutes.
# Exit codes: 0 done; 1 a step failed or timed out (--step-timeout, default 3600 s each);
# 2 usage or a missing tool; 3 the restored stores differ.
set -euo pipefail

LITESTREAM_MODULE="github.com/benbjohnson/litestream/cmd/litestream"
LITESTREAM_VERSION="v0.5.18"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
walship="$root/walship"

die() { echo "bench-peers.sh: $*" >&2; exit 1; }
usage() { echo "bench-peers.sh: $*" >&2; echo "usage: scripts/bench-peers.sh [--runs N] [--quick] [--rows N] [--updates N] [--value-size B] [--seed N] [--scratch DIR] [--keep] [--step-timeout SECONDS]" >&2; exit 2; }
say() { echo "bench-peers: $*" >&2; }

runs="" rows="" updates="" value_size=1000 seed="" scratch="" keep=0 quick=0 step_timeout=3600
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) runs="${2:-}"; shift 2 || usage "--runs needs a value" ;;
    --rows) rows="${2:-}"; shift 2 || usage "--rows needs a value" ;;
    --updates) updates="${2:-}"; shift 2 || usage "--updates needs a value" ;;
    --value-size) value_size="${2:-}"; shift 2 || usage "--value-size needs a value" ;;
    --seed) seed="${2:-}"; shift 2 || usage "--seed needs a value" ;;
    --scratch) scratch="${2:-}"; shift 2 || usage "--scratch needs a value" ;;
    --step-timeout) step_timeout="${2:-}"; shift 2 || usage "--step-timeout needs a value" ;;
    --keep) keep=1; shift ;;
    --quick) quick=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) usage "unknown argument: $1" ;;
  esac
done
if [[ $quick == 1 ]]; then
  rows="${rows:-20000}" updates="${updates:-20000}" runs="${runs:-1}"
fi
rows="${rows:-200000}" updates="${updates:-200000}" runs="${runs:-3}"
seed="${seed:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}"
for v in runs rows updates value_size seed step_timeout; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || usage "--${v//_/-} must be a non-negative integer, got '${!v}'"
done
(( runs >= 1 && rows >= 1 && value_size >= 1 && step_timeout >= 1 )) \
  || usage "need --runs >= 1, --rows >= 1, --value-size >= 1, --step-timeout >= 1"

for tool in java sqlite3 sha256sum awk timeout; do
  command -v "$tool" >/dev/null 2>&1 || usage "needs '$tool' on PATH"
done
[[ -x /usr/bin/time ]] || usage "needs GNU time at /usr/bin/time (Debian package 'time')"

# --- Litestream, pinned -------------------------------------------------------------------------
litestream="${LITESTREAM:-}"
if [[ -z "$litestream" ]]; then
  cache="${WALSHIP_CACHE:-$HOME/.cache/walship}/litestream-$LITESTREAM_VERSION"
  litestream="$cache/litestream"
  if [[ ! -x "$litestream" ]]; then
    command -v go >/dev/null 2>&1 || usage "no Litestream: set LITESTREAM=/path/to/litestream or install Go to build $LITESTREAM_VERSION"
    say "building Litestream $LITESTREAM_VERSION with go install (once; cached in $cache)..."
    mkdir -p "$cache"
    GOBIN="$cache" nice -n 19 go install "$LITESTREAM_MODULE@$LITESTREAM_VERSION" >&2 \
      || die "go install $LITESTREAM_MODULE@$LITESTREAM_VERSION failed (see above)"
  fi
fi
[[ -x "$litestream" ]] || usage "LITESTREAM=$litestream is not an executable"
if [[ -n "${LITESTREAM:-}" ]]; then
  ls_label="Litestream ($("$litestream" version 2>/dev/null | head -1 || true))"
else
  ls_label="Litestream $LITESTREAM_VERSION"
fi

# --- scratch and cleanup ------------------------------------------------------------------------
if [[ -z "$scratch" ]]; then
  scratch="$(mktemp -d "${TMPDIR:-/tmp}/walship-bench-peers.XXXXXX")"
else
  mkdir -p "$scratch"
  [[ -z "$(ls -A "$scratch")" ]] || usage "--scratch $scratch is not empty"
fi
scratch="$(cd "$scratch" && pwd)"
ls_pid=""
cleanup() {
  local rc=$?
  if [[ -n "$ls_pid" ]] && kill -0 "$ls_pid" 2>/dev/null; then
    kill -TERM "$ls_pid" 2>/dev/null || true
    wait "$ls_pid" 2>/dev/null || true
  fi
  if [[ $keep == 1 ]]; then
    say "kept $scratch"
  else
    rm -rf "$scratch"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# step NAME CMD...: runs CMD bounded by --step-timeout, its output in $scratch/logs/NAME.log
mkdir -p "$scratch/logs"
step() {
  local name="$1"; shift
  local log="$scratch/logs/$name.log"
  if ! timeout --kill-after=30 "$step_timeout" "$@" >"$log" 2>&1; then
    tail -5 "$log" >&2 || true
    [[ $keep == 1 ]] || say "rerun with --keep to keep the logs under $scratch/logs"
    die "step '$name' failed or ran over ${step_timeout} s (log: $log)"
  fi
}

# sorted key<TAB>value lines of a store, as one SHA-256
walship_sha() { timeout "$step_timeout" "$walship" kv dump --data "$1" | sha256sum | cut -d' ' -f1; }
sqlite_sha() {
  timeout "$step_timeout" sqlite3 -bail "$1" "SELECT key || char(9) || value FROM kv ORDER BY key;" | sha256sum | cut -d' ' -f1
}
bytes() { stat -c %s "$1"; }
tree_bytes() { du -sb "$1" | cut -f1; }

# /usr/bin/time -v output → "seconds kib"
time_of() {
  awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i] }
              /Maximum resident set size/ { k = $2 }
              END { if (s == "" || k == "") exit 1; printf "%.3f %d\n", s, k }' "$1"
}

say "seed $seed; $rows rows x $value_size B, $updates updates, $runs run(s); scratch $scratch"
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- the data set, once -------------------------------------------------------------------------
say "building walship if needed..."
"$walship" --help >/dev/null || die "./walship does not run (see above)"
ops="$scratch/ops"
say "generating the operations..."
step dataset "$walship" bench dataset --out "$ops" --rows "$rows" --value-size "$value_size" --updates "$updates" --seed "$seed"

# --- walship: source store, base backup, updates, archive ---------------------------------------
say "walship: loading, base backup, updates, shipping..."
wdir="$scratch/walship"
step walship-build "$walship" bench restore-memory --data "$wdir" --dataset "$ops" --build-only
expected="$(walship_sha "$wdir/source")" || die "walship kv dump of the source failed"
say "source content sha256 $expected"

# --- Litestream: SQLite replicated during the load and the updates --------------------------------
sdir="$scratch/sqlite"
mkdir -p "$sdir"
db="$sdir/live.db"
sock="$sdir/litestream.sock"
cfg="$sdir/litestream.yml"
cat >"$cfg" <<YAML
socket:
  enabled: true
  path: $sock
dbs:
  - path: $db
    replica:
      url: file://$sdir/replica
YAML
sqlite3 -bail "$db" "PRAGMA journal_mode=WAL; CREATE TABLE kv(key TEXT PRIMARY KEY, value TEXT);" >/dev/null

start_litestream() {
  rm -f "$sock"
  "$litestream" replicate -config "$cfg" >>"$scratch/logs/litestream-replicate.log" 2>&1 &
  ls_pid=$!
  local deadline=$((SECONDS + 60))
  until [[ -S "$sock" ]]; do
    kill -0 "$ls_pid" 2>/dev/null || die "litestream replicate exited (log: $scratch/logs/litestream-replicate.log)"
    (( SECONDS < deadline )) || die "litestream replicate: no control socket after 60 s"
    sleep 0.2
  done
}
sync_and_stop_litestream() {
  step "litestream-sync-$1" "$litestream" sync -socket "$sock" -wait -timeout "$step_timeout" "$db"
  kill -TERM "$ls_pid"
  local deadline=$((SECONDS + 60))
  while kill -0 "$ls_pid" 2>/dev/null; do
    (( SECONDS < deadline )) || { kill -KILL "$ls_pid"; die "litestream replicate did not stop within 60 s of SIGTERM"; }
    sleep 0.2
  done
  wait "$ls_pid" || true
  ls_pid=""
}
# the operations as SQL: rows in transactions of 500, updates one per transaction
sql_of() {
  awk -F'\t' -v batch="$2" -v verb="$3" '
    BEGIN { print "PRAGMA busy_timeout=60000; PRAGMA synchronous=NORMAL;" }
    NF != 2 { printf "bench-peers.sh: %s:%d: not key<TAB>value\n", FILENAME, NR > "/dev/stderr"; exit 1 }
    { gsub(/\x27/, "\x27\x27", $1); gsub(/\x27/, "\x27\x27", $2) }
    batch > 1 && NR % batch == 1 { print "BEGIN;" }
    verb == "insert" { printf "INSERT INTO kv(key, value) VALUES(\x27%s\x27, \x27%s\x27);\n", $1, $2 }
    verb == "update" { printf "UPDATE kv SET value = \x27%s\x27 WHERE key = \x27%s\x27;\n", $2, $1 }
    batch > 1 && NR % batch == 0 { print "COMMIT;" }
    END { if (batch > 1 && NR % batch != 0) print "COMMIT;" }' "$1"
}
load_sqlite() { sql_of "$@" | sqlite3 -bail "$db" >/dev/null; }
export -f sql_of load_sqlite
export db

say "Litestream: loading under litestream replicate..."
start_litestream
step sqlite-load bash -c 'load_sqlite "$@"' _ "$ops/rows.tsv" 500 insert
sync_and_stop_litestream load
say "Litestream: snapshot..."
step litestream-snapshot "$litestream" replicate -config "$cfg" -once -force-snapshot
rm -f "$sock"
say "Litestream: updates under litestream replicate..."
start_litestream
step sqlite-updates bash -c 'load_sqlite "$@"' _ "$ops/updates.tsv" 1 update
sync_and_stop_litestream updates
sqlite3 -bail "$db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
got="$(sqlite_sha "$db")" || die "reading the SQLite source failed"
[[ "$got" == "$expected" ]] || { echo "bench-peers.sh: the SQLite source holds content $got, walship's source $expected: the loads differ" >&2; exit 3; }

# --- the restores -------------------------------------------------------------------------------
w_secs=() w_kib=() l_secs=() l_kib=()
restore_walship() {
  local i="$1" target="$wdir/restored" t="$scratch/logs/walship-restore-$1.time"
  rm -rf "$target"
  step "walship-restore-$i" /usr/bin/time -v -o "$t" "$walship" restore --archive "file://$wdir/archive" --target "$target"
  read -r s k < <(time_of "$t") || die "no figures in $t"
  local sha; sha="$(walship_sha "$target")" || die "run $i: walship kv dump of the restored store failed"
  [[ "$sha" == "$expected" ]] || { echo "bench-peers.sh: run $i: walship's restore holds content $sha, the source $expected" >&2; exit 3; }
  w_secs+=("$s"); w_kib+=("$k"); w_restored_bytes="$(bytes "$target/pages.dat")"
  say "run $i: walship restore $s s, peak RSS $((k / 1024)) MiB, content equal"
}
restore_litestream() {
  local i="$1" out="$sdir/restored.db" t="$scratch/logs/litestream-restore-$1.time"
  rm -f "$out" "$out-wal" "$out-shm"
  step "litestream-restore-$i" /usr/bin/time -v -o "$t" "$litestream" restore -o "$out" "file://$sdir/replica"
  read -r s k < <(time_of "$t") || die "no figures in $t"
  local sha; sha="$(sqlite_sha "$out")" || die "run $i: reading Litestream's restored database failed"
  [[ "$sha" == "$expected" ]] || { echo "bench-peers.sh: run $i: Litestream's restore holds content $sha, the source $expected" >&2; exit 3; }
  l_secs+=("$s"); l_kib+=("$k"); l_restored_bytes="$(bytes "$out")"
  say "run $i: litestream restore $s s, peak RSS $((k / 1024)) MiB, content equal"
}
for ((i = 1; i <= runs; i++)); do
  if (( i % 2 == 1 )); then restore_walship "$i"; restore_litestream "$i"
  else restore_litestream "$i"; restore_walship "$i"; fi
done

# --- the table ----------------------------------------------------------------------------------
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f\n", a / b }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f MiB", k / 1024 }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.0f MB", b / 1e6 }'; }
runs_of() { local out="" x; for x in "$@"; do out+="${out:+, }$x"; done; echo "$out"; }

ws="$(median "${w_secs[@]}")" ls_="$(median "${l_secs[@]}")"
wk="$(median "${w_kib[@]}")" lk="$(median "${l_kib[@]}")"
w_live="$(bytes "$wdir/source/pages.dat")" l_live="$(bytes "$db")"
w_arch="$(tree_bytes "$wdir/archive")" l_arch="$(tree_bytes "$sdir/replica")"
cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"

echo "**Restore, walship vs $ls_label** — $rows rows of $value_size random base64 bytes, a base backup / snapshot, then $updates single-row updates of random rows (seed $seed); median of $runs run(s); $(nproc) cores (${cpu:-unknown CPU}), load average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end; $(date -u +%Y-%m-%dT%H:%MZ)."
echo
echo "| | walship | $ls_label | walship / Litestream |"
echo "|---|---|---|---|"
echo "| restore wall time (runs: walship $(runs_of "${w_secs[@]}"); Litestream $(runs_of "${l_secs[@]}")) | $(printf '%.2f' "$ws") s | $(printf '%.2f' "$ls_") s | $(ratio "$ws" "$ls_") |"
echo "| restore peak RSS | $(mib "$wk") | $(mib "$lk") | $(ratio "$wk" "$lk") |"
echo "| live store on disk (pages.dat; SQLite file after a TRUNCATE checkpoint) | $(mb "$w_live") | $(mb "$l_live") | $(ratio "$w_live" "$l_live") |"
echo "| restored store on disk | $(mb "$w_restored_bytes") | $(mb "$l_restored_bytes") | $(ratio "$w_restored_bytes" "$l_restored_bytes") |"
echo "| archive / replica on disk | $(mb "$w_arch") | $(mb "$l_arch") | $(ratio "$w_arch" "$l_arch") |"
echo
echo "Content checked equal in every run: SHA-256 of the sorted key<TAB>value lines $expected."
