//! The candidate combinations of [`hapscope_fast::detector::candidates`], evaluated from a
//! detection report's raw evidence ([`DetectReport::evidence`]) exactly as the report
//! evaluates its own statistics: p-values from clean set A, thresholds from clean set B, the
//! realised false-positive rate on the clean evaluation inputs, AUROC with its bootstrap
//! interval on the successful attacks, and the adaptive attacker's best attempt per input.
//! No attack is rerun — the candidates see the same inputs as every detector.

use hapscope_fast::detector::RawScores;
use hapscope_fast::detector::candidates::{CANDIDATE_NAMES, CANDIDATES, Candidates};
use serde::{Deserialize, Serialize};

use super::Result;
use super::detection::{
    AdaptiveRow, DetectReport, DetectorResult, Setting, columns_adaptive, columns_results,
    columns_thresholds, setting_raw,
};

/// The candidates' numbers on one report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CandidateReport {
    /// [`CANDIDATE_NAMES`].
    pub names: Vec<String>,
    /// Thresholds per candidate at 1 % and 5 % FPR (set B).
    pub thresholds: Vec<[f64; 2]>,
    /// Realised FPR on the clean evaluation inputs at 1 % and 5 %.
    pub realised_fpr: Vec<[f64; 2]>,
    /// Per non-adaptive setting (the report's order): kind, ε, successes, results.
    pub settings: Vec<(String, f32, usize, Vec<DetectorResult>)>,
    /// The adaptive attacker's best attempt, per candidate and ε.
    pub adaptive: Vec<AdaptiveRow>,
}

fn scores(c: &Candidates, raw: &[RawScores]) -> Result<Vec<[f64; CANDIDATES]>> {
    Ok(raw
        .iter()
        .map(|r| c.scores(r))
        .collect::<hapscope_core::Result<_>>()?)
}

/// The candidates on `report`, or `None` when it stores no raw evidence (written before
/// the evidence was stored).
pub fn evaluate(report: &DetectReport) -> Result<Option<CandidateReport>> {
    let Some(ev) = &report.evidence else {
        return Ok(None);
    };
    let c = Candidates::new(&ev.calibration_a)?;
    let clean = scores(&c, &ev.clean)?;
    let (thresholds, realised_fpr) =
        columns_thresholds(&scores(&c, &ev.calibration_b)?, &clean, CANDIDATES)?;
    let scored: Vec<(&Setting, Vec<[f64; CANDIDATES]>)> = report
        .settings
        .iter()
        .map(|s| Ok((s, scores(&c, setting_raw(s)?)?)))
        .collect::<Result<_>>()?;
    let mut settings = Vec::new();
    for (s, v) in scored.iter().filter(|(s, _)| s.kind != "adaptive") {
        let hit: Vec<[f64; CANDIDATES]> = v
            .iter()
            .zip(&s.scores)
            .filter(|(_, x)| x.1)
            .map(|(v, _)| *v)
            .collect();
        let res = columns_results(
            &CANDIDATE_NAMES,
            &clean,
            &hit,
            &thresholds,
            report.plan.bootstrap,
            100,
        )?;
        settings.push((s.kind.clone(), s.eps, hit.len(), res));
    }
    Ok(Some(CandidateReport {
        names: CANDIDATE_NAMES.iter().map(|n| n.to_string()).collect(),
        adaptive: columns_adaptive(&CANDIDATE_NAMES, &scored, &report.plan.eps, &thresholds),
        thresholds,
        realised_fpr,
        settings,
    }))
}
