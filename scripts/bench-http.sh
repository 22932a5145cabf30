#!/usr/bin/env bash
# The HTTP path (issue 13): `walship leader` builds (by default this checkout's, "jetty"; more with
# --server NAME=JAR[@JAVA_OPTS], e.g. jdk=cli/target/walship.jar@-Dwalship.http.server=jdk for the
# JDK's HttpServer, or a build of another commit),
# all started at once on their own data directories and warmed, then measured one after the other
# in alternating order (so that each ratio between them comes from the same minute), each run:
#   * wrk PUTs of a 100-byte value on 100,000 random keys (each a durable commit; the Lua script of
#     scripts/bench-peers.sh) at 1 connection (1 wrk thread) and 16 connections (2 wrk threads);
#   * the same 16-connection wrk run while --idle keep-alive connections (default 1,000) sit open
#     after one GET /status each: PUTs/s, then how many of those connections still answer a second
#     GET /status, the leader's peak RSS and thread count (the
#     idle case runs after the throughput figures of its run);
#   * `walship bench write --threads C --keys 100000 --value-size 100 --no-baseline`, the same upserts
#     in process (C = 1 and 16), the limit HTTP is measured against.
# Prints one markdown table of medians and the ratios from the same runs. wrk's own CPU (user+system
# over wall time, % of one core) is shown: on 2 cores it takes from the server.
#
# Each leader gets --warmup seconds of wrk at 4 connections first (the JIT is still compiling for
# tens of seconds on a busy 2-core machine). The in-process figures use the first server's jar.
#
# Usage: scripts/bench-http.sh [--runs 3] [--duration 10] [--warmup 30] [--idle 1000] [--server NAME=JAR[@OPTS]]...
# Needs wrk and python3. Everything listens on 127.0.0.1; scratch in a temp dir, removed on exit.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs=3 duration=10 warmup=30 idle=1000 keys=100000
declare -a names=() jars=() opts=()
usage() { echo "bench-http.sh: $*" >&2; exit 2; }
while (( $# )); do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --idle) idle="$2"; shift 2 ;;
    --server) [[ "$2" == *=* ]] || usage "--server NAME=JAR"; names+=("${2%%=*}"); j="${2#*=}"; jars+=("${j%%@*}")
      if [[ "$j" == *@* ]]; then opts+=("${j#*@}"); else opts+=(""); fi; shift 2 ;;
    *) usage "unknown option '$1'" ;;
  esac
done
command -v wrk >/dev/null || usage "needs wrk on PATH (apt-get install wrk)"
command -v python3 >/dev/null || usage "needs python3"
if (( ${#names[@]} == 0 )); then names=(jetty); jars=("$here/cli/target/walship.jar"); opts=(""); fi
for j in "${jars[@]}"; do
  [[ -f "$j" ]] || usage "no jar at $j (mvn -DskipTests package, or ./walship --help builds it)"
  [[ -f "$(dirname "$j")/jvm.flags" ]] || usage "no jvm.flags beside $j"
done
scratch="$(mktemp -d)"
cleanup() { rm -rf "$scratch"; }
trap 'cleanup' EXIT
say() { echo "bench-http: $*" >&2; }
# shellcheck disable=SC2046
walship() { local j="$1"; shift; java $(cat "$(dirname "$j")/jvm.flags") -jar "$j" "$@"; }

# a 100-byte value no key holds yet on every PUT (as in bench-peers.sh): an upsert of an equal value
# writes and syncs nothing in walship, so a fixed value measured no-ops once the keys were written
prefix="$(printf '%s' 42 | sha256sum | cut -c1-50)"; prefix="$prefix$(printf '%s' "$prefix" | cut -c1-35)" # 85
cat >"$scratch/put.lua" <<LUA
local n = 0
function setup(thread) n = n + 1; thread:set("id", n) end
function init(args) math.randomseed(42 + id); sent = (os.time() % 100000) * 10000000 end
function request()
  sent = sent + 1
  return wrk.format("PUT", "/kv/k" .. math.random(1, $keys), nil, "$prefix" .. string.format("%03d%012d", id, sent))
end
LUA
cat >"$scratch/idle.py" <<'PY'
# hold N keep-alive connections open after one GET /status each; on stdin EOF, one more GET on each
import socket, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
req = b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
def answer(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        c = s.recv(65536)
        if not c:
            return False
        buf += c
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(rest) < length:
        c = s.recv(65536)
        if not c:
            return False
        rest += c
    return head.startswith(b"HTTP/1.1 200")
socks, first = [], 0
for i in range(n):
    s = socket.create_connection((host, port))
    s.settimeout(30)
    try:
        s.sendall(req)
        if answer(s):
            first += 1
    except OSError:
        pass
    socks.append(s)
print("open", first, flush=True)
sys.stdin.read()
alive = 0
for s in socks:
    try:
        s.sendall(req)
        if answer(s):
            alive += 1
    except OSError:
        pass
print("alive", alive, flush=True)
PY

declare -A res
add() { res[$1]+=" $2"; }
med() { tr ' ' '\n' <<<"${res[$1]:-}" | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f\n", a / b }'; }
cpu() { awk '{ if ($3 > 0) printf "%.0f\n", ($1 + $2) * 100 / $3; else print 0 }' "$1"; }
commits_now() { curl -fsS "$url/metrics" | awk '$1 == "walship_commits_total" { v = $2 } END { printf "%d\n", v }'; }
run_wrk() { # server conns key
  local t=$(( $2 > 1 ? 2 : 1 )) log="$scratch/wrk.log"
  local before; before="$(commits_now)"
  /usr/bin/time -f "%U %S %e" -o "$scratch/wrk.time" wrk -t "$t" -c "$2" -d "${duration}s" -s "$scratch/put.lua" "$url" >"$log" 2>&1
  ! grep -q "Non-2xx" "$log" || { cat "$log" >&2; say "wrk saw error answers from $1"; exit 1; }
  # a socket error is a connection the server closed under wrk (the JDK server closes a keep-alive
  # connection after its answer while more than 200 are idle): counted, not fatal
  local errs; errs="$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$log")"
  add "$1,$3,errors" "${errs:-0}"
  # every answered PUT must have been a WAL commit of its own
  local after requests; after="$(commits_now)"; requests="$(awk '/ requests in / { print $1; exit }' "$log")"
  (( after - before >= requests )) || { say "$1: $((after - before)) WAL commits for $requests answered PUTs"; exit 3; }
  local rps; rps="$(awk '/^Requests\/sec:/ { print $2 }' "$log")"
  add "$1,$3" "$rps"; add "$1,$3,cpu" "$(cpu "$scratch/wrk.time")"
  last="$rps"
}
peak() { # pid: VmHWM (MiB) and threads
  awk '/^VmHWM:/ { m = $2 } /^Threads:/ { t = $2 } END { printf "%.0f %d\n", m / 1024, t }' "/proc/$1/status"
}
inproc() { # threads key run
  local n=$(( $1 * 20000 ))
  walship "${jars[0]}" bench write --data "$scratch/inproc-$3" --threads "$1" --keys "$keys" --value-size 100 \
    --count "$n" --no-baseline >"$scratch/inproc.log" 2>&1 || { cat "$scratch/inproc.log" >&2; exit 1; }
  local ip; ip="$(awk '$1 == "store" { print $2; exit }' "$scratch/inproc.log")"
  add "inproc,$2" "$ip"; rm -rf "$scratch/inproc-$3"
  last="$ip"
}
start_leader() { # index
  local k="$1" j="${jars[$1]}"
  # shellcheck disable=SC2046
  java $(cat "$(dirname "$j")/jvm.flags") ${opts[k]} -jar "$j" leader --data "$scratch/data-$k" --http 127.0.0.1:0 \
    --port-file "$scratch/port-$k" >"$scratch/leader-$k.log" 2>&1 &
  pids[k]=$!
  for _ in $(seq 600); do [[ -s "$scratch/port-$k" ]] && break; sleep 0.1; done
  [[ -s "$scratch/port-$k" ]] || { cat "$scratch/leader-$k.log" >&2; say "leader ${names[k]} did not start"; exit 1; }
  urls[k]="http://127.0.0.1:$(cat "$scratch/port-$k")"
}
idle_case() { # index run
  local k="$1" s="${names[$1]}" open alive mem threads
  url="${urls[k]}"
  coproc IDLE { python3 "$scratch/idle.py" 127.0.0.1 "${url##*:}" "$idle"; }
  read -r _ open <&"${IDLE[0]}"
  run_wrk "$s" 16 idle
  read -r mem threads < <(peak "${pids[k]}")
  exec {IDLE[1]}>&-
  read -r _ alive <&"${IDLE[0]}"
  wait "$IDLE_PID" 2>/dev/null || true
  add "$s,open" "$open"; add "$s,alive" "$alive"; add "$s,rss" "$mem"; add "$s,threads" "$threads"
  say "run $2 $s: 16 connections beside $idle idle ones $last/s with $(tr ' ' '\n' <<<"${res[$s,idle,errors]}" | tail -1) socket errors (idle answered $open, alive after $alive), peak RSS $mem MiB, $threads threads"
}
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
declare -a pids=() urls=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done; rm -rf "$scratch"; }
for k in "${!names[@]}"; do start_leader "$k"; done
for k in "${!names[@]}"; do wrk -t 2 -c 4 -d "${warmup}s" -s "$scratch/put.lua" "${urls[k]}" >/dev/null; done
say "leaders up and warmed (${warmup} s each): ${names[*]}"
for ((i = 1; i <= runs; i++)); do
  order=("${!names[@]}")
  if (( i % 2 == 0 )); then for ((k = 0; k < ${#names[@]}; k++)); do order[k]=$(( ${#names[@]} - 1 - k )); done; fi
  for c in 1 16; do
    for k in "${order[@]}"; do
      url="${urls[k]}"; run_wrk "${names[k]}" "$c" "c$c"; say "run $i ${names[k]}: $c connection(s) $last/s"
    done
  done
  inproc 1 c1 "$i"; a="$last"; inproc 16 c16 "$i"; b="$last"
  say "run $i in process: 1 thread $a/s, 16 threads $b/s"
  for s in "${names[@]}"; do # ratios from the same run
    for c in c1 c16; do
      add "$s,$c,ratio" "$(ratio "$(tr ' ' '\n' <<<"${res[$s,$c]}" | tail -1)" "$(tr ' ' '\n' <<<"${res[inproc,$c]}" | tail -1)")"
    done
  done
  for k in "${order[@]}"; do idle_case "$k" "$i"; done
done
echo "**HTTP server: ${names[*]}** — durable PUTs of a 100-byte value on $keys random keys (wrk, $duration s per figure after $warmup s of warm-up), median of $runs run(s), alternating; $(nproc) cores, load average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end; $(date -u +%Y-%m-%dT%H:%MZ)."
echo
echo "| server | PUTs/s, 1 conn | HTTP / in process, 1 | PUTs/s, 16 conns | HTTP / in process, 16 | wrk CPU at 16 | PUTs/s, 16 conns beside $idle idle | wrk socket errors then | idle conns alive after | peak RSS MiB | threads |"
echo "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
for s in "${names[@]}"; do
  echo "| $s | $(med "$s,c1") | $(med "$s,c1,ratio") | $(med "$s,c16") | $(med "$s,c16,ratio") | $(med "$s,c16,cpu") % | $(med "$s,idle") | $(med "$s,idle,errors") | $(med "$s,alive") of $idle | $(med "$s,rss") | $(med "$s,threads") |"
done
echo "| in process (bench write) | $(med inproc,c1) | | $(med inproc,c16) | | | | | | | |"
echo
echo "Runs: $(for k in inproc,c1 inproc,c16; do printf '%s:%s; ' "$k" "${res[$k]:-}"; done; for s in "${names[@]}"; do for k in c1 c16 idle; do printf '%s:%s; ' "$s,$k" "${res[$s,$k]:-}"; done; done)"
