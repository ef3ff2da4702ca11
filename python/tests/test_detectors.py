"""The attack-agnostic detectors: fitted and calibrated on clean inputs, they score inputs
whose answer disagrees with their activity as anomalous, and agree with the Library API."""
import numpy as np
import pytest

import hapscope

CLASSES = 5
THETA = 0.95  # hundreds of nodes per layer here


@pytest.fixture(scope="module")
def data():
    """Three 'layers' of the same inputs: each a noisy view of the class."""
    rng = np.random.default_rng(21)
    rows = 1600
    labels = rng.integers(0, CLASSES, rows)
    layers = []
    for dim in (48, 24, 12):
        centres = rng.random((CLASSES, dim)).astype(np.float32) ** 3
        layers.append((centres[labels] + 0.6 * rng.random((rows, dim)) ** 3).astype(np.float32))
    split = lambda a, s: [x[s] for x in a] if isinstance(a, list) else a[s]  # noqa: E731
    train, calib, test = slice(0, 1000), slice(1000, 1400), slice(1400, rows)
    return {
        "train": split(layers, train), "train_answers": labels[train],
        "calib": split(layers, calib), "calib_answers": labels[calib],
        "test": split(layers, test), "test_answers": labels[test],
    }


@pytest.fixture(scope="module")
def detectors(data):
    return hapscope.Detectors.fit(
        data["train"], data["train_answers"], data["calib"], data["calib_answers"],
        [THETA] * 3, channels=[4, 1, 1])


def test_wrong_answers_score_as_anomalous(data, detectors):
    clean = detectors.score(data["test"], data["test_answers"])
    wrong = (data["test_answers"] + 1) % CLASSES
    fooled = detectors.score(data["test"], wrong)
    assert set(clean) == set(hapscope.Detectors.names())
    assert all(len(d.nodes) == 3 for d in [detectors]) and min(detectors.nodes) > 100
    for name in ("knn", "gauss", "fusion", "fusion-min", "min-gauss-min"):
        assert clean[name].shape == (len(wrong),)
        auc = hapscope.auroc(fooled[name], clean[name])
        assert auc > 0.95, (name, auc)
    # CPL looks at the layers' predictions only, not at the answer.
    np.testing.assert_array_equal(fooled["cpl-eq5"], clean["cpl-eq5"])
    # On clean inputs like the calibration's, about fpr of them are flagged.
    flagged = detectors.flag(data["test"], data["test_answers"], detector="min-gauss-min", fpr=0.05)
    assert flagged.dtype == np.bool_ and flagged.mean() <= 0.12
    assert detectors.flag(data["test"], wrong, fpr=0.05).mean() > 0.8
    p = detectors.p_values(data["test"], data["test_answers"], detector="fusion")
    assert np.all((p > 0) & (p <= 1))
    t = detectors.threshold("knn", 0.05)
    assert np.isfinite(t)


def test_detectors_cpl_equals_the_library_api(data, detectors):
    """The detectors' CPL statistic is −CPL of the libraries' own predictions."""
    scores = []
    for haps in data["train"]:
        lib = hapscope.Library.build(haps, THETA).link(haps, data["train_answers"], classes=CLASSES)
        scores.append(lib)
    assert detectors.nodes == [len(lib) for lib in scores]
    per_layer = [lib.predict(h, top_a=3) for lib, h in zip(scores, data["test"])]
    expected = -hapscope.cpl(per_layer, variant="eq5")
    got = detectors.score(data["test"], data["test_answers"])["cpl-eq5"]
    np.testing.assert_array_equal(got, expected)
    per_layer = [lib.predict(h, top_a=20) for lib, h in zip(scores, data["test"])]
    got = detectors.score(data["test"], data["test_answers"])["cpl-top20"]
    np.testing.assert_array_equal(got, -hapscope.cpl(per_layer, variant="top20"))


def test_squeeze_scores_enter_the_fusion(data, detectors):
    rng = np.random.default_rng(4)
    sq = rng.random(len(data["calib_answers"]))
    d = hapscope.Detectors.fit(
        data["train"], data["train_answers"], data["calib"], data["calib_answers"],
        [THETA] * 3, channels=[4, 1, 1], calib_squeeze=sq)
    n = len(data["test_answers"])
    low = d.score(data["test"], data["test_answers"], squeeze=np.zeros(n))
    high = d.score(data["test"], data["test_answers"], squeeze=np.full(n, 10.0))
    assert np.all(high["squeeze"] == 10.0)
    assert np.all(high["fusion"] > low["fusion"])


def test_bad_input(data, detectors):
    with pytest.raises(ValueError, match="at least 2 layers"):
        hapscope.Detectors.fit(data["train"][:1], data["train_answers"], data["calib"][:1],
                               data["calib_answers"], [THETA])
    with pytest.raises(ValueError, match="thetas has 2 values but train_haps has 3 layers"):
        hapscope.Detectors.fit(data["train"], data["train_answers"], data["calib"],
                               data["calib_answers"], [THETA] * 2)
    with pytest.raises(ValueError, match=r"channels\[1\] = 5 does not divide layer 1's 24 features"):
        hapscope.Detectors.fit(data["train"], data["train_answers"], data["calib"],
                               data["calib_answers"], [THETA] * 3, channels=[1, 5, 1])
    with pytest.raises(ValueError, match=r"calib_haps\[2\] has 11 columns but layer 2 was fitted on 12"):
        hapscope.Detectors.fit(data["train"], data["train_answers"],
                               data["calib"][:2] + [data["calib"][2][:, :11]],
                               data["calib_answers"], [THETA] * 3)
    with pytest.raises(ValueError, match="haps has 2 layers but the detectors were fitted on 3"):
        detectors.score(data["test"][:2], data["test_answers"])
    with pytest.raises(ValueError, match=r"haps\[1\] has 10 rows but haps\[0\] has"):
        detectors.score([data["test"][0], data["test"][1][:10], data["test"][2]],
                        data["test_answers"])
    with pytest.raises(ValueError, match="unknown detector"):
        detectors.threshold("mahalanobis")
    with pytest.raises(ValueError, match="fpr"):
        detectors.threshold("knn", 1.5)
    with pytest.raises(ValueError, match=r"answers\[0\] = 9 is not a class index in 0..5"):
        detectors.score(data["test"], np.full(len(data["test_answers"]), 9))
