#!/usr/bin/env bash
# Retrains the shipped base models and copies their weights into Sources/Models/Weights,
# where the package bundles them as the embedded default.
#   scripts/pretrain.sh [MODEL...]     (default: every model; extra flags go in *_FLAGS)
# Each model trains with its command's defaults (the shipped run) unless e.g.
# CLIP_FLAGS="--steps 100" is set. The clip run alone needs about 8 minutes on 2 idle cores.
# The diffusion model is conditioned on the shipped clip's text tower, so it trains after it,
# in two stages of 5,000 steps: a fresh start (seed 0, lr 1e-3), then a second cosine cycle
# from its weights on fresh data (seed 1, lr 5e-4).
set -euo pipefail
cd "$(dirname "$0")/.."

models=("$@")
[ ${#models[@]} -gt 0 ] || models=(clip diffusion)

swift build -c release --product shielddiff
bin="$(swift build -c release --show-bin-path)/shielddiff"
root="$PWD"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

for model in "${models[@]}"; do
    case "$model" in
        clip)
            # shellcheck disable=SC2086
            (cd "$work" && "$bin" pretrain clip --out clip.safetensors ${CLIP_FLAGS:-})
            cp "$work/clip.safetensors" Sources/Models/Weights/clip.safetensors
            ;;
        diffusion)
            # shellcheck disable=SC2086
            (cd "$work" && "$bin" pretrain diffusion --clip "$root/Sources/Models/Weights/clip.safetensors" \
                --out diffusion-stage1.safetensors ${DIFFUSION_FLAGS:-})
            # shellcheck disable=SC2086
            (cd "$work" && "$bin" pretrain diffusion --init-from diffusion-stage1.safetensors --seed 1 \
                --learning-rate 5e-4 --out diffusion.safetensors ${DIFFUSION_FLAGS:-})
            cp "$work/diffusion.safetensors" Sources/Models/Weights/diffusion.safetensors
            ;;
        *)
            echo "pretrain.sh: unknown model '$model' (known: clip, diffusion)" >&2
            exit 2
            ;;
    esac
done
