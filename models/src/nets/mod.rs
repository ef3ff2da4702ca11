//! The paper's networks, each exposing its taps by name.

pub mod lenet;
pub mod resnet44;
