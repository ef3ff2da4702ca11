//! Detectors of inputs that fool the network, beyond CPL. Their arithmetic — the fitted
//! layers, raw evidence, p-values and fusions — is `hapscope-fast`'s
//! [`hapscope_fast::detector`], re-exported here; this module adds what needs the network:
//! feature squeezing ([`squeeze`]), the features on tensors ([`features`]) and the adaptive
//! attacker's differentiable surrogate ([`surrogate`]).

pub mod features;
pub mod squeeze;
pub mod surrogate;

pub use features::FeatureMap;
pub use hapscope_fast::detector::{
    Components, Detector, Detectors, KNN_K, LayerDetector, LayerEvidence, LayerParts, LayerView,
    PARTS, RawScores, STATISTICS, Statistics, Thresholds, layer_evidence, raw_scores, tippett,
};
