#!/usr/bin/env bash
# Checks cluster/k8s offline: every manifest (and a Secret made by make-keys-secret.sh) against
# the Kubernetes API schema bundled in PyPI's kubernetes-validate (--strict: unknown fields
# fail too), a manifest with a wrong field type must fail it, and the ConfigMap's run
# configuration must resolve with the learner's overrides (`shielddiff config`).
#   scripts/check-k8s.sh [SHIELDDIFF_BINARY]      (scripts/test.sh runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-$(swift build -c release --show-bin-path)/shielddiff}"
command -v kubernetes-validate >/dev/null || { echo "check-k8s.sh: kubernetes-validate missing (scripts/setup.sh installs it)" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

SHIELDDIFF_BIN="$bin" cluster/k8s/make-keys-secret.sh 2 1 > "$tmp/secret.yaml"
kubernetes-validate --strict --quiet cluster/k8s/*.yaml "$tmp/secret.yaml" \
    || { echo "check-k8s.sh: cluster/k8s does not validate against the Kubernetes API schema" >&2; exit 1; }
sed 's/replicas: 2/replicas: two/' cluster/k8s/actors.yaml > "$tmp/broken.yaml"
if kubernetes-validate --strict --quiet "$tmp/broken.yaml" >/dev/null 2>&1; then
    echo "check-k8s.sh: the validator accepted replicas: two; it checks nothing" >&2; exit 1
fi

# The run configuration, as the learner pod resolves it.
python3 - cluster/k8s/configmap.yaml "$tmp/config.yaml" <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
open(sys.argv[2], "w").write(doc["data"]["config.yaml"])
PY
"$bin" config --config "$tmp/config.yaml" --set security.key=/keys/shielddiff-learner-0.key \
    --set endpoints.control=tcp://0.0.0.0:5555 >/dev/null \
    || { echo "check-k8s.sh: the ConfigMap's config.yaml does not resolve" >&2; exit 1; }
echo "check-k8s.sh: cluster/k8s manifests valid (kubernetes-validate $(kubernetes-validate --version 2>&1 | head -n 1), its bundled schemas, offline)"
