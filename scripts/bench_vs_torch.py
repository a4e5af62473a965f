#!/usr/bin/env python3
"""Swift against the PyTorch reference of the shipped denoiser, in one run, as ratios.

Each round runs every figure once in Swift (`shielddiff bench …`) and once in PyTorch, back to
back, so both see the same machine load; the best of the rounds is kept for each side. Figures
(2 threads / 2 cores on both sides):

  forward B=128            `bench denoiser` / the reference's bench.py --which denoiser
  forward+backward B=64    the same two runs
  sampler B=64             `bench sampler` (its 2-core figure) / bench.py --which sampler
  learner step             `bench learner` (pairs/s, the better of 1 and 2 threads) / a DDPO
                           update at the same shapes on the reference's UNet (below)

The PyTorch learner update is written here against the reference's modules (imported from
--reference, not copied): per optimizer step of 8 trajectories × 9 trained steps (72 pairs, the
main job's settings), minibatches of 32 pairs run the guided UNet on 64 rows, score the stored
next latent under the DDIM Gaussian, take the PPO-clip loss and backpropagate; then AdamW.

usage: scripts/bench_vs_torch.py [--rounds 2] [--reference ../shared/bench/torch_ref]
                                 [--binary .build/release/shielddiff] [--figures forward,train,sampler,learner]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, env=None):
    out = subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return out.stdout


def swift_figures(binary, which):
    """{figure: value} from one run of the Swift benchmark that holds `which`."""
    if which in ("forward", "train"):
        text = run([binary, "bench", "denoiser", "--iterations", "3"])
        f = re.search(r"^forward B=128 images/s\s+([\d.]+)", text, re.M)
        t = re.search(r"^forward\+backward B=64 images/s\s+([\d.]+)", text, re.M)
        return {"forward": float(f.group(1)), "train": float(t.group(1))}
    if which == "sampler":
        text = run([binary, "bench", "sampler", "--batch", "64", "--iterations", "2"])
        return {"sampler": float(re.search(r"^2 cores: ([\d.]+) images/s", text, re.M).group(1))}
    text = run([binary, "bench", "learner", "--iterations", "2"])
    values = [float(v) for v in re.findall(r"^learner update, \d thread\(s\).*?\s([\d.]+) pairs/s", text, re.M)]
    return {"learner": max(values)}


def torch_figures(reference, which):
    bench = os.path.join(reference, "bench.py")
    if which in ("forward", "train", "sampler"):
        kind = "sampler" if which == "sampler" else "denoiser"
        lines = run([sys.executable, bench, "--which", kind, "--threads", "2"]).splitlines()
        rows = [json.loads(l) for l in lines if l.startswith("{")]
        out = {}
        for r in rows:
            if r["figure"] == "forward B=128":
                out["forward"] = r["images_per_s"]
            elif r["figure"] == "forward+backward B=64":
                out["train"] = r["images_per_s"]
            elif r["figure"].startswith("sampler B=64"):
                out["sampler"] = r["images_per_s"]
        return out
    line = run([sys.executable, os.path.abspath(__file__), "--torch-learner", "--reference", reference]).strip()
    return {"learner": json.loads(line.splitlines()[-1])["pairs_per_s"]}


def torch_learner(reference, threads=2, iterations=2, trajectories=32, per_step=8, trained_steps=9,
                  minibatch=32, clip=1e-3, lr=1e-4):
    """pairs/s of one DDPO update (see the module docstring) with the reference's UNet."""
    import torch
    sys.path.insert(0, reference)
    import shielddiff_torch as S

    torch.set_num_threads(threads)
    model = S.DiffusionModel.load()
    model.requires_grad_(False)
    unet = model.unet
    gen = torch.Generator().manual_seed(1)
    steps, shape = 10, (12, 16, 16)
    timesteps = S.SCHEDULE.sampling_timesteps(steps)
    prompts = [f"a large red striped circle on the left on a gray background {i % 3}" for i in range(trajectories)]
    cond, null = model.encode(prompts), model.encode([S.NULL_PROMPT])
    latents = torch.randn(trajectories, steps + 1, *shape, generator=gen)
    old = torch.randn(trajectories, steps, generator=gen) * 0.01 - 1
    adv = torch.randn(trajectories, generator=gen)

    def update():
        unet.requires_grad_(True)
        opt = torch.optim.AdamW(unet.parameters(), lr=lr, weight_decay=1e-4)
        pairs = 0
        for start in range(0, trajectories, per_step):
            refs = [(i, k) for i in range(start, start + per_step) for k in range(trained_steps)]
            opt.zero_grad(set_to_none=False)
            for m in range(0, len(refs), minibatch):
                chunk = refs[m:m + minibatch]
                b = len(chunk)
                idx = torch.tensor([i for i, _ in chunk])
                ks = [k for _, k in chunk]
                xt = torch.stack([latents[i, k] for i, k in chunk])
                nxt = torch.stack([latents[i, k + 1] for i, k in chunk])
                t = torch.tensor([float(timesteps[k]) for k in ks])
                tokens = torch.cat([cond.tokens[idx], null.tokens.expand(b, -1, -1)])
                mask = torch.cat([cond.mask[idx], null.mask.expand(b, -1)])
                pooled = torch.cat([cond.pooled[idx], null.pooled.expand(b, -1)])
                eps = unet(torch.cat([xt, xt]), torch.cat([t, t]), tokens, mask, pooled)
                e = eps[b:] + 2.0 * (eps[:b] - eps[b:])
                logp = []
                for r, k in enumerate(ks):
                    step = S.DDIMStep(S.SCHEDULE, timesteps[k], S.SCHEDULE.previous_timestep(timesteps[k], steps), 1.0)
                    mu = step.mean(xt[r:r + 1], e[r:r + 1])
                    r_ = (nxt[r:r + 1] - mu).flatten(1)
                    logp.append(-(r_ * r_).sum(1) / (2 * step.sigma ** 2) / r_.shape[1])
                ratio = torch.exp(torch.cat(logp) - old[idx, ks])
                a = adv[idx]
                loss = torch.maximum(-a * ratio, -a * ratio.clamp(1 - clip, 1 + clip)).sum() / len(refs)
                loss.backward()
                pairs += b
            torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
            opt.step()
        return pairs

    update()  # warm-up
    best, pairs = float("inf"), 0
    for _ in range(iterations):
        t0 = time.perf_counter()
        pairs = update()
        best = min(best, time.perf_counter() - t0)
    print(json.dumps({"impl": "pytorch", "figure": "learner update", "threads": threads, "pairs": pairs,
                      "pairs_per_s": round(pairs / best, 3), "seconds": round(best, 4)}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--reference", default=os.path.join(os.path.dirname(ROOT), "shared", "bench", "torch_ref"))
    ap.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "shielddiff"))
    ap.add_argument("--figures", default="forward,train,sampler,learner")
    ap.add_argument("--torch-learner", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    reference = os.path.abspath(a.reference)
    if not os.path.isfile(os.path.join(reference, "shielddiff_torch.py")):
        sys.exit(f"bench_vs_torch: no shielddiff_torch.py in --reference {reference}")
    if a.torch_learner:
        return torch_learner(reference)
    if not os.access(a.binary, os.X_OK):
        sys.exit(f"bench_vs_torch: no shielddiff binary at {a.binary} (swift build -c release first)")
    if a.rounds < 1:
        sys.exit("bench_vs_torch: --rounds must be at least 1")
    wanted = a.figures.split(",")
    unknown = set(wanted) - {"forward", "train", "sampler", "learner"}
    if unknown:
        sys.exit(f"bench_vs_torch: unknown figures {sorted(unknown)}")
    print(run([a.binary, "kernels"]).strip())
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    best = {"swift": {}, "torch": {}}
    runs = [w for w in wanted if w != "train" or "forward" not in wanted]  # one denoiser run gives both
    for r in range(a.rounds):
        for which in runs:
            for side, measure in (("swift", lambda: swift_figures(a.binary, which)),
                                  ("torch", lambda: torch_figures(reference, which))):
                for k, v in measure().items():
                    best[side][k] = max(best[side].get(k, 0.0), v)
        print(f"round {r + 1}/{a.rounds} done, load average {os.getloadavg()[0]:.2f}", flush=True)
    names = {"forward": "forward B=128 (img/s)", "train": "forward+backward B=64 (img/s)",
             "sampler": "sampler B=64, 2 cores (img/s)", "learner": "learner update (pairs/s)"}
    print("| figure | Swift | PyTorch | Swift/PyTorch |")
    print("| --- | ---: | ---: | ---: |")
    for k in wanted:
        s, t = best["swift"].get(k), best["torch"].get(k)
        if s is None or t is None:
            continue
        print(f"| {names[k]} | {s:.1f} | {t:.1f} | {s / t:.2f} |")


if __name__ == "__main__":
    main()
