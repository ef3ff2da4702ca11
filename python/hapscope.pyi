"""Library networks (Lee 2019) on numpy arrays of hidden-layer activity (HAPs).

Arrays in: 2-D float32 (float64 is rounded to float32; other strides are copied once),
1-D integer class indices. Bad input raises TypeError (dtype, not an array) or ValueError
(rank, empty, NaN/Inf with its row and column, θ out of range, mismatched rows, corrupt
artifacts); missing files raise OSError. Heavy calls release the GIL.
"""

from os import PathLike
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

__version__: str

FloatArray = npt.NDArray[Union[np.float32, np.float64]]
IntArray = npt.NDArray[np.integer]

class Library:
    """One layer's library: unit node vectors, the training row each came from, and —
    once linked — their links to the network's answers (Eq. 2). Immutable."""

    @staticmethod
    def build(haps: FloatArray, theta: float, *, screen: bool = True) -> "Library":
        """The library of `haps` (rows × features, training order) at novelty threshold
        `theta` in [-1, 1]: a row becomes a node when its cosine to every stored node is
        below θ; all-zero rows never do. `screen` allows exact shortcuts (same nodes)."""
    def link(
        self, haps: FloatArray, answers: IntArray, *, classes: Optional[int] = None
    ) -> "Library":
        """A copy with links (Eq. 2) from training rows and the network's answers on them
        (0..classes; `classes` defaults to max(answers) + 1)."""
    def predict(self, haps: FloatArray, *, top_a: int = 3) -> npt.NDArray[np.float32]:
        """Class scores P (Eq. 3) per row from its `top_a` most similar nodes:
        rows × classes. Needs links; argmax(1) is the layer's predicted answer."""
    @property
    def theta(self) -> float: ...
    @property
    def dim(self) -> int:
        """Features per row."""
    @property
    def node_ids(self) -> npt.NDArray[np.uint32]:
        """The training row each node came from, in creation order."""
    @property
    def vectors(self) -> npt.NDArray[np.float32]:
        """Unit node vectors, nodes × dim (a copy)."""
    @property
    def links(self) -> Optional[npt.NDArray[np.float32]]:
        """Links, nodes × classes, or None before `link`."""
    @property
    def classes(self) -> Optional[int]: ...
    def __len__(self) -> int:
        """Number of nodes."""
    def to_bytes(self, *, layer: str = "layer") -> bytes:
        """The CLI's artifact format (`hapscope library --artifact`; read by
        `hapscope predict --artifact`). Needs links."""
    def save(self, path: Union[str, "PathLike[str]"], *, layer: str = "layer") -> None: ...
    @staticmethod
    def from_bytes(data: bytes) -> "Library":
        """Reads the artifact format (version, checksum and sizes checked)."""
    @staticmethod
    def load(path: Union[str, "PathLike[str]"]) -> "Library": ...

def theta_sweep(
    train_haps: FloatArray,
    train_answers: IntArray,
    test_haps: FloatArray,
    test_answers: IntArray,
    thetas: Sequence[float],
    *,
    top_a: int = 3,
    classes: Optional[int] = None,
    screen: bool = True,
) -> Dict[str, np.ndarray]:
    """Every θ's library in one pass, linked and scored: a dict of arrays `theta`,
    `nodes` (library sizes), `top1` and `top3` (agreement with `test_answers`)."""

def cpl(layer_scores: Sequence[FloatArray], *, variant: str = "eq5") -> npt.NDArray[np.float64]:
    """CPL (Eq. 5) per row from each layer's class scores (rows × classes, input to
    output, at least 2 layers). 'eq5': the paper's equation on top-a scores; 'top20': its
    code's softmax variant on top-20 scores (`predict(..., top_a=20)`)."""

def auroc(positives: npt.ArrayLike, negatives: npt.ArrayLike) -> float:
    """Area under the ROC curve of scores higher on `positives` (Mann–Whitney; ties
    count half)."""

class Detectors:
    """The attack-agnostic detectors of `hapscope detect`, fitted and calibrated on clean
    inputs only: per layer a library, links, node classes and a class-conditional
    Gaussian; library k-NN conformity, Gaussian, CPL and their Fisher / Tippett fusions."""

    @staticmethod
    def fit(
        train_haps: Sequence[FloatArray],
        train_answers: IntArray,
        calib_haps: Sequence[FloatArray],
        calib_answers: IntArray,
        thetas: Sequence[float],
        *,
        classes: Optional[int] = None,
        channels: Optional[Sequence[int]] = None,
        top_a: int = 3,
        calib_squeeze: Optional[npt.ArrayLike] = None,
        screen: bool = True,
    ) -> "Detectors":
        """One array per layer (input to output, at least 2). `channels[l]` > 1 fits the
        Gaussian on per-channel means (a conv layer flattened channel-major). Calibration
        rows: even ones give the fusions' p-values, odd ones the thresholds (a few hundred
        clean inputs the fit did not see). `calib_squeeze`: feature squeezing's score per
        calibration input, if any (then pass `squeeze` when scoring)."""
    @staticmethod
    def names() -> List[str]:
        """cpl-eq5, cpl-top20, knn, gauss, squeeze, fusion, fusion-min, min-gauss-min."""
    def score(
        self,
        haps: Sequence[FloatArray],
        answers: IntArray,
        *,
        squeeze: Optional[npt.ArrayLike] = None,
    ) -> Dict[str, npt.NDArray[np.float64]]:
        """Every statistic per input (higher = more anomalous), by name."""
    def p_values(
        self,
        haps: Sequence[FloatArray],
        answers: IntArray,
        *,
        detector: str = "min-gauss-min",
        squeeze: Optional[npt.ArrayLike] = None,
    ) -> npt.NDArray[np.float64]:
        """The chance a clean input scores at least as high, per input."""
    def threshold(self, detector: str = "min-gauss-min", fpr: float = 0.05) -> float:
        """Flags `statistic > threshold` on at most `fpr` of the clean calibration."""
    def flag(
        self,
        haps: Sequence[FloatArray],
        answers: IntArray,
        *,
        detector: str = "min-gauss-min",
        fpr: float = 0.05,
        squeeze: Optional[npt.ArrayLike] = None,
    ) -> npt.NDArray[np.bool_]: ...
    @property
    def nodes(self) -> List[int]:
        """Library size per layer."""
    @property
    def classes(self) -> int: ...
