"""The README's Python example runs as written (on stand-in arrays with the names it uses)."""
import re

import numpy as np

from conftest import ROOT


def test_readme_example_runs(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text()
    section = text.split("## From Python", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    rng = np.random.default_rng(8)
    per_layer = []
    labels = rng.integers(0, 10, 2400)
    for dim in (32 * 9, 40):
        centres = rng.random((10, dim)).astype(np.float32) ** 3
        per_layer.append((centres[labels] + 0.5 * rng.random((2400, dim)) ** 3).astype(np.float32))
    train, calib, test = slice(0, 1600), slice(1600, 2000), slice(2000, 2400)
    import hapscope
    libs = [hapscope.Library.build(h[train], 0.8).link(h[train], labels[train]) for h in per_layer]
    env = {
        "train_haps": per_layer[1][train], "train_answers": labels[train],
        "test_haps": per_layer[1][test], "test_answers": labels[test],
        "libs": libs, "per_layer_test": [h[test] for h in per_layer],
        "per_layer_train": [h[train] for h in per_layer],
        "per_layer_calib": [h[calib] for h in per_layer], "calib_answers": labels[calib],
    }
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), env)
    assert (tmp_path / "CN2.haplib").exists()
    assert env["cpl"].shape == (400,)
