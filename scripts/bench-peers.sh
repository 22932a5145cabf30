#!/usr/bin/env bash
# walship beside its peers, on the same machine in one run; prints one Markdown table (stdout) for
# docs/BENCHMARKS.md, "Peers". Progress goes to stderr.
#
#   scripts/bench-peers.sh [--runs N] [--quick] [--rows N] [--updates N] [--value-size B] [--seed N]
#                          [--scratch DIR] [--keep] [--step-timeout SECONDS]
#                          [--only restore|write|backup|sync] [--standby-dir DIR] [--duration SECONDS]
#                          [--warmup SECONDS]
#
# Restore against Litestream (--only restore, or both by default). One data set, generated once from a printed seed by
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
# Durable single-row writes against PostgreSQL (--only write, or both by default). PostgreSQL
# (Debian's, found under /usr/lib/postgresql/*/bin) in a fresh cluster under the scratch dir,
# on 127.0.0.1 only, synchronous_commit=on, fsync on, otherwise its defaults; pgbench runs an
# upsert of a 100-byte value on a random key of 100,000 (`INSERT .. ON CONFLICT (key) DO UPDATE`,
# prepared). walship: `walship leader` on 127.0.0.1 (each PUT a durable commit), and wrk
# (Debian's) PUTs a 100-byte value on the same key space (a Lua script). Every request of either
# writes a value its key does not hold (walship writes nothing, and syncs nothing, for an upsert
# of an equal value); each walship run is checked to have made a WAL commit per answered PUT
# (its walship_commits_total), else exit 3. Each at 1 and 16
# connections for --duration seconds (after --warmup seconds of each, unmeasured; default 30),
# --runs times in alternating order; commits per second and
# latency (p50, p99) of each, and the client's own CPU (user + system over wall time: on 2 cores
# the load generator competes with the server). Beside each walship HTTP run, the same upserts in
# process (`walship bench write --keys --warmup-run`, threads = connections, as many unmeasured
# durable upserts first as it then measures, so both are measured warm): HTTP / in process is the
# cost of the HTTP path. Needs PostgreSQL's server binaries and wrk
# (`apt-get install postgresql wrk`).
#
# Base backup against pgBackRest (--only backup, or by default when `pgbackrest` is on PATH:
# `apt-get install pgbackrest`). The rows and updates above, in a fresh PostgreSQL cluster
# (COPY of the rows, the updates applied in one UPDATE, VACUUM FULL, CHECKPOINT; content checked
# equal to walship's source), WAL archived by pgBackRest's archive-push; each run times a full
# `pgbackrest backup` (zst level 3 like walship's zstd, process-max 2, start-fast, a posix repo on
# the same disk) and `walship backup --data` of the stopped source store into a fresh file://
# archive, alternating, under `/usr/bin/time -v`: wall time, CPU (user + system, children
# included), peak RSS, backup size, beside the size of what each backed up.
#
# Commit modes against PostgreSQL with a synchronous standby (--only sync; not part of the default
# run). The write part's upsert, pgbench and wrk, on a primary with one streaming standby and on a
# semi-sync leader with one follower process, each measured async and sync in the same run:
#   PostgreSQL a primary as in the write part and a standby made by pg_basebackup (hot_standby,
#              primary_conninfo with application_name=s1), polled until pg_stat_replication shows
#              it streaming; synchronous_standby_names='s1'; before each run ALTER SYSTEM +
#              pg_reload_conf() set synchronous_commit=on (the standby's flush: sync) or local
#              (the primary's flush only, the standby still streaming: async);
#   walship    `walship leader --sync-mode semi-sync --repl` and `walship follow` (its own data dir,
#              bootstrapped from the leader's snapshot), until the leader counts it; semi-sync is the
#              leader's mode, async `?sync=async` on every PUT to the same leader (no restart between
#              modes; the probe PUT before each run checks its Walship-Sync answer, and a run whose
#              leader degraded to async ends the script with exit 3).
# Each at 1 and 16 connections, --runs times, the four in an order reversed in even runs; medians,
# and sync / async of each. --standby-dir DIR (empty or missing; e.g. under /dev/shm) puts the
# standby's and the follower's data directories there instead of beside the primary's and the
# leader's: on a machine whose one disk serves all stores, a stand-in for a standby on its own disk.
#
# Litestream: `litestream` from LITESTREAM (a path) if set, else the pinned version below built
# once with `go install` into ${WALSHIP_CACHE:-~/.cache/walship}. Needs java, sqlite3, GNU time
# (/usr/bin/time, Debian package 'time'), sha256sum and awk.
# --quick: 20,000 rows and updates, 3-second write runs and 1 run unless given: a smoke test
# (measured on 2 cores: 1 min 35 s for both parts at a load average of 6 to 9; the restore part alone 42 s).
# Exit codes: 0 done; 1 a step failed or timed out (--step-timeout, default 3600 s each);
# 2 usage or a missing tool; 3 the restored stores differ.
set -euo pipefail

LITESTREAM_MODULE="github.com/benbjohnson/litestream/cmd/litestream"
LITESTREAM_VERSION="v0.5.18"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
walship="$root/walship"

die() { echo "bench-peers.sh: $*" >&2; exit 1; }
usage() { echo "bench-peers.sh: $*" >&2; echo "usage: scripts/bench-peers.sh [--runs N] [--quick] [--rows N] [--updates N] [--value-size B] [--seed N] [--scratch DIR] [--keep] [--step-timeout SECONDS] [--only restore|write|backup|sync] [--standby-dir DIR] [--duration SECONDS] [--warmup SECONDS]" >&2; exit 2; }
say() { echo "bench-peers: $*" >&2; }

runs="" rows="" updates="" value_size=1000 seed="" scratch="" keep=0 quick=0 step_timeout=3600 only="" duration="" warmup="" standby_dir=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) runs="${2:-}"; shift 2 || usage "--runs needs a value" ;;
    --rows) rows="${2:-}"; shift 2 || usage "--rows needs a value" ;;
    --updates) updates="${2:-}"; shift 2 || usage "--updates needs a value" ;;
    --value-size) value_size="${2:-}"; shift 2 || usage "--value-size needs a value" ;;
    --seed) seed="${2:-}"; shift 2 || usage "--seed needs a value" ;;
    --scratch) scratch="${2:-}"; shift 2 || usage "--scratch needs a value" ;;
    --step-timeout) step_timeout="${2:-}"; shift 2 || usage "--step-timeout needs a value" ;;
    --only) only="${2:-}"; shift 2 || usage "--only needs a value" ;;
    --duration) duration="${2:-}"; shift 2 || usage "--duration needs a value" ;;
    --warmup) warmup="${2:-}"; shift 2 || usage "--warmup needs a value" ;;
    --standby-dir) standby_dir="${2:-}"; shift 2 || usage "--standby-dir needs a value" ;;
    --keep) keep=1; shift ;;
    --quick) quick=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) usage "unknown argument: $1" ;;
  esac
done
if [[ $quick == 1 ]]; then
  rows="${rows:-20000}" updates="${updates:-20000}" runs="${runs:-1}" duration="${duration:-3}" warmup="${warmup:-2}"
fi
rows="${rows:-200000}" updates="${updates:-200000}" runs="${runs:-3}" duration="${duration:-20}" warmup="${warmup:-30}"
case "$only" in ""|restore|write|backup|sync) ;; *) usage "--only takes restore, write, backup or sync, got '$only'" ;; esac
do_restore=1 do_write=1 do_backup=1 do_sync=0
[[ "$only" != sync ]] || do_sync=1
[[ -z "$standby_dir" || $do_sync == 1 ]] || usage "--standby-dir is for --only sync"
[[ -z "$only" || "$only" == restore ]] || do_restore=0
[[ -z "$only" || "$only" == write ]] || do_write=0
[[ -z "$only" || "$only" == backup ]] || do_backup=0
if (( do_backup )) && ! command -v pgbackrest >/dev/null 2>&1; then
  [[ -z "$only" ]] || usage "needs 'pgbackrest' on PATH (apt-get install pgbackrest)"
  echo "bench-peers: no pgbackrest on PATH: the base-backup comparison is skipped (apt-get install pgbackrest)" >&2
  do_backup=0
fi
seed="${seed:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}"
for v in runs rows updates value_size seed step_timeout duration warmup; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || usage "--${v//_/-} must be a non-negative integer, got '${!v}'"
done
(( runs >= 1 && rows >= 1 && value_size >= 1 && step_timeout >= 1 && duration >= 1 )) \
  || usage "need --runs >= 1, --rows >= 1, --value-size >= 1, --step-timeout >= 1, --duration >= 1"

for tool in java sha256sum awk timeout; do
  command -v "$tool" >/dev/null 2>&1 || usage "needs '$tool' on PATH"
done
[[ -x /usr/bin/time ]] || usage "needs GNU time at /usr/bin/time (Debian package 'time')"
if (( do_restore )); then
  command -v sqlite3 >/dev/null 2>&1 || usage "needs 'sqlite3' on PATH (apt-get install sqlite3)"
fi
pg_bin=""
if (( do_write || do_sync )); then
  command -v wrk >/dev/null 2>&1 || usage "needs 'wrk' on PATH (apt-get install wrk), or --only restore"
  command -v curl >/dev/null 2>&1 || usage "needs 'curl' on PATH (apt-get install curl), or --only restore"
fi
if (( do_write || do_backup || do_sync )); then
  pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
  [[ -n "$pg_bin" && -x "$pg_bin/initdb" && -x "$pg_bin/pg_ctl" && -x "$pg_bin/pgbench" ]] \
    || usage "needs PostgreSQL's server binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql), or --only restore"
  (( ! do_sync )) || [[ -x "$pg_bin/pg_basebackup" ]] || usage "needs $pg_bin/pg_basebackup (apt-get install postgresql)"
  if [[ $EUID == 0 ]]; then
    id postgres >/dev/null 2>&1 || usage "running as root needs the 'postgres' user to run PostgreSQL (Debian's package makes it)"
  fi
fi

# --- Litestream, pinned -------------------------------------------------------------------------
litestream="${LITESTREAM:-}"
if (( do_restore )) && [[ -z "$litestream" ]]; then
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
(( ! do_restore )) || [[ -x "$litestream" ]] || usage "LITESTREAM=$litestream is not an executable"
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
standby_made=0
if [[ -n "$standby_dir" ]]; then
  [[ -e "$standby_dir" ]] || standby_made=1
  mkdir -p "$standby_dir"
  [[ -z "$(ls -A "$standby_dir")" ]] || usage "--standby-dir $standby_dir is not empty"
  standby_dir="$(cd "$standby_dir" && pwd)"
  [[ $EUID != 0 ]] || chmod 755 "$standby_dir"
fi
ls_pid="" leader_pid="" sync_leader_pid="" follower_pid="" pg_clusters=()
cleanup() {
  local rc=$?
  local p i
  trap '' INT TERM # a second Ctrl-C does not cut the cleanup short
  for p in "$ls_pid" "$follower_pid" "$sync_leader_pid" "$leader_pid"; do
    if [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null; then
      kill -TERM "$p" 2>/dev/null || true
      for ((i = 0; i < 300; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
      kill -KILL "$p" 2>/dev/null || true
      wait "$p" 2>/dev/null || true
    fi
  done
  # the last started first: a standby before its primary
  for ((i = ${#pg_clusters[@]} - 1; i >= 0; i--)); do
    p="${pg_clusters[$i]}"
    if [[ -f "$p/postmaster.pid" ]]; then
      "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$p" -m fast -w -t 60 stop >/dev/null 2>&1 \
        || "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$p" -m immediate -w -t 60 stop >/dev/null 2>&1 || true
    fi
  done
  if [[ $keep == 1 ]]; then
    say "kept $scratch${standby_dir:+ and $standby_dir}"
  else
    rm -rf "$scratch"
    if [[ -n "$standby_dir" ]]; then
      rm -rf "$standby_dir/pg-standby" "$standby_dir/walship-follower"
      [[ $standby_made == 0 ]] || rmdir "$standby_dir" 2>/dev/null || true
    fi
  fi
  exit $rc
}
trap cleanup EXIT
trap 'echo "bench-peers.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
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

# a TCP port below the ephemeral range that nothing on 127.0.0.1 answers on
free_port() {
  local p n
  for n in $(seq 1 50); do
    p=$((20000 + RANDOM % 10000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  die "no free TCP port found on 127.0.0.1"
}
# "/usr/bin/time -v" file → percent of one core the command used (user + system over wall time)
cpu_of() {
  awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 }
              /Elapsed \(wall clock\)/ { n = split($2, p, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + p[i] }
              END { if (w <= 0) exit 1; printf "%.0f\n", 100 * (u + s) / w }' "$1"
}

# PostgreSQL's commands run as the postgres user when this runs as root (PostgreSQL refuses root)
as_pg=(env)
[[ $EUID != 0 ]] || as_pg=(runuser -u postgres --)
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f\n", a / b }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f MiB", k / 1024 }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.0f MB", b / 1e6 }'; }
# alternate A B: runs 1..--runs of the two commands, A first in odd runs (each gets the run number)
alternate() { local i; for ((i = 1; i <= runs; i++)); do if (( i % 2 == 1 )); then "$1" "$i"; "$2" "$i"; else "$2" "$i"; "$1" "$i"; fi; done; }
runs_of() { local out="" x; for x in "$@"; do out+="${out:+, }$x"; done; echo "$out"; }
cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
say "seed $seed; $runs run(s); scratch $scratch"
say "building walship if needed..."
"$walship" --help >/dev/null || die "./walship does not run (see above)"

# --- the data set, once (restore and backup) -------------------------------------------------------
if (( do_restore || do_backup )); then
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
ops="$scratch/ops"
say "generating the operations: $rows rows x $value_size B, $updates updates..."
step dataset "$walship" bench dataset --out "$ops" --rows "$rows" --value-size "$value_size" --updates "$updates" --seed "$seed"

# --- walship: source store, base backup, updates, archive ---------------------------------------
say "walship: loading, base backup, updates, shipping..."
wdir="$scratch/walship"
step walship-build "$walship" bench restore-memory --data "$wdir" --dataset "$ops" --build-only
expected="$(walship_sha "$wdir/source")" || die "walship kv dump of the source failed"
say "source content sha256 $expected"
fi

if (( do_restore )); then
say "restore: $rows rows x $value_size B, $updates updates"

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
# './walship restore' makes its class archive (cli/target/restore.jsa) once per build of the jar;
# made here, so that no timed run includes it
step walship-class-archive "$walship" restore --help
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
alternate restore_walship restore_litestream

# --- the table ----------------------------------------------------------------------------------
ws="$(median "${w_secs[@]}")" ls_="$(median "${l_secs[@]}")"
wk="$(median "${w_kib[@]}")" lk="$(median "${l_kib[@]}")"
w_live="$(bytes "$wdir/source/pages.dat")" l_live="$(bytes "$db")"
w_arch="$(tree_bytes "$wdir/archive")" l_arch="$(tree_bytes "$sdir/replica")"
w_dir="$(du -s --block-size=1 "$wdir/source" | cut -f1)"
l_files=("$db" "$sdir/.live.db-litestream")
[[ ! -e "$db-wal" ]] || l_files+=("$db-wal")
l_dir="$(du -sc --block-size=1 "${l_files[@]}" | tail -1 | cut -f1)"
echo "**Restore, walship vs $ls_label** — $rows rows of $value_size random base64 bytes, a base backup / snapshot, then $updates single-row updates of random rows (seed $seed); median of $runs run(s); $(nproc) cores (${cpu:-unknown CPU}), load average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end; $(date -u +%Y-%m-%dT%H:%MZ)."
echo
echo "| | walship | $ls_label | walship / Litestream |"
echo "|---|---|---|---|"
echo "| restore wall time (runs: walship $(runs_of "${w_secs[@]}"); Litestream $(runs_of "${l_secs[@]}")) | $(printf '%.2f' "$ws") s | $(printf '%.2f' "$ls_") s | $(ratio "$ws" "$ls_") |"
echo "| restore peak RSS | $(mib "$wk") | $(mib "$lk") | $(ratio "$wk" "$lk") |"
echo "| live store on disk (pages.dat; SQLite file after a TRUNCATE checkpoint) | $(mb "$w_live") | $(mb "$l_live") | $(ratio "$w_live" "$l_live") |"
echo "| live data directory, all files allocated (du: walship's pages.dat, WAL and marks; SQLite file, -wal and Litestream's local .live.db-litestream) | $(mb "$w_dir") | $(mb "$l_dir") | $(ratio "$w_dir" "$l_dir") |"
echo "| restored store on disk | $(mb "$w_restored_bytes") | $(mb "$l_restored_bytes") | $(ratio "$w_restored_bytes" "$l_restored_bytes") |"
echo "| archive / replica on disk | $(mb "$w_arch") | $(mb "$l_arch") | $(ratio "$w_arch" "$l_arch") |"
echo
echo "Content checked equal in every run: SHA-256 of the sorted key<TAB>value lines $expected."
fi

# --- shared by the write and sync parts: the workload, the clusters, the clients -----------------
# every write stores a value the key does not hold yet: an upsert of an equal value is no write at all
# for walship (no WAL entry, no sync: Store.write), while PostgreSQL writes a new row version either
# way, so a fixed value would let walship's runs after the first pass over the keys skip their syncs.
# Both sides write 100 bytes: 85 fixed characters and 15 digits that change with every request.
prefix="$(printf '%s' "$seed" | sha256sum | cut -c1-50)"
prefix="$prefix$(printf '%s' "$prefix" | cut -c1-35)" # 85 characters
keys=100000
# pg_cluster DIR RUNDIR PORT [SETTINGS]: a fresh PostgreSQL cluster in DIR, started on 127.0.0.1:PORT
# only, its socket and log in RUNDIR; SETTINGS (e.g. "-c fsync=on") are added to the server's options
pg_cluster() {
  local dir="$1" run="$2" port="$3" settings="${4:-}" name
  name="$(basename "$dir")"
  pg_clusters+=("$dir")
  mkdir -p "$dir" "$run"
  [[ $EUID != 0 ]] || chown postgres: "$dir" "$run"
  step "$name-initdb" "${as_pg[@]}" "$pg_bin/initdb" -D "$dir" -U postgres --auth=trust -E UTF8
  step "$name-start" "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$dir" -l "$run/postgresql.log" -w -t 120 \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$run $settings" start
}
# upsert_sql FILE: pgbench's script, an upsert of a 100-byte value on a random key
upsert_sql() {
  cat >"$1" <<SQL
\set k random(1, $keys)
\set v random(1, 999999999999999)
INSERT INTO kv(key, value) VALUES ('k' || :k, '$prefix' || lpad(:v::text, 15, '0')) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
SQL
}
# put_lua FILE: wrk's script, the same upsert as a PUT; `wrk ... URL -- QUERY` appends QUERY (e.g.
# ?sync=async) to every request's path
put_lua() {
  cat >"$1" <<LUA
-- PUT /kv/k<random 1..$keys> (one random stream per thread, seeded) with a 100-byte value no key
-- holds yet: 85 fixed characters, the thread's number, and a counter that starts at this run's
-- start second times 10^7 (runs are seconds apart and make far fewer than 10^7 requests a thread)
local n = 0
function setup(thread) n = n + 1; thread:set("id", n) end
function init(args)
  math.randomseed($seed + id); sent = (os.time() % 100000) * 10000000; query = args[1] or ""
end
function request()
  sent = sent + 1
  return wrk.format("PUT", "/kv/k" .. math.random(1, $keys) .. query, nil, "$prefix" .. string.format("%03d%012d", id, sent))
end
LUA
}
# wrk latency text (e.g. 812.00us, 1.23ms, 1.01s) → ms
to_ms() { awk -v t="$1" 'BEGIN { v = t + 0; if (t ~ /us$/) v /= 1000; else if (t ~ /ms$/) v = v; else if (t ~ /s$/) v *= 1000; printf "%.2f\n", v }'; }
# pgbench_run NAME CONNS PORT SQL: one measured pgbench run of --duration seconds; sets r_tps r_p50 r_p99
# (ms, from its per-transaction log) and r_cpu (its own, % of one core)
pgbench_run() {
  local name="$1" c="$2" port="$3" sql="$4" j=$(( $2 > 1 ? 2 : 1 )) out="$scratch/runs/$1"
  mkdir -p "$out"
  step "$name" /usr/bin/time -v -o "$out/time" "$pg_bin/pgbench" -n -M prepared -c "$c" -j "$j" -T "$duration" \
    -f "$sql" --log --log-prefix="$out/tx" -h 127.0.0.1 -p "$port" -U postgres postgres
  local log="$scratch/logs/$name.log" failed
  r_tps="$(awk '/^tps = / { print $3; exit }' "$log")"
  failed="$(awk '/number of failed transactions/ { print $5; exit }' "$log")"
  [[ -n "$r_tps" ]] || die "pgbench printed no tps (log: $log)"
  [[ -z "$failed" || "$failed" == 0 ]] || die "pgbench: $failed failed transactions (log: $log)"
  read -r r_p50 r_p99 < <(cat "$out"/tx.* | awk '{ print $3 }' | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f %.2f\n", v[int(NR * 0.5) + (NR % 2)] / 1000, v[int(NR * 0.99 + 0.999)] / 1000 }')
  r_cpu="$(cpu_of "$out/time")"
  rm -f "$out"/tx.*
}
# wrk_run NAME CONNS URL LUA [QUERY]: one measured wrk run of --duration seconds, every answer a 2xx;
# sets r_tps r_p50 r_p99 (ms) r_cpu (its own, % of one core) and r_requests (answered)
wrk_run() {
  local name="$1" c="$2" url="$3" lua="$4" query="${5:-}" t=$(( $2 > 1 ? 2 : 1 )) out="$scratch/runs/$1"
  mkdir -p "$out"
  step "$name" /usr/bin/time -v -o "$out/time" wrk -t "$t" -c "$c" -d "${duration}s" --latency -s "$lua" "$url" -- "$query"
  local log="$scratch/logs/$name.log"
  ! grep -q "Non-2xx or 3xx responses" "$log" || die "wrk: walship answered some PUTs with an error (log: $log)"
  ! grep -q "Socket errors" "$log" || die "wrk: socket errors against walship (log: $log)"
  r_tps="$(awk '/^Requests\/sec:/ { print $2; exit }' "$log")"
  r_requests="$(awk '/ requests in / { print $1; exit }' "$log")"
  [[ -n "$r_tps" && -n "$r_requests" ]] || die "wrk printed no Requests/sec or request count (log: $log)"
  r_p50="$(to_ms "$(awk '$1 == "50%" { print $2; exit }' "$log")")"
  r_p99="$(to_ms "$(awk '$1 == "99%" { print $2; exit }' "$log")")"
  r_cpu="$(cpu_of "$out/time")"
}
# metric URL NAME: a walship metric's value (0 if absent)
metric() { curl -fsS "$1/metrics" | awk -v n="$2" '$1 == n { v = $2 } END { printf "%d\n", v }'; }
# wait_port_file PID FILE LOG WHAT: waits (120 s at most) until PID has written its HTTP port to FILE
wait_port_file() {
  local deadline=$((SECONDS + 120))
  until [[ -s "$2" ]]; do
    kill -0 "$1" 2>/dev/null || die "$4 exited (log: $3)"
    (( SECONDS < deadline )) || die "$4: not listening after 120 s (log: $3)"
    sleep 0.2
  done
}

# --- durable single-row writes: PostgreSQL (pgbench) against walship (wrk) ----------------------
if (( do_write )); then
say "write: durable upserts of a 100-byte value on 100,000 keys, 1 and 16 connections, $duration s each"
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
wr="$scratch/write"
mkdir -p "$wr"
[[ $EUID != 0 ]] || chmod 755 "$scratch" "$wr"

# PostgreSQL: a fresh cluster, 127.0.0.1 only
pg_port="$(free_port)"
pg_cluster "$wr/pg" "$wr/pgrun" "$pg_port" "-c synchronous_commit=on -c fsync=on -c max_connections=40"
pg_version="$("$pg_bin/postgres" --version | awk '{ print $3 }')"
step pg-table "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
  -c "CREATE TABLE kv(key text PRIMARY KEY, value text NOT NULL)"
upsert_sql "$wr/upsert.sql"

# walship: a leader, 127.0.0.1 only, each PUT a durable commit
"$walship" leader --data "$wr/walship" --http 127.0.0.1:0 --port-file "$wr/walship.port" >"$scratch/logs/walship-leader.log" 2>&1 &
leader_pid=$!
wait_port_file "$leader_pid" "$wr/walship.port" "$scratch/logs/walship-leader.log" "walship leader"
w_url="http://127.0.0.1:$(cat "$wr/walship.port")"
put_lua "$wr/put.lua"

declare -A res
run_pg() { # run conns
  local i="$1" c="$2"
  pgbench_run "pgbench-$i-$c" "$c" "$pg_port" "$wr/upsert.sql"
  res[pg,$c,tps]+=" $r_tps" res[pg,$c,p50]+=" $r_p50" res[pg,$c,p99]+=" $r_p99" res[pg,$c,cpu]+=" $r_cpu"
  say "run $i, $c connection(s): PostgreSQL $r_tps commits/s, p50 $r_p50 ms, p99 $r_p99 ms"
}
run_walship() { # run conns
  local i="$1" c="$2" before after
  before="$(metric "$w_url" walship_commits_total)"
  wrk_run "wrk-$i-$c" "$c" "$w_url" "$wr/put.lua"
  # every answered PUT must have been a commit of its own (a WAL entry, synced before the answer)
  after="$(metric "$w_url" walship_commits_total)"
  (( after - before >= r_requests )) || { echo "bench-peers.sh: run $i, $c connection(s): walship made $((after - before)) WAL commits for $r_requests answered PUTs" >&2; exit 3; }
  res[w,$c,tps]+=" $r_tps" res[w,$c,p50]+=" $r_p50" res[w,$c,p99]+=" $r_p99" res[w,$c,cpu]+=" $r_cpu"
  say "run $i, $c connection(s): walship $r_tps commits/s, p50 $r_p50 ms, p99 $r_p99 ms"
  # the same upserts in process, as many as HTTP did in its run: the limit HTTP is measured against
  local n ip
  n="$(awk -v r="$r_tps" -v d="$duration" -v c="$c" 'BEGIN { n = int(r * d); if (n < c * 100) n = c * 100; print n }')"
  step "inproc-$i-$c" "$walship" bench write --data "$wr/inproc" --threads "$c" --keys "$keys" --value-size 100 \
    --count "$n" --warmup-run "$n" --no-baseline
  ip="$(awk '$1 == "store" { print $2; exit }' "$scratch/logs/inproc-$i-$c.log")"
  [[ -n "$ip" ]] || die "walship bench write printed no store figure (log: $scratch/logs/inproc-$i-$c.log)"
  res[ip,$c,tps]+=" $ip"
  say "run $i, $c thread(s) in process: walship $ip commits/s"
}
if (( warmup > 0 )); then
  say "warming up both ($warmup s each, 4 connections, unmeasured)..."
  step pgbench-warmup "$pg_bin/pgbench" -n -M prepared -c 4 -j 2 -T "$warmup" -f "$wr/upsert.sql" -h 127.0.0.1 -p "$pg_port" -U postgres postgres
  step wrk-warmup wrk -t 2 -c 4 -d "${warmup}s" -s "$wr/put.lua" "$w_url"
fi
for ((i = 1; i <= runs; i++)); do
  for c in 1 16; do
    if (( i % 2 == 1 )); then run_pg "$i" "$c"; run_walship "$i" "$c"
    else run_walship "$i" "$c"; run_pg "$i" "$c"; fi
  done
done
# shellcheck disable=SC2086
m() { median ${res[$1]}; }

echo
echo "**Durable single-row writes, walship vs PostgreSQL $pg_version** — an upsert of a 100-byte value on a random one of $keys keys, each its own durable commit (PostgreSQL: synchronous_commit=on, fsync on, pgbench -M prepared; walship: PUT /kv/KEY through wrk); $duration s per run after $warmup s of unmeasured warm-up of each, median of $runs run(s); 2 client threads at 16 connections; $(nproc) cores (${cpu:-unknown CPU}), load average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end; $(date -u +%Y-%m-%dT%H:%MZ)."
echo
echo "| connections | PostgreSQL commits/s | p50 ms | p99 ms | pgbench CPU | walship commits/s | p50 ms | p99 ms | wrk CPU | walship / PostgreSQL commits/s | walship in process (threads = connections) | HTTP / in process |"
echo "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
for c in 1 16; do
  echo "| $c | $(printf '%.0f' "$(m pg,$c,tps)") | $(m pg,$c,p50) | $(m pg,$c,p99) | $(m pg,$c,cpu) % | $(printf '%.0f' "$(m w,$c,tps)") | $(m w,$c,p50) | $(m w,$c,p99) | $(m w,$c,cpu) % | $(ratio "$(m w,$c,tps)" "$(m pg,$c,tps)") | $(printf '%.0f' "$(m ip,$c,tps)") | $(ratio "$(m w,$c,tps)" "$(m ip,$c,tps)") |"
done
echo
echo "Runs (commits/s): PostgreSQL 1:${res[pg,1,tps]}, 16:${res[pg,16,tps]}; walship 1:${res[w,1,tps]}, 16:${res[w,16,tps]}; walship in process 1:${res[ip,1,tps]}, 16:${res[ip,16,tps]}. CPU is the client's own, in % of one core (user + system over wall time). In process: \`walship bench write --threads C --keys $keys --value-size 100 --no-baseline\` right after each HTTP run, as many upserts as HTTP made in it, into a fresh store after its own unmeasured warm-up (a fifth of the count, at most 20,000 async upserts, then as many durable upserts at the same threads as are measured: the HTTP leader is measured warm, so its comparator is too)."
fi

# --- base backup: pgBackRest against walship backup ----------------------------------------------
if (( do_backup )); then
say "backup: the same rows and updates in PostgreSQL, pgBackRest full backups against walship backup"
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
bk="$scratch/backup"
mkdir -p "$bk/pgrun" "$bk/pgbackrest/repo" "$bk/pgbackrest/log" "$bk/pgbackrest/lock" "$bk/pgbackrest/spool"
bk_pg="$bk/pg"
pg_clusters+=("$bk_pg")
mkdir -p "$bk_pg"
if [[ $EUID == 0 ]]; then
  chmod 755 "$scratch" "$bk" "$ops"
  chmod 644 "$ops"/*.tsv
  chown -R postgres: "$bk_pg" "$bk/pgrun" "$bk/pgbackrest"
fi
bk_port="$(free_port)"
bk_cfg="$bk/pgbackrest/pgbackrest.conf"
cat >"$bk_cfg" <<CONF
[global]
repo1-path=$bk/pgbackrest/repo
repo1-retention-full=9999
log-path=$bk/pgbackrest/log
lock-path=$bk/pgbackrest/lock
spool-path=$bk/pgbackrest/spool
log-level-console=warn
log-level-file=info
compress-type=zst
compress-level=3
process-max=2
start-fast=y

[bench]
pg1-path=$bk_pg
pg1-port=$bk_port
pg1-socket-path=$bk/pgrun
pg1-user=postgres
CONF
[[ $EUID != 0 ]] || chown postgres: "$bk_cfg"
step bk-initdb "${as_pg[@]}" "$pg_bin/initdb" -D "$bk_pg" -U postgres --auth=trust -E UTF8
step bk-start "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$bk_pg" -l "$bk/pgrun/postgresql.log" -w -t 120 \
  -o "-c listen_addresses=127.0.0.1 -c port=$bk_port -c unix_socket_directories=$bk/pgrun -c archive_mode=on -c wal_level=replica -c max_wal_size=4GB -c archive_command='pgbackrest --config=$bk_cfg --stanza=bench archive-push %p'" start
bk_pg_version="$("$pg_bin/postgres" --version | awk '{ print $3 }')"
bk_psql=("$pg_bin/psql" -h 127.0.0.1 -p "$bk_port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q)
say "PostgreSQL: loading the rows and the updates..."
step bk-load "${bk_psql[@]}" \
  -c "CREATE TABLE kv(key text PRIMARY KEY, value text NOT NULL)" \
  -c "\\copy kv(key, value) from '$ops/rows.tsv'" \
  -c "CREATE TABLE up(n bigserial, key text NOT NULL, value text NOT NULL)" \
  -c "\\copy up(key, value) from '$ops/updates.tsv'" \
  -c "UPDATE kv SET value = u.value FROM (SELECT DISTINCT ON (key) key, value FROM up ORDER BY key, n DESC) u WHERE kv.key = u.key" \
  -c "DROP TABLE up" -c "VACUUM FULL kv" -c "CHECKPOINT"
got="$(timeout "$step_timeout" "${bk_psql[@]}" -At -c "SELECT key || chr(9) || value FROM kv ORDER BY key COLLATE \"C\"" | sha256sum | cut -d' ' -f1)" \
  || die "reading the PostgreSQL table failed"
[[ "$got" == "$expected" ]] || { echo "bench-peers.sh: the PostgreSQL table holds content $got, walship's source $expected: the loads differ" >&2; exit 3; }
pg_db_bytes="$("${bk_psql[@]}" -At -c "SELECT pg_database_size('postgres')")"
pg_table_bytes="$("${bk_psql[@]}" -At -c "SELECT pg_total_relation_size('kv')")"
pg_cluster_bytes="$(du -sb --exclude=pg_wal "$bk_pg" | cut -f1)" # pg_wal is archived, not backed up
step pgbackrest-stanza "${as_pg[@]}" pgbackrest --config="$bk_cfg" --stanza=bench stanza-create
step pgbackrest-check "${as_pg[@]}" pgbackrest --config="$bk_cfg" --stanza=bench check

# "/usr/bin/time -v" file → CPU seconds (user + system, waited-for children included)
cpu_secs_of() { awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { printf "%.2f\n", u + s }' "$1"; }
b_w_secs=() b_w_cpu=() b_w_kib=() b_p_secs=() b_p_cpu=() b_p_kib=()
backup_walship() {
  local i="$1" arch="$bk/walship-archive-$1" t="$scratch/logs/walship-backup-$1.time"
  step "walship-backup-$i" /usr/bin/time -v -o "$t" "$walship" backup --data "$wdir/source" --archive "file://$arch"
  read -r s k < <(time_of "$t") || die "no figures in $t"
  b_w_secs+=("$s"); b_w_kib+=("$k"); b_w_cpu+=("$(cpu_secs_of "$t")"); b_w_bytes="$(tree_bytes "$arch")"
  say "run $i: walship backup $s s, $(cpu_secs_of "$t") s CPU, $(( b_w_bytes / 1000000 )) MB"
  rm -rf "$arch"
}
backup_pgbackrest() {
  local i="$1" t="$scratch/logs/pgbackrest-backup-$1.time" before after label
  before="$(ls "$bk/pgbackrest/repo/backup/bench" 2>/dev/null | grep -E '^[0-9]{8}-[0-9]{6}F$' || true)"
  step "pgbackrest-backup-$i" /usr/bin/time -v -o "$t" "${as_pg[@]}" pgbackrest --config="$bk_cfg" --stanza=bench --type=full backup
  read -r s k < <(time_of "$t") || die "no figures in $t"
  after="$(ls "$bk/pgbackrest/repo/backup/bench" | grep -E '^[0-9]{8}-[0-9]{6}F$' || true)"
  label="$(comm -13 <(printf '%s\n' $before | sort) <(printf '%s\n' $after | sort) | tail -1)"
  [[ -n "$label" ]] || die "pgbackrest backup $i: no new full backup in the repository"
  b_p_secs+=("$s"); b_p_kib+=("$k"); b_p_cpu+=("$(cpu_secs_of "$t")"); b_p_bytes="$(tree_bytes "$bk/pgbackrest/repo/backup/bench/$label")"
  say "run $i: pgBackRest backup $s s, $(cpu_secs_of "$t") s CPU, $(( b_p_bytes / 1000000 )) MB"
}
alternate backup_walship backup_pgbackrest
bws="$(median "${b_w_secs[@]}")" bps="$(median "${b_p_secs[@]}")"
bwc="$(median "${b_w_cpu[@]}")" bpc="$(median "${b_p_cpu[@]}")"
bwk="$(median "${b_w_kib[@]}")" bpk="$(median "${b_p_kib[@]}")"
w_live="$(bytes "$wdir/source/pages.dat")"
echo
echo "**Base backup, walship vs pgBackRest $(pgbackrest version | awk '{ print $2 }') (PostgreSQL $bk_pg_version)** — the data set above ($rows rows of $value_size random base64 bytes after $updates updates, seed $seed), content checked equal; pgBackRest: full backup, zst level 3, process-max 2, start-fast, posix repository on the same disk; walship: \`walship backup --data\` of the stopped store, zstd, into a file:// archive on the same disk; median of $runs run(s); $(nproc) cores (${cpu:-unknown CPU}), load average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end; $(date -u +%Y-%m-%dT%H:%MZ)."
echo
echo "| | walship | pgBackRest | walship / pgBackRest |"
echo "|---|---|---|---|"
echo "| backup wall time (runs: walship $(runs_of "${b_w_secs[@]}"); pgBackRest $(runs_of "${b_p_secs[@]}")) | $(printf '%.2f' "$bws") s | $(printf '%.2f' "$bps") s | $(ratio "$bws" "$bps") |"
echo "| CPU, user + system | $(printf '%.2f' "$bwc") s | $(printf '%.2f' "$bpc") s | $(ratio "$bwc" "$bpc") |"
echo "| peak RSS (pgBackRest: its largest process) | $(mib "$bwk") | $(mib "$bpk") | $(ratio "$bwk" "$bpk") |"
echo "| what is backed up | pages.dat $(mb "$w_live") | the cluster without pg_wal, $(mb "$pg_cluster_bytes") (database $(mb "$pg_db_bytes"), table with index $(mb "$pg_table_bytes")) | $(ratio "$w_live" "$pg_cluster_bytes") |"
echo "| backup size | $(mb "$b_w_bytes") | $(mb "$b_p_bytes") | $(ratio "$b_w_bytes" "$b_p_bytes") |"
fi

# --- commit modes: PostgreSQL with a synchronous standby against walship with a semi-sync follower -
if (( do_sync )); then
say "sync: the write part's upserts on a primary with a streaming standby and on a semi-sync leader with a follower, async and sync alternating, 1 and 16 connections, $duration s each"
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
sy="$scratch/sync"
sb="${standby_dir:-$sy}" # the standby's and the follower's data directories
mkdir -p "$sy" "$sy/pgrun-standby" "$sb/pg-standby"
chmod 700 "$sb/pg-standby"
if [[ $EUID == 0 ]]; then
  chmod 755 "$scratch" "$sy"
  chown postgres: "$sy/pgrun-standby" "$sb/pg-standby"
fi
# wait_for SECONDS WHAT CMD...: polls CMD until it succeeds, at most SECONDS
wait_for() {
  local limit="$1" deadline=$((SECONDS + $1)) what="$2"; shift 2
  until "$@"; do
    (( SECONDS < deadline )) || die "$what: not within $limit s"
    sleep 0.2
  done
}

# PostgreSQL: a primary, and a standby streaming from it (pg_basebackup), both on 127.0.0.1
sy_port="$(free_port)"
# (synchronous_commit is left out here: set on the command line, it would win over ALTER SYSTEM)
pg_cluster "$sy/pg-primary" "$sy/pgrun" "$sy_port" "-c fsync=on -c max_connections=40 -c wal_level=replica -c max_wal_senders=4"
pg_version="$("$pg_bin/postgres" --version | awk '{ print $3 }')"
sy_psql=("$pg_bin/psql" -h 127.0.0.1 -p "$sy_port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q -At)
step pgs-table "${sy_psql[@]}" -c "CREATE TABLE kv(key text PRIMARY KEY, value text NOT NULL)"
upsert_sql "$sy/upsert.sql"
standby="$sb/pg-standby"
pg_clusters+=("$standby")
say "PostgreSQL: pg_basebackup of the primary into $standby, then streaming as s1..."
step pgs-basebackup "${as_pg[@]}" "$pg_bin/pg_basebackup" -h 127.0.0.1 -p "$sy_port" -U postgres -D "$standby" -X stream -c fast
"${as_pg[@]}" touch "$standby/standby.signal"
echo "primary_conninfo = 'host=127.0.0.1 port=$sy_port user=postgres application_name=s1'" \
  | "${as_pg[@]}" tee -a "$standby/postgresql.auto.conf" >/dev/null
st_port="$(free_port)"
step pgs-standby-start "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$standby" -l "$sy/pgrun-standby/postgresql.log" -w -t 120 \
  -o "-c listen_addresses=127.0.0.1 -c port=$st_port -c unix_socket_directories=$sy/pgrun-standby -c hot_standby=on" start
# s1_is STATE: pg_stat_replication shows s1 streaming with sync_state STATE
s1_is() {
  [[ "$("${sy_psql[@]}" -c "SELECT count(*) FROM pg_stat_replication WHERE application_name = 's1' AND state = 'streaming' AND sync_state = '$1'" 2>/dev/null)" == 1 ]]
}
wait_for 120 "PostgreSQL standby s1 streaming" s1_is async
step pgs-sync-names "${sy_psql[@]}" -c "ALTER SYSTEM SET synchronous_standby_names = 's1'" -c "SELECT pg_reload_conf()"
wait_for 60 "PostgreSQL standby s1 synchronous" s1_is sync
# pg_commit_mode on|local: synchronous_commit for every new session (on: the standby's flush too;
# local: the primary's flush only, the standby still streaming)
pg_commit_mode() {
  step "pgs-mode-$1" "${sy_psql[@]}" -c "ALTER SYSTEM SET synchronous_commit = '$1'" -c "SELECT pg_reload_conf()"
  pg_shows() { [[ "$("${sy_psql[@]}" -c "SHOW synchronous_commit")" == "$1" ]]; }
  wait_for 30 "PostgreSQL synchronous_commit = $1" pg_shows "$1"
}

# walship: a semi-sync leader and one follower process (snapshot from the leader, then streaming)
rport="$(free_port)"
"$walship" leader --data "$sy/walship-leader" --http 127.0.0.1:0 --port-file "$sy/leader.port" \
  --repl "127.0.0.1:$rport" --sync-mode semi-sync >"$scratch/logs/walship-sync-leader.log" 2>&1 &
sync_leader_pid=$!
wait_port_file "$sync_leader_pid" "$sy/leader.port" "$scratch/logs/walship-sync-leader.log" "walship leader --sync-mode semi-sync"
sl_url="http://127.0.0.1:$(cat "$sy/leader.port")"
say "walship: a follower in $sb/walship-follower..."
"$walship" follow --data "$sb/walship-follower" --leader "127.0.0.1:$rport" --leader-url "$sl_url" \
  --http 127.0.0.1:0 --port-file "$sy/follower.port" >"$scratch/logs/walship-follower.log" 2>&1 &
follower_pid=$!
wait_port_file "$follower_pid" "$sy/follower.port" "$scratch/logs/walship-follower.log" "walship follow"
one_follower() { [[ "$(metric "$sl_url" walship_replication_followers)" == 1 ]]; }
wait_for 120 "walship follower connected to the leader" one_follower
put_lua "$sy/put.lua"
# sync_answer QUERY: the Walship-Sync header of one PUT with QUERY
sync_answer() {
  curl -fsS -o /dev/null -D - -X PUT --data-binary probe --max-time 60 "$sl_url/kv/probe$1" \
    | tr -d '\r' | awk -F': ' 'tolower($1) == "walship-sync" { print $2 }'
}
[[ "$(sync_answer "")" == semi-sync ]] || die "walship: a PUT on the semi-sync leader was not answered semi-sync (log: $scratch/logs/walship-sync-leader.log)"

declare -A sres
sres_add() { # KEY: the r_* figures of a run
  sres[$1,tps]+=" $r_tps" sres[$1,p50]+=" $r_p50" sres[$1,p99]+=" $r_p99"
}
sync_pg() { # run conns on|local
  local i="$1" c="$2" mode="$3"
  pg_commit_mode "$mode"
  pgbench_run "pgs-$mode-$i-$c" "$c" "$sy_port" "$sy/upsert.sql"
  sres_add "pg-$mode,$c"
  s1_is sync || die "PostgreSQL: standby s1 is no longer a streaming synchronous standby after run $i"
  say "run $i, $c connection(s): PostgreSQL synchronous_commit=$mode $r_tps commits/s, p50 $r_p50 ms, p99 $r_p99 ms"
}
sync_walship() { # run conns semi-sync|async
  local i="$1" c="$2" mode="$3" query="" before after deg_before deg_after
  [[ $mode == semi-sync ]] || query="?sync=$mode"
  [[ "$(sync_answer "$query")" == "$mode" ]] || die "walship: a PUT with '$query' was not answered $mode before run $i"
  before="$(metric "$sl_url" walship_commits_total)" deg_before="$(metric "$sl_url" walship_sync_degradations_total)"
  wrk_run "ws-$mode-$i-$c" "$c" "$sl_url" "$sy/put.lua" "$query"
  after="$(metric "$sl_url" walship_commits_total)" deg_after="$(metric "$sl_url" walship_sync_degradations_total)"
  (( after - before >= r_requests )) || { echo "bench-peers.sh: run $i, $c connection(s), $mode: walship made $((after - before)) WAL commits for $r_requests answered PUTs" >&2; exit 3; }
  # a degraded answer waited for no follower: a semi-sync run must have none
  (( deg_after == deg_before )) && [[ "$(metric "$sl_url" walship_sync_degraded)" == 0 ]] \
    || { echo "bench-peers.sh: run $i, $c connection(s), $mode: the leader degraded to async (log: $scratch/logs/walship-sync-leader.log)" >&2; exit 3; }
  sres_add "w-$mode,$c"
  say "run $i, $c connection(s): walship $mode $r_tps commits/s, p50 $r_p50 ms, p99 $r_p99 ms"
}
if (( warmup > 0 )); then
  say "warming up both ($warmup s each, 4 connections, unmeasured, sync modes)..."
  pg_commit_mode on
  step pgs-warmup "$pg_bin/pgbench" -n -M prepared -c 4 -j 2 -T "$warmup" -f "$sy/upsert.sql" -h 127.0.0.1 -p "$sy_port" -U postgres postgres
  step ws-warmup wrk -t 2 -c 4 -d "${warmup}s" -s "$sy/put.lua" "$sl_url"
fi
# run i: PostgreSQL async, sync, walship async, semi-sync in odd runs; the reverse in even runs
for ((i = 1; i <= runs; i++)); do
  for c in 1 16; do
    if (( i % 2 == 1 )); then
      sync_pg "$i" "$c" local; sync_pg "$i" "$c" on; sync_walship "$i" "$c" async; sync_walship "$i" "$c" semi-sync
    else
      sync_walship "$i" "$c" semi-sync; sync_walship "$i" "$c" async; sync_pg "$i" "$c" on; sync_pg "$i" "$c" local
    fi
  done
done
# shellcheck disable=SC2086
sm() { median ${sres[$1]}; }
# per-run ratios A / B of the figures under keys A and B
run_ratios() {
  local -a a=(${sres[$1]}) b=(${sres[$2]}) out=() k
  for k in "${!a[@]}"; do out+=("$(ratio "${a[$k]}" "${b[$k]}")"); done
  runs_of "${out[@]}"
}
where="the same disk as the primary's and the leader's ($sb)"
[[ -z "$standby_dir" ]] || where="$standby_dir ($(df --output=fstype "$standby_dir" | tail -1); the primary and the leader on the scratch dir's disk, $(df --output=fstype "$scratch" | tail -1))"

echo
echo "**Commit modes, walship vs PostgreSQL $pg_version, one standby / follower** — the write part's upsert of a 100-byte value on a random one of $keys keys, each its own durable commit. PostgreSQL: a primary (synchronous_commit as below, fsync on, pgbench -M prepared) and a standby made by pg_basebackup, streaming as application_name s1 (hot_standby), synchronous_standby_names='s1'; async is synchronous_commit=local (the standby still streams), sync is synchronous_commit=on (the standby's flush), switched before each run by ALTER SYSTEM + pg_reload_conf(). walship: \`walship leader --sync-mode semi-sync --repl\` and one \`walship follow\` process (bootstrapped from the leader's snapshot, streaming), PUT /kv/KEY through wrk; async is \`?sync=async\` on every PUT to the same leader, semi-sync the leader's mode (each answer checked: no degraded answers). Standby's and follower's data on $where. $duration s per run after $warmup s of unmeasured warm-up of each (in the sync modes), median of $runs run(s), the modes alternating; 2 client threads at 16 connections; $(nproc) cores (${cpu:-unknown CPU}), load average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end; $(date -u +%Y-%m-%dT%H:%MZ)."
echo
echo "| connections | PostgreSQL async commits/s | p50 ms | p99 ms | PostgreSQL sync standby commits/s | p50 ms | p99 ms | PostgreSQL sync / async | walship async commits/s | p50 ms | p99 ms | walship semi-sync commits/s | p50 ms | p99 ms | walship semi-sync / async |"
echo "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
for c in 1 16; do
  echo "| $c | $(printf '%.0f' "$(sm pg-local,$c,tps)") | $(sm pg-local,$c,p50) | $(sm pg-local,$c,p99) | $(printf '%.0f' "$(sm pg-on,$c,tps)") | $(sm pg-on,$c,p50) | $(sm pg-on,$c,p99) | **$(ratio "$(sm pg-on,$c,tps)" "$(sm pg-local,$c,tps)")** | $(printf '%.0f' "$(sm w-async,$c,tps)") | $(sm w-async,$c,p50) | $(sm w-async,$c,p99) | $(printf '%.0f' "$(sm w-semi-sync,$c,tps)") | $(sm w-semi-sync,$c,p50) | $(sm w-semi-sync,$c,p99) | **$(ratio "$(sm w-semi-sync,$c,tps)" "$(sm w-async,$c,tps)")** |"
done
echo
echo "Runs (commits/s): PostgreSQL async 1:${sres[pg-local,1,tps]}, 16:${sres[pg-local,16,tps]}; sync 1:${sres[pg-on,1,tps]}, 16:${sres[pg-on,16,tps]}; walship async 1:${sres[w-async,1,tps]}, 16:${sres[w-async,16,tps]}; semi-sync 1:${sres[w-semi-sync,1,tps]}, 16:${sres[w-semi-sync,16,tps]}. Sync / async run by run: PostgreSQL 1: $(run_ratios pg-on,1,tps pg-local,1,tps), 16: $(run_ratios pg-on,16,tps pg-local,16,tps); walship 1: $(run_ratios w-semi-sync,1,tps w-async,1,tps), 16: $(run_ratios w-semi-sync,16,tps w-async,16,tps). Ratios in the table are of the medians."
fi
