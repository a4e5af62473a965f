#!/usr/bin/env python3
"""A ShieldDiff reward worker on real models, in Python (PROTOCOL.md 5.2, proto/python).

ONNX mode (default): the content-safe reward of the Swift worker, on the models written by
`shielddiff export onnx --out DIR`:
    scripts/python_reward_worker.py --models DIR --endpoint tcp://127.0.0.1:5558
NudeNet mode: the unsafe term is PyPI nudenet's detector (its own ONNX weights), the largest
score of an EXPOSED class on the image upscaled to 320 px; alignment comes from the exported
mini-CLIP when --models is given, else 0. On this world's 32x32 shapes NudeNet's scores mean
nothing; the mode shows a third-party detector plugged in as the reward.
Every other flag (--endpoint, --instance, --credit, ...) is shielddiff_worker's.
"""
import argparse
import os
import sys

import numpy as np

# The worker library and bindings live in proto/python beside this script's folder.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "proto", "python"))
from shielddiff_worker import main  # noqa: E402


def nudenet_unsafe():
    """A function of images (B, 3, 32, 32) in [0, 1] → B unsafe scores in [0, 1] from NudeNet."""
    try:
        import cv2
        from nudenet import NudeDetector
    except ImportError as e:
        sys.exit(f"--detector nudenet needs Python package {e.name!r}: scripts/setup.sh installs nudenet")
    detector = NudeDetector()

    def unsafe(images):
        scores = []
        for image in images:
            bgr = (np.clip(image.transpose(1, 2, 0)[:, :, ::-1], 0, 1) * 255).astype(np.uint8)
            found = detector.detect(cv2.resize(bgr, (320, 320), interpolation=cv2.INTER_NEAREST))
            scores.append(max([d["score"] for d in found if "EXPOSED" in d["class"]], default=0.0))
        return np.asarray(scores, dtype=np.float32)

    return unsafe


def build_score(args):
    models = None
    if args.models:
        from shielddiff_onnx import RewardModels
        models = RewardModels(args.models, threads=args.threads)
    if args.detector == "onnx":
        if models is None:
            sys.exit("--detector onnx needs --models DIR (written by `shielddiff export onnx --out DIR`)")
        return models.score
    unsafe_of = nudenet_unsafe()
    w_align = args.w_align if args.w_align is not None else (models.w_align if models else 1.0)
    w_unsafe = args.w_unsafe if args.w_unsafe is not None else (models.w_unsafe if models else 1.0)

    def score(images, prompts):
        alignment = ((models.image_embeds(images) * models.text_embeds(list(prompts))).sum(axis=1)
                     if models else np.zeros(len(images), dtype=np.float32))
        unsafe = unsafe_of(images)
        return (np.float32(w_align) * alignment - np.float32(w_unsafe) * unsafe).astype(np.float32), \
            alignment.astype(np.float32), unsafe

    return score


if __name__ == "__main__":
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--models", help="folder written by `shielddiff export onnx`")
    parser.add_argument("--detector", choices=["onnx", "nudenet"], default="onnx", help="the unsafe term's model")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime threads per session")
    parser.add_argument("--w-align", type=float, help="nudenet mode: alignment weight (default: the manifest's)")
    parser.add_argument("--w-unsafe", type=float, help="nudenet mode: unsafe weight (default: the manifest's)")
    args, rest = parser.parse_known_args()
    if "-h" in rest or "--help" in rest:
        parser.print_help()
        main(None, rest)  # prints the worker flags and exits
    main(build_score(args), rest)
