#!/usr/bin/env bash
# Starts this node's share of a multi-node run on machines without a cluster engine (with
# Slurm use cluster/slurm/, with Kubernetes cluster/k8s/) and restarts any process that dies:
#   cluster/launch-node.sh learner  CONFIG             (one node; resumes from its newest checkpoint)
#   cluster/launch-node.sh workers  CONFIG ACTORS REWARD_WORKERS [FIRST_ACTOR_INDEX]
# Instance ids (actor-N, reward-N) must be unique across nodes: give each node its own
# FIRST_ACTOR_INDEX. Each process reads its CURVE key from $KEYS/NAME.key (default keys/;
# unused unless security.mode is curve). Ctrl-C or SIGTERM stops the node's processes.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${SHIELDDIFF_BIN:-$(swift build -c release --show-bin-path)/shielddiff}"
[ -x "$bin" ] || { echo "launch-node.sh: build first (swift build -c release) or set SHIELDDIFF_BIN" >&2; exit 2; }
role="${1:?usage: launch-node.sh learner|workers CONFIG ...}"
config="${2:?usage: launch-node.sh learner|workers CONFIG ...}"
shift 2
keys="${KEYS:-keys}"

pids=()
trap 'kill -TERM "${pids[@]}" 2>/dev/null; wait' INT TERM

# Runs one process forever, restarting it a second after it dies (not after a clean exit:
# the run has ended).
keep() {
    while true; do
        "$@" && return 0
        echo "launch-node.sh: '$*' died (status $?); restarting in 1 s" >&2
        sleep 1
    done
}

case "$role" in
    learner)
        keep "$bin" learner --config "$config" --resume --set "security.key=$keys/learner.key" "$@" &
        pids+=($!)
        ;;
    workers)
        actors="${1:?ACTORS}" rewards="${2:?REWARD_WORKERS}" first="${3:-0}"
        for ((i = first; i < first + actors; i++)); do
            keep "$bin" actor --config "$config" --instance "actor-$i" --set "security.key=$keys/actor-$i.key" &
            pids+=($!)
        done
        for ((i = first; i < first + rewards; i++)); do
            keep "$bin" reward-worker --config "$config" --instance "reward-$i" --set "security.key=$keys/reward-$i.key" &
            pids+=($!)
        done
        ;;
    *) echo "launch-node.sh: unknown role '$role' (learner or workers)" >&2; exit 2 ;;
esac
wait
