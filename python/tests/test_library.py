"""Library, links and predictions against the independent NumPy fixture and the CLI."""
import json
import subprocess

import numpy as np
import pytest

import hapscope


def test_library_matches_the_numpy_reference(fixture):
    e = fixture["expected"]
    assert len(e["runs"]) >= 2
    for run in e["runs"]:
        lib = hapscope.Library.build(fixture["train"], run["theta"])
        assert len(lib) == run["size"]
        assert lib.node_ids.tolist() == run["node_ids"]
        lib = lib.link(fixture["train"], fixture["train_answers"], classes=e["classes"])
        scores = lib.predict(fixture["test"], top_a=e["top_a"])
        assert scores.shape == (len(fixture["test"]), e["classes"])
        assert scores.dtype == np.float32
        assert scores.argmax(1).tolist() == run["predictions"]
        top1 = (scores.argmax(1) == fixture["test_answers"]).mean()
        assert top1 == pytest.approx(run["top1"], abs=1e-12)


def test_nodes_are_unit_rows_of_the_training_haps(fixture):
    lib = hapscope.Library.build(fixture["train"], 0.8)
    rows = fixture["train"][lib.node_ids]
    unit = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    np.testing.assert_allclose(lib.vectors, unit, rtol=0, atol=1e-6)
    assert lib.dim == fixture["train"].shape[1] and lib.theta == pytest.approx(0.8)


def test_theta_sweep_equals_one_library_per_theta(fixture):
    e = fixture["expected"]
    thetas = [r["theta"] for r in e["runs"]]
    s = hapscope.theta_sweep(
        fixture["train"], fixture["train_answers"], fixture["test"], fixture["test_answers"],
        thetas, top_a=e["top_a"], classes=e["classes"],
    )
    assert s["nodes"].tolist() == [r["size"] for r in e["runs"]]
    np.testing.assert_allclose(s["top1"], [r["top1"] for r in e["runs"]], atol=1e-12)
    np.testing.assert_allclose(s["top3"], [r["top3"] for r in e["runs"]], atol=1e-12)


def _cli_library(cli, fixture, theta, out):
    d = fixture["dir"]
    subprocess.run(
        [cli, "library",
         "--train-haps", str(d / "train_haps.npy"), "--train-answers", str(d / "train_answers.npy"),
         "--test-haps", str(d / "test_haps.npy"), "--test-answers", str(d / "test_answers.npy"),
         "--theta", str(theta), "--json", str(out / "lib.json"), "--artifact", str(out / "lib.haplib")],
        check=True, capture_output=True,
    )
    return json.loads((out / "lib.json").read_text())


def test_python_and_cli_write_the_same_artifact_and_read_each_other(cli, fixture, tmp_path):
    e = fixture["expected"]
    for run in e["runs"]:
        theta = run["theta"]
        got = _cli_library(cli, fixture, theta, tmp_path)
        lib = hapscope.Library.build(fixture["train"], theta).link(
            fixture["train"], fixture["train_answers"], classes=got["classes"])
        # Same library, links and predictions: the CLI names the layer after its input file.
        assert got["node_ids"] == lib.node_ids.tolist()
        assert got["predictions"] == lib.predict(fixture["test"]).argmax(1).tolist()
        cli_bytes = (tmp_path / "lib.haplib").read_bytes()
        assert lib.to_bytes(layer="train_haps") == cli_bytes
        # The CLI's artifact loads in Python and predicts the same.
        back = hapscope.Library.load(tmp_path / "lib.haplib")
        np.testing.assert_array_equal(back.links, lib.links)
        np.testing.assert_array_equal(back.predict(fixture["test"]), lib.predict(fixture["test"]))
        # Python's artifact loads in the CLI (`hapscope predict`) and predicts the same.
        lib.save(tmp_path / "py.haplib", layer="CN2")
        subprocess.run(
            [cli, "predict", "--artifact", str(tmp_path / "py.haplib"),
             "--haps", str(fixture["dir"] / "test_haps.npy"),
             "--answers", str(fixture["dir"] / "test_answers.npy"),
             "--json", str(tmp_path / "pred.json")],
            check=True, capture_output=True,
        )
        pred = json.loads((tmp_path / "pred.json").read_text())
        assert pred["predictions"] == run["predictions"]
        assert pred["layer"] == "CN2" and pred["nodes"] == run["size"]
        assert pred["top1"] == pytest.approx(run["top1"], abs=1e-12)


def test_save_and_load_round_trip(fixture, tmp_path):
    lib = hapscope.Library.build(fixture["train"], 0.6).link(
        fixture["train"], fixture["train_answers"])
    lib.save(tmp_path / "a.haplib", layer="FC1")
    back = hapscope.Library.load(str(tmp_path / "a.haplib"))
    assert back.node_ids.tolist() == lib.node_ids.tolist()
    np.testing.assert_array_equal(back.vectors, lib.vectors)
    np.testing.assert_array_equal(back.links, lib.links)
    assert back.to_bytes(layer="FC1") == lib.to_bytes(layer="FC1")
    np.testing.assert_array_equal(back.predict(fixture["test"]), lib.predict(fixture["test"]))


def test_zero_rows_never_become_nodes_and_predict_zero_scores(fixture):
    train = fixture["train"].copy()
    train[0] = 0.0
    lib = hapscope.Library.build(train, 0.8)
    assert 0 not in lib.node_ids.tolist()
    lib = lib.link(train, fixture["train_answers"])
    s = lib.predict(np.zeros((2, train.shape[1]), np.float32))
    assert np.all(s == 0.0)
