#!/usr/bin/env bash
# Retrains the shipped base models and copies their weights into Sources/Models/Weights,
# where the package bundles them as the embedded default.
#   scripts/pretrain.sh [MODEL...]     (models: clip detector diffusion; default: all three)
# Each model trains with its command's defaults (the shipped run); extra flags for one model
# go in e.g. CLIP_FLAGS="--steps 100", DETECTOR_FLAGS=..., DIFFUSION_FLAGS=...
# The diffusion model is conditioned on the clip text tower in Sources/Models/Weights, so it
# trains after clip, in two stages of 5,000 steps: a fresh start (seed 0, lr 1e-3), then a
# second cosine cycle from its weights on fresh data (seed 1, lr 5e-4); shape fidelity was
# still rising at the end of the first. On the quiet 2-core machine: clip 7 min, detector
# 1.5 min, diffusion 23 + 23 min (54 min in all); the shipped files are reproduced bit for bit.
set -euo pipefail
cd "$(dirname "$0")/.."

known=(clip detector diffusion)
models=("$@")
[ ${#models[@]} -gt 0 ] || models=("${known[@]}")

swift build -c release --product shielddiff
bin="$(swift build -c release --show-bin-path)/shielddiff"
weights="$PWD/Sources/Models/Weights"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

for model in "${models[@]}"; do
    case " ${known[*]} " in
        *" $model "*) ;;
        *) echo "pretrain.sh: unknown model '$model' (known: ${known[*]})" >&2; exit 2 ;;
    esac
    flags_var="$(echo "$model" | tr '[:lower:]' '[:upper:]')_FLAGS"
    extra=()
    # The bundle inside .build may hold an older clip than the one just trained: name the file.
    [ "$model" = diffusion ] && extra=(--clip "$weights/clip.safetensors")
    # shellcheck disable=SC2086
    (cd "$work" && "$bin" pretrain "$model" --out "$model.safetensors" "${extra[@]}" ${!flags_var:-})
    if [ "$model" = diffusion ]; then
        mv "$work/diffusion.safetensors" "$work/diffusion-stage1.safetensors"
        # shellcheck disable=SC2086
        (cd "$work" && "$bin" pretrain diffusion --init-from diffusion-stage1.safetensors --seed 1 \
            --learning-rate 5e-4 --out diffusion.safetensors ${!flags_var:-})
    fi
    cp "$work/$model.safetensors" "$weights/$model.safetensors"
done
