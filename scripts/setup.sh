#!/usr/bin/env bash
# Installs what ShieldDiff needs on a fresh Debian machine (as root): the C libraries,
# pkg-config and the Python packages the interoperability tests use. Idempotent: a
# package already present is not reinstalled, and apt's lists are only refreshed when
# something is missing.
set -euo pipefail

debian_packages=(libzmq3-dev libopenblas-dev libdnnl-dev libprotobuf-c-dev protobuf-c-compiler pkg-config)
# python3 and pip may come from elsewhere (pyenv): ask apt for them only when absent.
command -v python3 >/dev/null || debian_packages+=(python3)
python3 -m pip --version >/dev/null 2>&1 || debian_packages+=(python3-pip)
# grpcio-tools is pinned: its protoc's output is committed (proto/python, scripts/check-proto-python.sh).
# kubernetes-validate checks cluster/k8s against its bundled API schemas (offline).
python_packages=(safetensors numpy tensorboard pyzmq grpcio-tools==1.85.1 kubernetes-validate)
# The ONNX export's check and the Python reward worker on real models (nudenet ships its weights).
python_packages+=(onnxruntime nudenet prometheus_client)

missing=()
for p in "${debian_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! python3 -c 'import safetensors, numpy, tensorboard, zmq, grpc_tools, kubernetes_validate, onnxruntime, nudenet, prometheus_client' 2>/dev/null \
        || [ "$(python3 -m pip show grpcio-tools 2>/dev/null | sed -n 's/^Version: //p')" != 1.85.1 ]; then
    echo "setup: installing Python packages: ${python_packages[*]}"
    python3 -m pip install -q --disable-pip-version-check "${python_packages[@]}" \
        || python3 -m pip install -q --disable-pip-version-check --break-system-packages "${python_packages[@]}"
fi

command -v swift >/dev/null || { echo "setup: swift is not on PATH (expected Swift 6.x, e.g. /opt/swift/usr/bin)" >&2; exit 1; }
echo "setup: ok ($(swift --version 2>&1 | head -n 1))"
