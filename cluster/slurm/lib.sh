# Functions the two sbatch scripts share (sourced, not run). Every path here is on the
# shared filesystem the nodes see; the job's own environment names the binary and folders.

say() { echo "[$(date +%H:%M:%S.%3N) slurm-job $SLURM_JOB_ID] $*"; }
die() { say "error: $*" >&2; exit 2; }

# The address other nodes reach NODE at: Slurm's NodeAddr for it, as an IPv4 address
# (ZeroMQ binds addresses and interface names, not host names).
node_address() {
    local addr
    addr=$(scontrol show node -o "$1" | tr ' ' '\n' | sed -n 's/^NodeAddr=//p')
    [ -n "$addr" ] || die "scontrol knows no NodeAddr for node $1"
    if [[ ! "$addr" =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
        addr=$(getent ahostsv4 "$addr" | awk 'NR == 1 {print $1}')
        [ -n "$addr" ] || die "node $1's NodeAddr does not resolve to an IPv4 address"
    fi
    echo "$addr"
}

# Makes NAME's CURVE key pair in $keys if it has none (a requeued job keeps its keys).
ensure_key() {
    local name=$1 role=$2
    [ -f "$keys/$name.key" ] || "$bin" keys generate --out "$keys" --name "$name" --role "$role" >/dev/null
}

# Rebuilds the learner's allowlist from every public key in $keys except the learner's,
# atomically and under a lock (the reward-workers job adds keys to a running run).
rebuild_allowlist() {
    (
        flock 9
        local pubs=()
        for pub in "$keys"/*.pub; do [ "$(basename "$pub")" = learner.pub ] || pubs+=("$pub"); done
        "$bin" keys allow --out "$keys/allowlist.new" "${pubs[@]}" >/dev/null
        mv "$keys/allowlist.new" "$keys/allowlist"
    ) 9>"$keys/.lock"
}

# Runs one process as a job step on NODE and starts it again when it fails; returns when it
# exits cleanly (the run ended) or when it failed at once 5 times in a row.
keep_step() {
    local name=$1 node=$2
    shift 2
    local quick_failures=0 started status
    while true; do
        started=$SECONDS
        status=0
        srun --overlap --nodes=1 --ntasks=1 --nodelist="$node" --job-name="$name" \
            --output="$logs/$name.log" --open-mode=append "$@" || status=$?
        [ "$status" = 0 ] && { say "$name on $node: ended"; return 0; }
        if ((SECONDS - started < 10)); then quick_failures=$((quick_failures + 1)); else quick_failures=0; fi
        if ((quick_failures >= 5)); then
            say "$name on $node: failed at start 5 times in a row (status $status); not restarting it"
            return 1
        fi
        say "$name on $node: exited with status $status; starting it again in 2 s"
        sleep 2
    done
}
