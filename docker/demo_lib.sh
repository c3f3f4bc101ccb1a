# Shared by scripts/compose_demo.sh and scripts/kube_demo.sh (sourced): the checks that
# frame both demos. Each demo defines leftovers(), which prints what it would leave.

# `demo_start NAME "$@"`: sets demo and out (absolute) from the one argument OUT, which
# must be new or empty (results of two runs are never mixed), and points podman at
# docker/containers.conf.
demo_start() {
    demo=$1
    shift
    [ $# -eq 1 ] || { echo "usage: scripts/$demo.sh OUT" >&2; exit 2; }
    out=$(realpath -m "$1")
    if [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
        echo "$demo: $out is not empty: give a new folder (results are never mixed)" >&2
        exit 2
    fi
    export CONTAINERS_CONF="$PWD/docker/containers.conf"
}

# Waits until DIR holds COUNT tr-*.json results, at most TIMEOUT seconds.
demo_wait_results() {
    local dir=$1 count=0 want=$2 deadline=$((SECONDS + $3))
    while [ "$count" -lt "$want" ]; do
        if [ $SECONDS -gt "$deadline" ]; then
            echo "$demo: only $count of $want results after $3 s" >&2
            exit 1
        fi
        sleep 1
        count=$(find "$dir" -name 'tr-*.json' 2>/dev/null | wc -l)
    done
    echo "$demo: all $want results in $dir" >&2
}

# The end of the exit trap: fails when anything was left behind; exits with STATUS.
demo_finish() {
    local status=$1
    if [ -n "$(leftovers)" ]; then
        echo "$demo: left behind after the cleanup:" >&2
        leftovers >&2
        status=1
    fi
    [ "$status" -eq 0 ] || echo "$demo: FAILED (logs in $out/logs)" >&2
    exit "$status"
}
