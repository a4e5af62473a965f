#!/usr/bin/env bash
# Prints the Secret shielddiff-keys: a CURVE key pair for the learner pod and for each of
# ACTORS actor pods and WORKERS reward-worker pods (named as the pods are), and the learner's
# allowlist of all but its own. `kubectl scale` can go up to these counts.
#   cluster/k8s/make-keys-secret.sh [ACTORS] [WORKERS] | kubectl apply -f -
# Needs the shielddiff binary (SHIELDDIFF_BIN, default: on PATH). The keys exist only in the
# output; store it as you store other secrets.
set -euo pipefail
actors="${1:-8}" workers="${2:-8}"
bin="${SHIELDDIFF_BIN:-$(command -v shielddiff || true)}"
[ -x "$bin" ] || { echo "make-keys-secret.sh: no shielddiff binary (set SHIELDDIFF_BIN)" >&2; exit 2; }
[[ "$actors" =~ ^[0-9]+$ && "$workers" =~ ^[0-9]+$ ]] || { echo "make-keys-secret.sh: ACTORS and WORKERS must be counts" >&2; exit 2; }
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
"$bin" keys generate --out "$dir" --name shielddiff-learner-0 --role learner >/dev/null
pubs=()
for ((i = 0; i < actors; i++)); do
    "$bin" keys generate --out "$dir" --name "shielddiff-actor-$i" --role actor >/dev/null
    pubs+=("$dir/shielddiff-actor-$i.pub")
done
for ((i = 0; i < workers; i++)); do
    "$bin" keys generate --out "$dir" --name "shielddiff-reward-worker-$i" --role reward-worker >/dev/null
    pubs+=("$dir/shielddiff-reward-worker-$i.pub")
done
"$bin" keys allow --out "$dir/allowlist" "${pubs[@]}" >/dev/null
echo "apiVersion: v1"
echo "kind: Secret"
echo "metadata:"
echo "  name: shielddiff-keys"
echo "  labels: {app.kubernetes.io/name: shielddiff}"
echo "type: Opaque"
echo "data:"
for file in "$dir"/*; do echo "  $(basename "$file"): $(base64 -w0 "$file")"; done
