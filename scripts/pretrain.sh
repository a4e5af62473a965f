#!/usr/bin/env bash
# Retrains the shipped base models and copies their weights into Sources/Models/Weights,
# where the package bundles them as the embedded default.
#   scripts/pretrain.sh [MODEL...]     (default: every model)
# Each model trains with its command's defaults (the shipped run); extra flags for one model
# go in e.g. CLIP_FLAGS="--steps 100" or DETECTOR_FLAGS=... The clip run alone needs about
# 8 minutes on 2 idle cores.
set -euo pipefail
cd "$(dirname "$0")/.."

known=(clip detector)
models=("$@")
[ ${#models[@]} -gt 0 ] || models=("${known[@]}")

swift build -c release --product shielddiff
bin="$(swift build -c release --show-bin-path)/shielddiff"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

for model in "${models[@]}"; do
    case " ${known[*]} " in
        *" $model "*) ;;
        *) echo "pretrain.sh: unknown model '$model' (known: ${known[*]})" >&2; exit 2 ;;
    esac
    flags_var="$(echo "$model" | tr '[:lower:]' '[:upper:]')_FLAGS"
    # shellcheck disable=SC2086
    (cd "$work" && "$bin" pretrain "$model" --out "$model.safetensors" ${!flags_var:-})
    cp "$work/$model.safetensors" "Sources/Models/Weights/$model.safetensors"
done
