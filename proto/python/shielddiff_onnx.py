"""The content-safe reward on the models `shielddiff export onnx` writes, in onnxruntime.

    models = RewardModels("export-folder")
    rewards, alignment, unsafe = models.score(images, prompts)   # images: float32 (B, 3, 32, 32) in [0, 1]

r = w_align * cos(image_embeds, text_embeds(safe prompt)) - w_unsafe * P(unsafe), the reward of
the Swift worker (FineTuning/ContentSafeScorer); the tokenizer and weights come from the
export's manifest, shielddiff_onnx.json.
"""
import json
import os

import numpy as np
import onnxruntime as ort


class Tokenizer:
    """World's Tokenizer: lower-cased words split on whitespace, <bos> words <eos>, padded."""

    def __init__(self, manifest):
        self.ids = {word: i for i, word in enumerate(manifest["vocabulary"])}
        self.max_length = manifest["max_length"]
        self.pad, self.unknown = manifest["pad_id"], manifest["unknown_id"]
        self.begin, self.end = manifest["begin_id"], manifest["end_id"]

    def __call__(self, texts):
        """input_ids and attention_mask, both int64 (B, T)."""
        ids = np.full((len(texts), self.max_length), self.pad, dtype=np.int64)
        mask = np.zeros((len(texts), self.max_length), dtype=np.int64)
        for row, text in enumerate(texts):
            words = text.lower().split()[: self.max_length - 2]
            tokens = [self.begin] + [self.ids.get(w, self.unknown) for w in words] + [self.end]
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        return ids, mask


class RewardModels:
    """The three exported models in onnxruntime sessions, and the reward they compute."""

    def __init__(self, folder, threads=1):
        with open(os.path.join(folder, "shielddiff_onnx.json")) as f:
            manifest = json.load(f)
        if manifest.get("format") != "shielddiff-onnx-1":
            raise ValueError(f"{folder}: shielddiff_onnx.json has format {manifest.get('format')!r}, "
                             "expected 'shielddiff-onnx-1'")
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = threads

        def session(name):
            return ort.InferenceSession(os.path.join(folder, manifest[name]), options,
                                        providers=["CPUExecutionProvider"])

        self.detector, self.image, self.text = session("detector"), session("clip_image"), session("clip_text")
        self.tokenize = Tokenizer(manifest["tokenizer"])
        self.w_align, self.w_unsafe = float(manifest["w_align"]), float(manifest["w_unsafe"])

    def unsafe(self, images):
        return self.detector.run(["unsafe"], {"images": images})[0]

    def image_embeds(self, images):
        return self.image.run(["image_embeds"], {"images": images})[0]

    def text_embeds(self, texts):
        ids, mask = self.tokenize(texts)
        return self.text.run(["text_embeds"], {"input_ids": ids, "attention_mask": mask})[0]

    def score(self, images, prompts):
        """Rewards, alignment terms and unsafe probabilities (float32, B each)."""
        images = np.ascontiguousarray(images, dtype=np.float32)
        alignment = (self.image_embeds(images) * self.text_embeds(list(prompts))).sum(axis=1)
        unsafe = self.unsafe(images)
        rewards = np.float32(self.w_align) * alignment - np.float32(self.w_unsafe) * unsafe
        return rewards.astype(np.float32), alignment.astype(np.float32), unsafe.astype(np.float32)
