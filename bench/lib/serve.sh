# Shell functions shared by bench/soak and bench/costliest (sourced, not run): the release
# binary, fresh databases, servers started and always stopped by their PID.
#
# The sourcing script sets ROOT (the repository) and WORK (its temporary directory) and calls
# `serve_init NAME`, which installs the EXIT/INT/TERM traps.

PASSWORD=bench-password-not-secret
GRANTD=${GRANTD_BIN:-$ROOT/target/release/grantd}
PIDS=()
LOG_NAME=bench

log() { printf '\033[1m[%s %s]\033[0m %s\n' "$LOG_NAME" "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Stops one process this script started: SIGTERM, then SIGKILL after 10 s.
stop_pid() {
    local pid=$1
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# run_child CMD...: runs CMD in the background, stopped on exit like the servers, and waits for
# it. (A foreground child would hold off this shell's INT/TERM trap until it ended by itself.)
run_child() {
    "$@" &
    local pid=$!
    PIDS+=("$pid")
    wait "$pid"
}

serve_cleanup() {
    local status=$?
    # A child script (bench/soak --engine, under scripts/with-postgres) first: it stops its own
    # servers, and scripts/with-postgres then stops its cluster as the command it ran ended.
    if [ -n "${CHILD_PIDFILE:-}" ] && [ -s "$CHILD_PIDFILE" ]; then
        stop_pid "$(cat "$CHILD_PIDFILE")"
        # Its parents (scripts/with-postgres) end by themselves, cleaning up: up to 30 s.
        for _ in $(seq 300); do
            local alive=0 pid
            for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
            [ "$alive" = 1 ] || break
            sleep 0.1
        done
    fi
    # The newest first: the load before the servers it is loading.
    local i
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
    [ -z "${CHILD_PIDFILE:-}" ] || rm -f "$CHILD_PIDFILE"
    if [ -n "${OWN_WORK:-}" ] && [ -d "$OWN_WORK" ]; then
        if [ "${BENCH_KEEP:-0}" = 1 ]; then log "kept $OWN_WORK"; else rm -rf "$OWN_WORK"; fi
    fi
    exit "$status"
}

serve_init() { # serve_init LOG_NAME: traps that stop every started process on any exit
    LOG_NAME=$1
    trap serve_cleanup EXIT
    trap 'exit 130' INT TERM
}

# Builds the release binary unless GRANTD_BIN names another one (bounded: a build that takes
# over SOAK_BUILD_TIMEOUT seconds, default 40 minutes, fails).
build_grantd() {
    if [ -n "${GRANTD_BIN:-}" ]; then
        [ -x "$GRANTD" ] || die "GRANTD_BIN=$GRANTD is not an executable"
        log "using GRANTD_BIN=$GRANTD"
        return 0
    fi
    log "cargo build --release --bin grantd"
    timeout "${SOAK_BUILD_TIMEOUT:-2400}" cargo build --release --locked --bin grantd ||
        die "cargo build --release failed or timed out"
}

# A grantd management command, bounded in time; sqlx's notices are noise here.
grantd_cmd() { GRANTD_LOG=warn timeout 120 "$GRANTD" "$@"; }

pg_admin() { PGOPTIONS='-c client_min_messages=warning' timeout 60 psql -v ON_ERROR_STOP=1 -qAtX "$GRANTD_TEST_POSTGRES" "$@"; }

new_database() { # new_database ENGINE NAME: prints the URL of a fresh, empty database
    case $1 in
    sqlite)
        rm -f "$WORK/$2.db" "$WORK/$2.db-wal" "$WORK/$2.db-shm"
        echo "sqlite://$WORK/$2.db"
        ;;
    postgres)
        [ -n "${GRANTD_TEST_POSTGRES:-}" ] || die "PostgreSQL runs under scripts/with-postgres"
        pg_admin -c "DROP DATABASE IF EXISTS $2" -c "CREATE DATABASE $2"
        echo "${GRANTD_TEST_POSTGRES%/*}/$2"
        ;;
    *) die "unknown engine $1 (sqlite or postgres)" ;;
    esac
}

# Migrates URL and adds the bench user and app (grantd generates the secret; --json prints
# it); sets CLIENT_ID and CLIENT_SECRET.
prepare_database() {
    local url=$1 app
    grantd_cmd migrate --db "$url" >/dev/null
    printf '%s\n' "$PASSWORD" | grantd_cmd user add bench --password-stdin --db "$url" >/dev/null
    app=$(grantd_cmd app add --owner bench --name bench --url https://bench.example --db "$url" --json)
    CLIENT_ID=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])' <<<"$app")
    CLIENT_SECRET=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])' <<<"$app")
}

# start_server NAME DIR CMD...: starts CMD, waits (up to 120 s) for its "listening" line and
# its first /healthz 200, and sets SERVER_PID and SERVER_ADDR.
start_server() {
    local name=$1 dir=$2
    shift 2
    local since=$EPOCHREALTIME
    "$@" >"$dir/$name.out" 2>>"$dir/$name.err" &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    local ready
    ready=$(python3 "$ROOT/bench/lib/ready.py" --since "$since" --pid "$SERVER_PID" \
        --stdout "$dir/$name.out" --stderr "$dir/$name.err" --name grantd --timeout 120)
    read -r SERVER_ADDR _ <<<"$ready"
}

# Warnings and errors in a grantd log: their count on stdout, the first ones on stderr.
log_problems() {
    local file=$1 count
    count=$(grep -cE '^[^ ]+ +(WARN|ERROR) ' "$file" || true)
    if [ "${count:-0}" -gt 0 ]; then
        log "!!! $file: $count warnings/errors, first ones:"
        grep -E '^[^ ]+ +(WARN|ERROR) ' "$file" | head -n 5 >&2 || true
    fi
    echo "${count:-0}"
}

machine_facts() { # key=value arguments for jsonl.py
    local commit
    commit=$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
    if [ -n "$(git -C "$ROOT" status --porcelain -- src Cargo.toml Cargo.lock migrations 2>/dev/null)" ]; then
        commit="$commit+uncommitted changes"
    fi
    printf '%s\n' "nproc=$(nproc)" "cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)" \
        "kernel=$(uname -sr)" "commit=$commit" "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
        "binary=${GRANTD_BIN:-target/release/grantd}" "load_avg=$(cut -d' ' -f1-3 /proc/loadavg)" \
        "grantd=$("$GRANTD" --version 2>/dev/null || echo unknown)"
}
