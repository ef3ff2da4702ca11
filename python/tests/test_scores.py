"""CPL (Eq. 5 and the code's variant) and AUROC against plain NumPy."""
import numpy as np
import pytest

import hapscope


def numpy_cpl(layers, variant):
    """Mean pairwise cosine of the layers' score vectors (softmax first for 'top20')."""
    v = [np.asarray(s, np.float64) for s in layers]
    if variant == "top20":
        v = [np.exp(s - s.max(1, keepdims=True)) for s in v]
        v = [s / s.sum(1, keepdims=True) for s in v]
    out = np.zeros(len(v[0]))
    pairs = 0
    for i in range(len(v)):
        for j in range(i + 1, len(v)):
            n = np.linalg.norm(v[i], axis=1) * np.linalg.norm(v[j], axis=1)
            dot = (v[i] * v[j]).sum(1)
            out += np.divide(dot, n, out=np.zeros_like(dot), where=n > 0)
            pairs += 1
    return out / pairs


@pytest.mark.parametrize("variant", ["eq5", "top20"])
def test_cpl_equals_numpy(variant):
    rng = np.random.default_rng(5)
    layers = [rng.normal(size=(50, 10)).astype(np.float32) for _ in range(4)]
    layers[2][3] = 0.0  # a layer with no prediction for row 3
    got = hapscope.cpl(layers, variant=variant)
    assert got.shape == (50,) and got.dtype == np.float64
    np.testing.assert_allclose(got, numpy_cpl(layers, variant), rtol=1e-6, atol=1e-6)
    same = [layers[0]] * 3
    np.testing.assert_allclose(hapscope.cpl(same, variant=variant), 1.0, atol=1e-6)


def test_auroc_equals_mann_whitney():
    rng = np.random.default_rng(9)
    pos = np.round(rng.normal(1.0, 1.0, 300), 1)  # rounded: many ties
    neg = np.round(rng.normal(0.0, 1.0, 400), 1)
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert hapscope.auroc(pos, neg) == pytest.approx(wins / (len(pos) * len(neg)), abs=1e-12)
    assert hapscope.auroc(np.array([3, 4]), np.array([1, 2])) == 1.0
