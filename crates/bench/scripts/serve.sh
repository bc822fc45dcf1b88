# Sourced by cpu.sh and pg.sh: start_server BIN DATA_DIR [more serve flags] starts
# `aqsha serve` on a free port in the background and sets PID and URL once it listens.
start_server() {
    local bin=$1 dir=$2
    shift 2
    "$bin" serve --listen 127.0.0.1:0 --data-dir "$dir" "$@" >"$dir/out.log" 2>"$dir/err.log" &
    PID=$!
    URL=
    for _ in $(seq 1 100); do
        URL=$(grep -ho 'http://127.0.0.1:[0-9]*' "$dir/out.log" "$dir/err.log" 2>/dev/null | head -1)
        [ -n "$URL" ] && return 0
        sleep 0.1
    done
    echo "aqsha serve did not start: $dir/err.log" >&2
    return 1
}
