#!/usr/bin/env bash
# The release server as its own process, loaded by wrk (a separate load generator on the same
# machine), against the HTTP ceiling measured the same way in the same run: a minimal
# actix-web handler that parses the same JSON (`booking-bench ceiling --serve`). Runs, in turn:
# ceiling, book, ceiling, book (each book run on slots of its own; the first keeps the ids it
# booked, the second spares wrk that work), ceiling, GET /appointment over the first run's
# appointments; then prints one line per run and the server's peak RSS.
#
#   cargo build --release -p booking-bench -p booking-http
#   crates/booking-bench/wrk/run.sh [SECONDS]      # CONNECTIONS=64, RUST_LOG=info by default
#   SERVER=/path/to/other/booking-http crates/booking-bench/wrk/run.sh   # another build
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/fresh crates/booking-bench/wrk/run.sh
#       # the server on that (fresh) PostgreSQL database, and first, as PostgreSQL's own
#       # reference, pgbench running a one-statement booking (pgbench.sql) with CONNECTIONS clients
#
# Needs wrk (Debian: apt-get install wrk), and pgbench for PostgreSQL. The server has 20
# resources open 09:00-17:00 with 30-minute slots, SQLite with synchronous = FULL (unless
# DATABASE_URL names PostgreSQL), and its rate limit off.
set -euo pipefail
cd "$(dirname "$0")/../../.."
seconds=${1:-10}
connections=${CONNECTIONS:-64}
threads=2
bin=target/release
scripts=crates/booking-bench/wrk
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait; rm -rf "$work"' EXIT

for r in $(seq 0 19); do printf '[[resources]]\nslug = "r%d"\nname = "R%d"\n\n' "$r" "$r"; done \
  > "$work/bench.toml"

address_in() {
  for _ in $(seq 1 200); do
    if grep -q 'listening on http://' "$1"; then
      grep -o 'listening on http://[0-9.:]*' "$1" | head -1 | sed 's/listening on //'
      return
    fi
    sleep 0.05
  done
  echo "no address in $1:" >&2; cat "$1" >&2; exit 1
}

database=${DATABASE_URL:-sqlite://$work/bench.db}
if [ "${database#postgres}" != "$database" ]; then
  # The server talks to a database on this machine's loopback address without TLS unless the
  # URL asks for it (it protects nothing there); pgbench, its reference, and any other build
  # loaded with SERVER, do the same.
  case "$database" in
    *sslmode=*) ;;
    *@127.*|*@localhost[:/]*|*@\[::1\]*) export PGSSLMODE=${PGSSLMODE:-disable} ;;
  esac
  # PostgreSQL's own rate for a booking with none of the service's rules: one statement that
  # takes a place in a slot counter guarded by its capacity and inserts the appointment.
  psql -q -v ON_ERROR_STOP=1 "$database" -f "$scripts/pgbench-setup.sql"
  pgbench -n -c "$connections" -j "$threads" -T "$seconds" -f "$scripts/pgbench.sql" "$database" \
    > "$work/pgbench.txt" 2>&1 || { cat "$work/pgbench.txt" >&2; exit 1; }
  awk '/^latency average|^tps/ {print "pgbench   ", $0}' "$work/pgbench.txt"
  psql -q -v ON_ERROR_STOP=1 "$database" -c 'DROP TABLE pgbench_bookings, pgbench_slots'
fi

"$bin/booking-bench" ceiling --serve > "$work/ceiling.log" 2>&1 &
BOOKING_CONFIG="$work/bench.toml" DATABASE_URL="$database" PORT=0 \
  BOOKING_RATE_LIMIT_PER_MINUTE=0 RUST_LOG="${RUST_LOG:-info}" \
  "${SERVER:-$bin/booking-http}" > "$work/server.log" 2>&1 &
server_pid=$!
ceiling=$(address_in "$work/ceiling.log")
server=$(address_in "$work/server.log")

ceiling_rate=0
# wrk's summary as one line: requests/s, share of the last ceiling, p50, p90, p99, errors.
run() {
  local label=$1 url=$2 script=$3; shift 3
  wrk -t"$threads" -c"$connections" -d"${seconds}s" --latency -s "$scripts/$script" "$url" -- "$@" \
    > "$work/$label.txt"
  local rate p50 p90 p99 errors
  rate=$(awk '/^Requests\/sec:/ {print $2}' "$work/$label.txt")
  p50=$(awk '$1 == "50%" {print $2}' "$work/$label.txt")
  p90=$(awk '$1 == "90%" {print $2}' "$work/$label.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$work/$label.txt")
  errors=$(awk '/Non-2xx|Socket errors/ {$1=$1; print}' "$work/$label.txt" | paste -sd ';' -)
  if [ "$label" = "${label#ceiling}" ]; then
    share=$(awk -v r="$rate" -v c="$ceiling_rate" 'BEGIN {printf "%.1f%%", 100 * r / c}')
  else
    ceiling_rate=$rate share="-"
  fi
  printf '%-10s %10s/s  of ceiling %6s  p50 %8s  p90 %8s  p99 %8s  %s\n' \
    "$label" "$rate" "$share" "$p50" "$p90" "$p99" "${errors:-no errors}"
}

run ceiling-1 "$ceiling" ceiling.lua
run book-1 "$server" book.lua "$threads" 0 "$work"
run ceiling-2 "$ceiling" ceiling.lua
run book-2 "$server" book.lua "$threads" 5000 -
run ceiling-3 "$ceiling" ceiling.lua
run read "$server" read.lua "$work"
echo "read over $(cat "$work"/ids-*.txt | wc -l) appointments; server peak RSS: $(awk '/VmHWM/ {print $2, $3}' "/proc/$server_pid/status")"
