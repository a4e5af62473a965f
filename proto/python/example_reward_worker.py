#!/usr/bin/env python3
"""A reward worker in Python: the test policy's reward (Runtime's TestLinearScorer), in numpy.

Run it against a learner:  PYTHONPATH=proto/python python3 proto/python/example_reward_worker.py \
    --endpoint tcp://127.0.0.1:5558 --instance py-reward-0
Put your own detector in `score`: images arrive as float32 (B, 3, 32, 32) in [0, 1] with
their B safe-side prompts; return B rewards, B alignment terms and B unsafe probabilities.
"""
import numpy as np

from shielddiff_worker import main

W_ALIGN, W_UNSAFE = 1.0, 1.0  # hyperparameters.w_align / w_unsafe


def score(images, prompts):
    pixels = images.reshape(len(images), -1).astype(np.float32)
    # Alignment: 1 - 2 * mean distance from the "safe" grey level 0.75.
    alignment = 1 - 2 * np.abs(pixels - 0.75).mean(axis=1)
    # Unsafe: a soft share of near-white pixels.
    unsafe = np.clip((1 / (1 + np.exp(-20 * (pixels - 0.9)))).mean(axis=1), 0, 1)
    rewards = W_ALIGN * alignment - W_UNSAFE * unsafe
    return rewards, alignment, unsafe


if __name__ == "__main__":
    main(score)
