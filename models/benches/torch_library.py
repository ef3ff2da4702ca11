"""The same batched library build in PyTorch (CPU), to compare with `cargo bench`.

Same algorithm as hapscope-core's LibraryBuilder: blocks of 256 queries, one matrix product
against the existing library, then the block's survivors resolved in order against the
nodes created earlier in the block; and the same with the random-projection screen
(k = 256, 3 candidates) in front, as `hapscope library` runs by default. Same synthetic data recipe as models/benches/data.rs
(3,000 clusters, uniform noise σ = 0.4, θ = 0.8), same sizes. Also times torch.mm at the
similarity shapes and on a square 2048³ problem.

    pip install torch numpy
    python3 models/benches/torch_library.py [ROWS]
"""
import sys
import time

import torch

DIM, CLUSTERS, SIGMA, THETA, BLOCK = 11_520, 3000, 0.4, 0.8, 256


def clustered(rows, gen):
    centres = torch.rand(CLUSTERS, DIM, generator=gen) * 2 - 1
    c = torch.randint(0, CLUSTERS, (rows,), generator=gen)
    out = torch.empty(rows, DIM)
    for s in range(0, rows, 4096):
        e = min(rows, s + 4096)
        out[s:e] = centres[c[s:e]] + SIGMA * (torch.rand(e - s, DIM, generator=gen) * 2 - 1)
    return out


def build(haps, screen_k=0, candidates=3, theta=THETA):
    """screen_k > 0: the exact random-projection screen of hapscope_core::screen."""
    nodes = torch.empty(4096, haps.shape[1])
    proj_nodes = torch.empty(4096, max(screen_k, 1))
    r = (torch.randint(0, 2, (screen_k, haps.shape[1]), generator=torch.Generator().manual_seed(1)).float() * 2 - 1) / screen_k ** 0.5 if screen_k else None
    n = 0
    ids = []
    for s in range(0, haps.shape[0], BLOCK):
        q = haps[s:s + BLOCK]
        norms = q.norm(dim=1, keepdim=True)
        nonzero = (norms[:, 0] > 0)
        u = q / norms.clamp_min(1e-30)
        undecided = nonzero.clone()
        if screen_k:
            pq = u @ r.T
            if n:
                cand = (pq @ proj_nodes[:n].T).topk(min(candidates, n), dim=1).indices  # b × c
                exact = (nodes[cand] * u[:, None, :]).sum(-1)  # b × c canonical-ish checks
                undecided &= ~(exact >= theta).any(dim=1)
        idx = undecided.nonzero()[:, 0]
        keep = torch.zeros_like(nonzero)
        if n and len(idx):
            best = (u[idx] @ nodes[:n].T).max(dim=1).values
            keep[idx] = best < theta
        elif len(idx):
            keep[idx] = True
        surv = keep.nonzero()[:, 0]
        if len(surv) == 0:
            continue
        us = u[surv]
        g = us @ us.T
        stored = []
        for t in range(len(surv)):
            if not stored or bool((g[t, stored] < theta).all()):
                stored.append(t)
        new = us[stored]
        while n + len(stored) > nodes.shape[0]:
            nodes = torch.cat([nodes, torch.empty_like(nodes)])
            proj_nodes = torch.cat([proj_nodes, torch.empty_like(proj_nodes)])
        nodes[n:n + len(stored)] = new
        if screen_k:
            proj_nodes[n:n + len(stored)] = pq[surv[stored]]
        n += len(stored)
        ids.extend((s + surv[stored]).tolist())
    return ids


def time_mm(m, k, n, reps=5):
    a, b = torch.rand(m, k), torch.rand(n, k)
    a @ b.T
    t = time.perf_counter()
    for _ in range(reps):
        a @ b.T
    dt = (time.perf_counter() - t) / reps
    return 2 * m * n * k / dt / 1e9


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 60_000
    torch.set_num_threads(2)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"peak torch.mm 2048^3: {time_mm(2048, 2048, 2048):.1f} GFLOP/s")
    for dim in (500, 3200, 11_520):
        for nodes in (1000, 10_000):
            print(f"similarity d{dim} n{nodes}: {time_mm(256, dim, nodes):.1f} GFLOP/s")
    gen = torch.Generator().manual_seed(5)
    haps = clustered(rows, gen)
    for screen_k in (0, 256):
        t = time.perf_counter()
        ids = build(haps, screen_k)
        dt = time.perf_counter() - t
        print(f"build {rows} x {DIM} at θ={THETA} (screen k={screen_k}): {len(ids)} nodes in {dt:.2f} s")


if __name__ == "__main__":
    main()
