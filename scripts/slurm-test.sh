#!/usr/bin/env bash
# The cluster test, as root: brings up a namespace Slurm cluster (scripts/slurm-cluster.sh),
# runs ShieldDiff jobs on it, tears it down and prints a report (scripts/slurm_test.py).
#   scripts/slurm-test.sh           the default fine-tuning: single machine then an sbatch job,
#                                   back to back; then a job that has reward workers added and
#                                   removed, a 10 s partition and two node kills, and the
#                                   ground-truth targets of its checkpoint (about 7 minutes on
#                                   the quiet 2-core machine, 25–40 under load)
#   scripts/slurm-test.sh --faults  only the disturbed job and its targets
#   scripts/slurm-test.sh --smoke   the test policy on 3 nodes over CURVE with a weight relay
#                                   per node, reward workers added and removed (about 30 s;
#                                   scripts/test.sh runs it)
# Output goes to runs/slurm-test-<time>/ (the smoke: a temporary folder, removed when it passes).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=full
case "${1:-}" in
    "") ;;
    --smoke) mode=smoke ;;
    --faults) mode=faults ;;
    *) echo "usage: scripts/slurm-test.sh [--faults|--smoke]" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "slurm-test.sh: needs root (network namespaces, slurmd)" >&2; exit 1; }

frozen="$(scripts/frozen-binary.sh)"
# The first cluster id no other cluster (another engineer's test) holds.
mkdir -p /tmp/slurm/ids
for id in $(seq 0 249); do mkdir /tmp/slurm/ids/$id 2>/dev/null && break; done
export SLURM_CLUSTER_ID=$id SLURM_SCRATCH=/tmp/slurm/cluster-$id SLURM_CONF=/tmp/slurm/cluster-$id/etc/slurm.conf
if [ $mode != smoke ]; then out="$PWD/runs/slurm-test-$(date +%Y%m%d-%H%M%S)"; else out="$(mktemp -d /tmp/slurm/smoke.XXXXXX)"; fi
cleanup() {
    scripts/slurm-cluster.sh down >/dev/null || echo "slurm-test.sh: cluster $id did not come down cleanly" >&2
    rm -rf "$frozen" "/tmp/slurm/ids/$id"
}
trap cleanup EXIT
scripts/slurm-cluster.sh up >/dev/null
status=0
python3 scripts/slurm_test.py "$mode" "$frozen/shielddiff" "$PWD" "$out" || status=$?
if [ $mode = smoke ] && [ $status = 0 ]; then rm -rf "$out"; else echo "slurm-test.sh: output in $out"; fi
exit $status
