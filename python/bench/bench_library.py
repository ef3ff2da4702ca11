"""hapscope from Python vs the same algorithm in plain NumPy (and PyTorch, if installed):
one layer end to end — library build at θ, Hebbian links (Eq. 2), predictions (Eq. 3, top-3)
— on the same arrays, in the same process, each stage timed; medians of --repeats runs.

The NumPy side is the batched algorithm a user would write with full products (the build of
models/benches/torch_library.py: blocks of 256 rows, one product against the library, the
block's survivors resolved in order; links as one product per 1,024 training rows,
g = exp((s − 1)/0.01), one more product with the ±1 answers; predictions as one product per
block, top-3, Eq. 3). hapscope runs `Library.build(...).link(...).predict(...)`.

Real inputs, the CN2 case of BENCHMARKS.md (LeNet's second conv layer, 3,200 columns):

    hapscope haps --model mnist --layer CN2 --split train --out CN2_train.npy --answers train_ans.npy
    hapscope haps --model mnist --layer CN2 --split test --out CN2_test.npy --answers test_ans.npy
    python3 python/bench/bench_library.py --train CN2_train.npy --train-answers train_ans.npy \\
        --test CN2_test.npy --test-answers test_ans.npy --rows 20000 --theta 0.8

Prints a Markdown table with the ratios.
"""
import argparse
import statistics
import time

import numpy as np

import hapscope

CLASSES, TOP_A, G_WIDTH, BLOCK = 10, 3, 0.01, 256


def unit(x):
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(n, 1e-30), n[:, 0] > 0


def numpy_build(haps, theta):
    nodes = np.empty((4096, haps.shape[1]), np.float32)
    n, ids = 0, []
    for s in range(0, haps.shape[0], BLOCK):
        u, nonzero = unit(haps[s:s + BLOCK])
        keep = nonzero.copy()
        if n:
            keep[nonzero] = (u[nonzero] @ nodes[:n].T).max(1) < theta
        surv = np.flatnonzero(keep)
        if not len(surv):
            continue
        us = u[surv]
        g = us @ us.T
        stored = []
        for t in range(len(surv)):
            if not stored or bool((g[t, stored] < theta).all()):
                stored.append(t)
        while n + len(stored) > len(nodes):
            nodes = np.concatenate([nodes, np.empty_like(nodes)])
        nodes[n:n + len(stored)] = us[stored]
        n += len(stored)
        ids.extend((s + surv[stored]).tolist())
    return ids, nodes[:n]


def numpy_links(haps, answers, nodes):
    w = np.zeros((len(nodes), CLASSES))
    for s in range(0, len(haps), 1024):
        u, _ = unit(haps[s:s + 1024])
        g = np.exp((( u @ nodes.T).astype(np.float64) - 1.0) / G_WIDTH)
        o = -np.ones((len(u), CLASSES))
        o[np.arange(len(u)), answers[s:s + 1024]] = 1.0
        w += g.T @ o
    return w.astype(np.float32)


def numpy_predict(test, nodes, w):
    out = []
    for s in range(0, len(test), 1024):
        u, _ = unit(test[s:s + 1024])
        sims = u @ nodes.T
        idx = np.argpartition(-sims, TOP_A, axis=1)[:, :TOP_A]
        h = np.take_along_axis(sims, idx, 1)
        out.append((w[idx] * h[:, :, None]).sum(1))
    return np.concatenate(out)


def numpy_run(train, answers, test, theta):
    t0 = time.perf_counter()
    ids, nodes = numpy_build(train, theta)
    t1 = time.perf_counter()
    w = numpy_links(train, answers, nodes)
    t2 = time.perf_counter()
    scores = numpy_predict(test, nodes, w)
    t3 = time.perf_counter()
    return len(ids), scores.argmax(1), (t1 - t0, t2 - t1, t3 - t2)


def hapscope_run(train, answers, test, theta):
    t0 = time.perf_counter()
    lib = hapscope.Library.build(train, theta)
    t1 = time.perf_counter()
    lib = lib.link(train, answers, classes=CLASSES)
    t2 = time.perf_counter()
    scores = lib.predict(test, top_a=TOP_A)
    t3 = time.perf_counter()
    return len(lib), scores.argmax(1), (t1 - t0, t2 - t1, t3 - t2)


def torch_run(train, answers, test, theta):
    import torch  # noqa: F401 (only when installed)
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "models", "benches"))
    import torch_grid
    return torch_grid.torch_run(torch.from_numpy(train), torch.from_numpy(answers.astype(np.int64)),
                                torch.from_numpy(test), theta)


def median_run(f, repeats, *args):
    runs = [f(*args) for _ in range(repeats)]
    times = tuple(statistics.median(r[2][i] for r in runs) for i in range(3))
    return runs[0][0], np.asarray(runs[0][1]), times


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", required=True)
    ap.add_argument("--train-answers", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--test-answers", required=True)
    ap.add_argument("--theta", type=float, default=0.8)
    ap.add_argument("--rows", type=int, default=0, help="first N training rows only")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    train = np.ascontiguousarray(np.load(a.train, mmap_mode="r")[: a.rows or None], np.float32)
    answers = np.load(a.train_answers)[: a.rows or None].astype(np.int64)
    test = np.ascontiguousarray(np.load(a.test), np.float32)
    sides = [("NumPy " + np.__version__, numpy_run)]
    try:
        import torch
        torch.set_num_threads(2)
        sides.append((f"PyTorch {torch.__version__}", torch_run))
    except ImportError:
        pass
    n_h, pred_h, t_h = median_run(hapscope_run, a.repeats, train, answers, test, a.theta)
    print(f"{train.shape[0]:,} × {train.shape[1]:,}, θ {a.theta}, {len(test):,} test rows, "
          f"medians of {a.repeats} runs; hapscope {hapscope.__version__}: {n_h} nodes")
    for name, f in sides:
        n_b, pred_b, t_b = median_run(f, a.repeats, train, answers, test, a.theta)
        pred_b = np.asarray(pred_b)
        agree = float((pred_b == pred_h).mean())
        print(f"\n{name}: {n_b} nodes; predictions agree with hapscope's on {agree:.4f} of the rows")
        print(f"| stage | {name} s | hapscope s | ratio |\n|---|---:|---:|---:|")
        for stage, x, y in zip(("build", "links", "predictions"), t_b, t_h):
            print(f"| {stage} | {x:.2f} | {y:.2f} | {x / y:.1f}× |")
        x, y = sum(t_b), sum(t_h)
        print(f"| **end to end** | **{x:.2f}** | **{y:.2f}** | **{x / y:.1f}×** |")


if __name__ == "__main__":
    main()
