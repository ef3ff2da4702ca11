"""Bad input raises a Python exception with a clear message; odd layouts are handled."""
import numpy as np
import pytest

import hapscope


@pytest.fixture(scope="module")
def linked(fixture):
    return hapscope.Library.build(fixture["train"], 0.8).link(
        fixture["train"], fixture["train_answers"])


def test_wrong_dtype(fixture):
    with pytest.raises(TypeError, match="haps must be a float32 or float64 array, got dtype int32"):
        hapscope.Library.build(fixture["train"].astype(np.int32), 0.8)
    with pytest.raises(TypeError, match="haps must be a numpy array, got list"):
        hapscope.Library.build([[1.0, 2.0]], 0.8)
    with pytest.raises(TypeError, match="answers must be an integer array"):
        hapscope.Library.build(fixture["train"], 0.8).link(
            fixture["train"], fixture["train_answers"].astype(np.float32))


def test_wrong_rank(fixture):
    with pytest.raises(ValueError, match=r"haps must be 2-D .* got 1 dimension\(s\) with shape \[24\]"):
        hapscope.Library.build(fixture["train"][0], 0.8)
    with pytest.raises(ValueError, match="must be 2-D"):
        hapscope.Library.build(fixture["train"][None], 0.8)
    with pytest.raises(ValueError, match="answers must be 1-D"):
        hapscope.Library.build(fixture["train"], 0.8).link(
            fixture["train"], fixture["train_answers"][:, None])


@pytest.mark.parametrize("bad,name", [(np.nan, "NaN"), (np.inf, "inf"), (-np.inf, "-inf")])
def test_non_finite_names_row_and_column(fixture, bad, name):
    x = fixture["train"].copy()
    x[7, 5] = bad
    with pytest.raises(ValueError, match=rf"haps has a non-finite value \({name}\) at row 7, column 5"):
        hapscope.Library.build(x, 0.8)


def test_theta_out_of_range(fixture):
    for theta in (1.5, -2.0, float("nan")):
        with pytest.raises(ValueError, match="invalid theta"):
            hapscope.Library.build(fixture["train"], theta)
    with pytest.raises(ValueError, match=r"thetas\[1\]"):
        hapscope.theta_sweep(fixture["train"], fixture["train_answers"], fixture["test"],
                             fixture["test_answers"], [0.5, 2.0])


def test_mismatched_rows_and_columns(fixture, linked):
    lib = hapscope.Library.build(fixture["train"], 0.8)
    with pytest.raises(ValueError, match="answers has 599 rows but haps has 600"):
        lib.link(fixture["train"], fixture["train_answers"][:-1])
    with pytest.raises(ValueError, match="haps has 23 columns but the library's HAPs have 24"):
        linked.predict(fixture["test"][:, :23])
    with pytest.raises(ValueError, match="test_haps has 23 columns but train_haps has 24"):
        hapscope.theta_sweep(fixture["train"], fixture["train_answers"], fixture["test"][:, :23],
                             fixture["test_answers"], [0.5])


def test_empty_arrays(fixture):
    with pytest.raises(ValueError, match=r"haps is empty \(shape \(0, 24\)\)"):
        hapscope.Library.build(np.zeros((0, 24), np.float32), 0.8)
    with pytest.raises(ValueError, match=r"haps is empty \(shape \(5, 0\)\)"):
        hapscope.Library.build(np.zeros((5, 0), np.float32), 0.8)
    with pytest.raises(ValueError, match="thetas is empty"):
        hapscope.theta_sweep(fixture["train"], fixture["train_answers"], fixture["test"],
                             fixture["test_answers"], [])


def test_classes_out_of_range(fixture):
    lib = hapscope.Library.build(fixture["train"], 0.8)
    bad = fixture["train_answers"].copy()
    bad[3] = -1
    with pytest.raises(ValueError, match=r"answers\[3\] = -1 is negative"):
        lib.link(fixture["train"], bad)
    with pytest.raises(ValueError, match=r"answers\[0\] = \d+ is not a class index in 0..0|classes must be at least 1"):
        lib.link(fixture["train"], fixture["train_answers"], classes=0)
    bad[3] = 12
    with pytest.raises(ValueError, match=r"answers\[3\] = 12 is not a class index in 0..10"):
        lib.link(fixture["train"], bad, classes=10)


def test_predict_needs_links(fixture):
    with pytest.raises(ValueError, match="no links yet"):
        hapscope.Library.build(fixture["train"], 0.8).predict(fixture["test"])
    with pytest.raises(ValueError, match="no links yet"):
        hapscope.Library.build(fixture["train"], 0.8).to_bytes()


def test_non_contiguous_and_float64_are_handled(fixture, linked):
    """A transposed (Fortran-order) copy, a strided view and float64 give the same results
    as the C-contiguous float32 array."""
    train, test = fixture["train"], fixture["test"]
    ref = linked.predict(test)
    fortran = np.asfortranarray(test)
    assert not fortran.flags.c_contiguous
    np.testing.assert_array_equal(linked.predict(fortran), ref)
    wide = np.zeros((test.shape[0] * 2, test.shape[1] * 2), np.float32)
    wide[::2, ::2] = test
    view = wide[::2, ::2]
    assert not view.flags.c_contiguous
    np.testing.assert_array_equal(linked.predict(view), ref)
    np.testing.assert_array_equal(linked.predict(test.astype(np.float64)), ref)
    lib = hapscope.Library.build(np.asfortranarray(train), 0.8)
    assert lib.node_ids.tolist() == linked.node_ids.tolist()
    answers = fixture["train_answers"]
    relinked = lib.link(train, answers.astype(np.int32)[::-1][::-1].copy())
    np.testing.assert_array_equal(relinked.links, linked.links)


def test_corrupt_and_missing_artifacts(fixture, linked, tmp_path):
    good = linked.to_bytes()
    with pytest.raises(ValueError, match="not a hapscope library artifact"):
        hapscope.Library.from_bytes(good[: len(good) // 2])
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x40
    with pytest.raises(ValueError, match="not a hapscope library artifact"):
        hapscope.Library.from_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="not a hapscope library artifact"):
        hapscope.Library.from_bytes(b"")
    (tmp_path / "bad.haplib").write_bytes(b"PNG\x00" * 20)
    with pytest.raises(ValueError, match="bad.haplib"):
        hapscope.Library.load(tmp_path / "bad.haplib")
    with pytest.raises(OSError):
        hapscope.Library.load(tmp_path / "missing.haplib")


def test_cpl_and_auroc_refuse_bad_input():
    a = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match="at least 2 layers"):
        hapscope.cpl([a])
    with pytest.raises(ValueError, match=r"layer_scores\[1\] has shape \(2, 4\)"):
        hapscope.cpl([a, a[:2]])
    with pytest.raises(ValueError, match="variant must be 'eq5'"):
        hapscope.cpl([a, a], variant="softmax")
    with pytest.raises(ValueError, match=r"positives\[1\] is NaN"):
        hapscope.auroc(np.array([0.1, np.nan]), np.array([0.2]))
    with pytest.raises(ValueError, match="auroc"):
        hapscope.auroc(np.array([]), np.array([0.2]))
