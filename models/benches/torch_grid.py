"""One layer end to end — library build, Hebbian links (Eq. 2), predictions (Eq. 3) — in
plain PyTorch (CPU, 2 threads), the baseline a user would write, next to `hapscope library`
on the same inputs in the same run; prints a Markdown table with the ratios.

The PyTorch side is the exact batched algorithm with full products: the build of
torch_library.py (blocks of 256, one product against the library, the block's survivors
resolved in order); links as one product per block of 1,024 training rows, g = exp((s − 1)
/ 0.01), one more product with the ±1 answer matrix; predictions as one product per block,
top-a, Eq. 3. hapscope runs its θ-grid pass (exact subspace screen; same libraries, links
and predictions as its full computation, bit for bit).

    pip install torch numpy
    python3 models/benches/torch_grid.py --hapscope target/release/hapscope \\
        --train CN2_train.npy --train-answers train_ans.npy \\
        --test CN2_test.npy --test-answers test_ans.npy --theta 0.8 [--rows 20000]
    python3 models/benches/torch_grid.py --hapscope ... --synthetic 60000   # 60k × 11,520

`hapscope haps --model mnist --layer CN2 --split train --out CN2_train.npy --answers
train_ans.npy` (and `--split test`) writes the real inputs.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from torch_library import build, clustered  # noqa: E402

CLASSES, TOP_A, G_WIDTH = 10, 3, 0.01


def unit(x):
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-30)


def links(haps, answers, nodes):
    o = -torch.ones(len(answers), CLASSES, dtype=torch.float64)
    o[torch.arange(len(answers)), answers] = 1.0
    w = torch.zeros(nodes.shape[0], CLASSES, dtype=torch.float64)
    for s in range(0, haps.shape[0], 1024):
        sims = unit(haps[s:s + 1024]) @ nodes.T
        g = torch.exp((sims.double() - 1.0) / G_WIDTH)
        w += g.T @ o[s:s + 1024]
    return w.float()


def predict(test, nodes, w):
    out = []
    for s in range(0, test.shape[0], 1024):
        sims = unit(test[s:s + 1024]) @ nodes.T
        h, idx = sims.topk(TOP_A, dim=1)
        out.append((w[idx] * h[:, :, None]).sum(1).argmax(1))
    return torch.cat(out)


def torch_run(train, answers, test, theta):
    t0 = time.perf_counter()
    ids = build(train, 0, theta=theta)
    t1 = time.perf_counter()
    nodes = unit(train[ids])
    w = links(train, answers, nodes)
    t2 = time.perf_counter()
    pred = predict(test, nodes, w)
    t3 = time.perf_counter()
    return len(ids), pred, (t1 - t0, t2 - t1, t3 - t2)


def hapscope_run(exe, paths, theta):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "r.json")
        subprocess.run([exe, "library", "--train-haps", paths[0], "--train-answers", paths[1],
                        "--test-haps", paths[2], "--test-answers", paths[3], "--theta", str(theta),
                        "--json", out], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = json.load(open(out))
    t = r["timings_s"]
    return r["size"], np.array(r["predictions"]), (t["build"], t["links"], t["predict"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hapscope", required=True)
    ap.add_argument("--train"), ap.add_argument("--train-answers"), ap.add_argument("--test")
    ap.add_argument("--test-answers")
    ap.add_argument("--theta", type=float, default=0.8)
    ap.add_argument("--rows", type=int, default=0, help="first N training rows only")
    ap.add_argument("--synthetic", type=int, default=0, help="N rows of torch_library.py's data")
    a = ap.parse_args()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as d:
        if a.synthetic:
            gen = torch.Generator().manual_seed(5)
            data = clustered(a.synthetic + 2000, gen)
            labels = torch.randint(0, CLASSES, (a.synthetic + 2000,), generator=gen)
            train, test = data[:a.synthetic].numpy(), data[a.synthetic:].numpy()
            ans, test_ans = labels[:a.synthetic].numpy(), labels[a.synthetic:].numpy()
        else:
            train, ans = np.load(a.train, mmap_mode="r"), np.load(a.train_answers)
            test, test_ans = np.load(a.test), np.load(a.test_answers)
            if a.rows:
                train, ans = train[:a.rows], ans[:a.rows]
        paths = [os.path.join(d, n) for n in ("x.npy", "a.npy", "u.npy", "b.npy")]
        for p, v in zip(paths, (train, ans, test, test_ans)):
            np.save(p, np.ascontiguousarray(v))
        tt, ta = torch.from_numpy(np.ascontiguousarray(train, dtype=np.float32)), torch.from_numpy(np.asarray(ans, dtype=np.int64))
        tu = torch.from_numpy(np.ascontiguousarray(test, dtype=np.float32))
        n_t, pred_t, times_t = torch_run(tt, ta, tu, a.theta)
        n_h, pred_h, times_h = hapscope_run(a.hapscope, paths, a.theta)
    agree = float((pred_t.numpy() == pred_h).mean())
    print(f"{train.shape[0]:,} × {train.shape[1]:,}, θ {a.theta}: {n_h} nodes (PyTorch {n_t}); "
          f"predictions agree on {agree:.4f} of {len(pred_h):,} test rows")
    print("| stage | PyTorch s | hapscope s | ratio |\n|---|---:|---:|---:|")
    for name, x, y in zip(("build", "links", "predictions"), times_t, times_h):
        print(f"| {name} | {x:.2f} | {y:.2f} | {x / y:.1f}× |")
    x, y = sum(times_t), sum(times_h)
    print(f"| **end to end** | **{x:.2f}** | **{y:.2f}** | **{x / y:.1f}×** |")


if __name__ == "__main__":
    main()
