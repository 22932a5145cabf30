#!/usr/bin/env bash
# A local MinIO for walship's S3 tests and demos, listening on 127.0.0.1 only.
#
#   scripts/minio.sh start   start MinIO (data under target/minio/), create the test bucket
#   scripts/minio.sh stop    stop it
#   scripts/minio.sh env     print the environment that points walship and its tests at it
#
# The binary: `minio` on PATH if there is one; else, where Go is installed, a pinned MinIO built
# from source with `go install` (the community edition is distributed as source only) and cached
# in ${WALSHIP_CACHE:-~/.cache/walship}; else this script explains how to run MinIO with Docker.
# Settings: MINIO_PORT (9000), WALSHIP_TEST_BUCKET (walship-test), MINIO_START_TIMEOUT (seconds, 120).
#
# Exit codes of start: 0 MinIO is ready (/minio/health/ready) and the bucket exists; 4 no MinIO
# binary could be had (none on PATH, no Go, or the build failed) — the only case CI may skip;
# 1 MinIO was there but did not start, did not become ready or refused the bucket before the
# deadline — the MinIO this run started is stopped again.
set -euo pipefail

MINIO_MODULE="github.com/minio/minio"
# Pinned: the module proxy's pseudo-version of MinIO's 2026-02-12 master (go install cannot
# take MinIO's RELEASE.* tags, which are not semantic versions).
MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="$root/target/minio"
port="${MINIO_PORT:-9000}"
bucket="${WALSHIP_TEST_BUCKET:-walship-test}"
user="walship-test"
password="walship-test-secret"
cache="${WALSHIP_CACHE:-$HOME/.cache/walship}/minio-$MINIO_VERSION"

die() { echo "minio.sh: $*" >&2; exit 1; }
unavailable() { echo "minio.sh: $*" >&2; exit 4; }

find_minio() {
  if command -v minio >/dev/null 2>&1; then command -v minio; return; fi
  if [[ -x "$cache/minio" ]]; then echo "$cache/minio"; return; fi
  if command -v go >/dev/null 2>&1; then
    echo "minio.sh: building MinIO $MINIO_VERSION from source (once; cached in $cache)..." >&2
    mkdir -p "$cache"
    GOBIN="$cache" go install "$MINIO_MODULE@$MINIO_VERSION" >&2 \
      || unavailable "go install $MINIO_MODULE@$MINIO_VERSION failed (see above)"
    echo "$cache/minio"; return
  fi
  cat >&2 <<MSG
minio.sh: no 'minio' on PATH and no Go toolchain to build it. Either install Go (https://go.dev/dl)
and rerun, or run MinIO with Docker and point walship at it:
  docker run -d -p 127.0.0.1:$port:9000 -e MINIO_ROOT_USER=$user -e MINIO_ROOT_PASSWORD=$password \\
    quay.io/minio/minio server /data
  eval "\$(scripts/minio.sh env)"
MSG
  exit 4
}

running() { [[ -f "$state/minio.pid" ]] && kill -0 "$(cat "$state/minio.pid")" 2>/dev/null; }

print_env() {
  cat <<ENV
export WALSHIP_TEST_S3_ENDPOINT=http://127.0.0.1:$port
export WALSHIP_TEST_S3_ACCESS_KEY=$user
export WALSHIP_TEST_S3_SECRET_KEY=$password
export AWS_ACCESS_KEY_ID=$user
export AWS_SECRET_ACCESS_KEY=$password
export AWS_REGION=us-east-1
# archive URI for walship: s3://$bucket/PREFIX?endpoint=http://127.0.0.1:$port&path-style=true
ENV
}

case "${1:-}" in
  start)
    if running; then echo "minio.sh: already running (pid $(cat "$state/minio.pid"))" >&2; print_env; exit 0; fi
    bin="$(find_minio)" || exit $?
    mkdir -p "$state/data"
    MINIO_ROOT_USER="$user" MINIO_ROOT_PASSWORD="$password" MINIO_BROWSER=off \
      nohup "$bin" server "$state/data" --address "127.0.0.1:$port" --quiet > "$state/minio.log" 2>&1 &
    echo $! > "$state/minio.pid"
    # from here on, a failure stops the MinIO this run started
    fail() {
      echo "minio.sh: $* (log: $state/minio.log: $(tail -3 "$state/minio.log" 2>/dev/null | tr '\n' ' '))" >&2
      if running; then kill "$(cat "$state/minio.pid")" 2>/dev/null || true; fi
      rm -f "$state/minio.pid"
      exit 1
    }
    deadline=$(( $(date +%s) + ${MINIO_START_TIMEOUT:-120} ))
    # live answers as soon as the process listens; ready only once the object layer can serve
    until curl -sf "http://127.0.0.1:$port/minio/health/ready" >/dev/null; do
      running || fail "MinIO exited before it was ready"
      (( $(date +%s) < deadline )) || fail "MinIO was not ready on 127.0.0.1:$port within ${MINIO_START_TIMEOUT:-120}s"
      sleep 0.2
    done
    # create the bucket (SigV4-signed PUT; 409 = it exists already); a busy MinIO may still answer
    # 503 for a while after ready, so retry until the deadline
    while :; do
      code=$(curl -s -o "$state/bucket.out" -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" \
        --user "$user:$password" -X PUT "http://127.0.0.1:$port/$bucket") || code=000
      [[ "$code" == 200 || "$code" == 409 ]] && break
      running || fail "MinIO exited while creating bucket $bucket"
      (( $(date +%s) < deadline )) \
        || fail "creating bucket $bucket failed: HTTP $code $(head -c 300 "$state/bucket.out" 2>/dev/null | tr '\n' ' ')"
      sleep 0.5
    done
    echo "minio.sh: MinIO on 127.0.0.1:$port (pid $(cat "$state/minio.pid")), bucket $bucket, data in $state/data" >&2
    print_env
    ;;
  stop)
    if running; then kill "$(cat "$state/minio.pid")"; for _ in $(seq 1 50); do running || break; sleep 0.1; done; fi
    rm -f "$state/minio.pid"
    ;;
  env)
    print_env
    ;;
  *)
    echo "usage: scripts/minio.sh start|stop|env" >&2; exit 2
    ;;
esac
