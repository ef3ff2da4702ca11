"""Shared inputs of the Python package's tests.

The golden library results come from `tests/fixtures/library/make_fixture.py`, an
independent float64 NumPy implementation of the method (see its docstring); the CLI's own
results on the same files come from the `hapscope` binary named by $HAPSCOPE_CLI
(`cargo xtask test` builds it and sets the variable).
"""
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "library"


@pytest.fixture(scope="session")
def fixture():
    """The NumPy fixture: train/test HAPs and answers, and the expected results."""
    load = lambda name: np.load(FIXTURE / name)  # noqa: E731
    return {
        "train": load("train_haps.npy"),
        "train_answers": load("train_answers.npy"),
        "test": load("test_haps.npy"),
        "test_answers": load("test_answers.npy"),
        "expected": json.loads((FIXTURE / "expected.json").read_text()),
        "dir": FIXTURE,
    }


@pytest.fixture(scope="session")
def cli():
    """Path of the `hapscope` binary. Missing: skipped on a developer's machine, a failure
    under CI (a check must not pass by skipping)."""
    path = os.environ.get("HAPSCOPE_CLI") or shutil.which("hapscope")
    if path and Path(path).exists():
        return path
    message = "the hapscope CLI is not built: set HAPSCOPE_CLI (cargo xtask test does)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def clusters(rng, rows, dim, classes, spread=0.35):
    """HAPs around one random centre per class (non-negative, like ReLU activity), with
    class labels: a small stand-in for a layer's activity."""
    centres = rng.random((classes, dim)).astype(np.float32) ** 3
    labels = rng.integers(0, classes, rows)
    haps = centres[labels] + spread * rng.random((rows, dim)).astype(np.float32) ** 3
    return haps.astype(np.float32), labels
