//! `hapscope detect mnist --fast`: the detectors' evaluation on the real MNIST data and the
//! committed network (skipped with a message when ../shared/data is absent; a failure under
//! CI), checked three ways:
//!
//! - **recomputable**: every AUROC and TPR in the report follows from the per-input scores
//!   it stores (`detect.json.gz`), by the core's functions;
//! - **calibrated**: at the 5 % threshold, the realised false-positive rate on the clean
//!   evaluation digits stays below 0.15 for every detector (100 digits: 5 % ± binomial noise);
//! - **against the committed full run** (`results/mnist-detect/detect.json.gz`, made by
//!   `hapscope detect mnist --out results/mnist-detect`): for every detector and every
//!   setting both runs have (PGD at ε 0.1 and 0.3, Fashion-MNIST), the full run's AUROC lies
//!   inside the fast run's bootstrap 95 % interval widened by 0.05 — the fast run samples 100
//!   digits, so only its interval says how far it may stray;
//! - and the headline holds at fast size: at ε 0.3 the fusions beat CPL (Eq. 5), and the
//!   adaptive attacker still flips digits.
//!
//! A report written before a statistic was added reads with it NaN, and `detect --rescore`
//! recomputes it from the stored raw evidence: checked by stripping the last statistic from
//! the fast run's report and rescoring it back.
//!
//! The committed ResNet44 run (`results/resnet-detect`, made by
//! `hapscope detect resnet --out results/resnet-detect`, ≈ 1–2 h on a CPU — too long for CI)
//! is checked as recomputable from its scores and its raw evidence, and calibrated, without
//! rerunning it.

use std::io::Read;
use std::path::Path;

use hapscope_core::auroc::auroc;
use hapscope_core::calibrate::flagged_rate;
use hapscope_models::detector::{Components, RawScores, Statistics, Thresholds};
use hapscope_models::experiment::candidates::{CandidateReport, evaluate};
use hapscope_models::experiment::detection::{
    DetectReport, DetectorResult, adaptive_summary, statistic_names,
};

fn read(path: &Path) -> DetectReport {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

mod common;
use common::hapscope;

fn index(name: &str) -> usize {
    statistic_names().iter().position(|n| *n == name).unwrap()
}

/// The report's numbers, recomputed from its per-input scores.
fn check_recomputable(r: &DetectReport) {
    assert!(
        r.is_current(),
        "the {} report predates some statistics: `hapscope detect {} --rescore` recomputes them",
        r.plan.model,
        r.plan.model
    );
    let again = adaptive_summary(&r.settings, &r.plan.eps, &r.thresholds);
    assert_eq!(again.len(), r.adaptive.len());
    for (a, b) in again.iter().zip(&r.adaptive) {
        assert_eq!(
            (&a.detector, a.eps, a.inputs, a.flipped, a.evaded, a.tpr5),
            (&b.detector, b.eps, b.inputs, b.flipped, b.evaded, b.tpr5)
        );
    }
    for s in &r.settings {
        for (d, res) in s.results.iter().enumerate() {
            let clean: Vec<f64> = r.clean.iter().map(|c| c[d]).collect();
            let hit: Vec<f64> = s.scores.iter().filter(|x| x.1).map(|x| x.0[d]).collect();
            assert_eq!(hit.len(), s.successes);
            if hit.is_empty() {
                assert!(res.auroc.is_none() && res.ci.is_none());
                continue;
            }
            // Within 1e-12: serde_json's default float parser may miss the stored value's
            // last bit.
            let a = res.auroc.unwrap();
            let again = auroc(&hit, &clean).unwrap();
            assert!(
                (a - again).abs() < 1e-12,
                "{} {}: {a} vs {again}",
                s.kind,
                res.detector
            );
            let ci = res.ci.unwrap();
            assert!(ci[0] <= a && a <= ci[1]);
            for (k, t) in r.thresholds[d].iter().enumerate() {
                assert_eq!(res.tpr[k], flagged_rate(&hit, *t));
            }
        }
    }
}

/// The report's statistics, thresholds and per-layer AUROCs, recomputed from the raw evidence
/// it stores: set A's p-values applied to every input's raw scores give its stored
/// statistics, set B's statistics give the stored thresholds. The report must carry the
/// evidence.
fn check_evidence(r: &DetectReport) {
    let ev = r
        .evidence
        .as_ref()
        .expect("the report stores no raw evidence (written before it was stored?)");
    assert_eq!(
        r.calibration,
        [ev.calibration_a.len(), ev.calibration_b.len()]
    );
    let comp = Components::new(&ev.calibration_a).unwrap();
    let stats = |raw: &[RawScores]| -> Vec<Statistics> {
        raw.iter().map(|x| comp.statistics(x).unwrap()).collect()
    };
    // Exact: the models crate's tests parse floats with serde_json's `float_roundtrip`.
    let cal = Thresholds::new(&stats(&ev.calibration_b))
        .unwrap()
        .calibrations;
    for (d, c) in cal.iter().enumerate() {
        assert_eq!(
            [c.threshold(0.01).unwrap(), c.threshold(0.05).unwrap()],
            r.thresholds[d],
            "{}: thresholds",
            statistic_names()[d]
        );
    }
    assert_eq!(stats(&ev.clean), r.clean, "clean statistics");
    for s in &r.settings {
        assert_eq!(s.raw.len(), s.scores.len(), "{} ε {}", s.kind, s.eps);
        let again = stats(&s.raw);
        for (a, (b, _)) in again.iter().zip(&s.scores) {
            assert_eq!(a, b, "{} ε {}: statistics", s.kind, s.eps);
        }
        let hit: Vec<&RawScores> = s
            .raw
            .iter()
            .zip(&s.scores)
            .filter(|x| x.1.1)
            .map(|x| x.0)
            .collect();
        for (l, per) in s.per_layer.iter().enumerate() {
            let Some([k, g]) = per else {
                assert!(hit.is_empty());
                continue;
            };
            let knn = |v: &[&RawScores]| v.iter().map(|x| f64::from(x.knn[l])).collect::<Vec<_>>();
            let gauss = |v: &[&RawScores]| v.iter().map(|x| x.gauss[l]).collect::<Vec<_>>();
            let clean: Vec<&RawScores> = ev.clean.iter().collect();
            assert_eq!(
                *k,
                auroc(&knn(&hit), &knn(&clean)).unwrap(),
                "layer {l} k-NN"
            );
            assert_eq!(
                *g,
                auroc(&gauss(&hit), &gauss(&clean)).unwrap(),
                "layer {l} Gaussian"
            );
        }
    }
}

/// A report written before the last statistic was added (here: `fast`'s, with it stripped
/// from every row, threshold and table) reads with it NaN, is refused by `--render-only`,
/// and `--rescore` restores `fast` from the raw evidence.
fn check_rescore(dir: &Path, fast: &DetectReport) {
    let last = statistic_names().len() - 1;
    let mut v = serde_json::to_value(fast).unwrap();
    let strip = |row: &mut serde_json::Value| {
        row.as_array_mut().unwrap().truncate(last);
    };
    for row in v["clean"].as_array_mut().unwrap() {
        strip(row);
    }
    for key in ["thresholds", "realised_fpr"] {
        strip(&mut v[key]);
    }
    for s in v["settings"].as_array_mut().unwrap() {
        strip(&mut s["results"]);
        for pair in s["scores"].as_array_mut().unwrap() {
            strip(&mut pair[0]);
        }
    }
    let old: DetectReport = serde_json::from_value(v.clone()).unwrap();
    assert!(!old.is_current());
    assert!(old.clean.iter().all(|s| s[last].is_nan()));
    let old_dir = dir.join("old");
    std::fs::create_dir_all(&old_dir).unwrap();
    let file = std::fs::File::create(old_dir.join("detect.json.gz")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    serde_json::to_writer(&mut gz, &v).unwrap();
    gz.finish().unwrap();
    let run = |flag: &str| {
        common::run(&[
            "detect".as_ref(),
            "mnist".as_ref(),
            flag.as_ref(),
            "--out".as_ref(),
            old_dir.as_os_str(),
        ])
    };
    let refused = run("--render-only");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--rescore"));
    let ok = run("--rescore");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let back = read(&old_dir.join("detect.json.gz"));
    assert!(back.is_current());
    assert_eq!(back.clean, fast.clean);
    assert_eq!(back.thresholds, fast.thresholds);
    assert_eq!(back.realised_fpr, fast.realised_fpr);
    assert_eq!(
        serde_json::to_value(&back.settings).unwrap(),
        serde_json::to_value(&fast.settings).unwrap()
    );
    assert_eq!(
        serde_json::to_value(&back.adaptive).unwrap(),
        serde_json::to_value(&fast.adaptive).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(old_dir.join("detect.md")).unwrap(),
        std::fs::read_to_string(dir.join("detect.md")).unwrap()
    );
}

/// A non-adaptive setting's (kind, ε, successes, per-detector results).
type Row<'a> = (&'a str, f32, usize, &'a [DetectorResult]);

/// A report's non-adaptive settings as [`Row`]s.
fn rows(r: &DetectReport) -> Vec<Row<'_>> {
    r.settings
        .iter()
        .filter(|s| s.kind != "adaptive")
        .map(|s| (s.kind.as_str(), s.eps, s.successes, s.results.as_slice()))
        .collect()
}

/// The candidates' settings (non-adaptive already) as [`Row`]s.
fn candidate_rows(c: &CandidateReport) -> Vec<Row<'_>> {
    c.settings
        .iter()
        .map(|(kind, eps, n, res)| (kind.as_str(), *eps, *n, res.as_slice()))
        .collect()
}

/// How many of the full run's AUROCs were compared with the fast run's: for every setting
/// both have (kind and ε) and every detector, the full AUROC must lie inside the fast run's
/// bootstrap 95 % interval widened by 0.05 (settings with fewer than 10 fast successes are
/// skipped — their interval says little).
fn compared_with_full(fast: &[Row<'_>], full: &[Row<'_>]) -> usize {
    let mut compared = 0;
    for &(kind, eps, n, res) in fast {
        let Some(&(_, _, _, full_res)) = full
            .iter()
            .find(|f| f.0 == kind && (f.1 - eps).abs() < 1e-6)
        else {
            continue;
        };
        for (a, b) in res.iter().zip(full_res) {
            let (Some(ci), Some(full_auroc)) = (a.ci, b.auroc) else {
                continue;
            };
            if n < 10 {
                continue;
            }
            assert!(
                full_auroc >= ci[0] - 0.05 && full_auroc <= ci[1] + 0.05,
                "{kind} ε {eps} {}: full AUROC {full_auroc} outside the fast interval {ci:?}",
                a.detector,
            );
            compared += 1;
        }
    }
    compared
}

#[test]
fn detect_mnist_fast() {
    use hapscope_models::data::locate::{data_with, require_or_skip};
    let Some(data) = require_or_skip(data_with(&["mnist"])) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("hapscope-detect-{}", std::process::id()));
    hapscope(&[
        "detect".as_ref(),
        "mnist".as_ref(),
        "--fast".as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
        "--out".as_ref(),
        dir.as_os_str(),
    ]);
    for f in ["detect.md", "detect-roc.svg", "detect-adaptive.svg"] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let fast = read(&dir.join("detect.json.gz"));
    assert!(fast.plan.fast);
    check_recomputable(&fast);
    check_evidence(&fast);
    check_rescore(&dir, &fast);
    for (d, name) in statistic_names().iter().enumerate() {
        assert!(
            fast.realised_fpr[d][1] <= 0.15,
            "{name}: realised FPR {:?}",
            fast.realised_fpr[d]
        );
    }
    let full =
        read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../results/mnist-detect/detect.json.gz"));
    assert!(!full.plan.fast);
    check_recomputable(&full);
    check_evidence(&full);
    let compared = compared_with_full(&rows(&fast), &rows(&full));
    assert!(
        compared >= 14,
        "only {compared} AUROCs compared with the full run"
    );
    // The candidate combinations, scored from each run's raw evidence: calibrated, and the
    // full run's AUROCs inside the fast run's widened intervals, as for the detectors.
    let cand =
        |r: &DetectReport| -> CandidateReport { evaluate(r).unwrap().expect("raw evidence") };
    let (cf, cfull) = (cand(&fast), cand(&full));
    assert_eq!(cf.names, cfull.names);
    for (k, name) in cf.names.iter().enumerate() {
        assert!(
            cf.realised_fpr[k][1] <= 0.15,
            "{name}: realised FPR {:?}",
            cf.realised_fpr[k]
        );
        assert!(
            cfull.realised_fpr[k][1] <= 0.10,
            "{name}: full run's realised FPR {:?}",
            cfull.realised_fpr[k]
        );
    }
    let compared = compared_with_full(&candidate_rows(&cf), &candidate_rows(&cfull));
    assert!(compared >= 6, "only {compared} candidate AUROCs compared");
    assert!(!cfull.adaptive.is_empty() && !cf.adaptive.is_empty());
    let at = |r: &DetectReport, eps: f32, d: &str| {
        r.settings
            .iter()
            .find(|s| s.kind == "pgd" && (s.eps - eps).abs() < 1e-6)
            .and_then(|s| s.results[index(d)].auroc)
            .unwrap()
    };
    for d in ["fusion", "fusion-min", "min-gauss-min"] {
        assert!(
            at(&fast, 0.3, d) > at(&fast, 0.3, "cpl-eq5"),
            "{d} vs CPL at ε 0.3"
        );
    }
    // The adaptive attacker is a real attack: it flips most digits at ε 0.3.
    let flipped = fast
        .adaptive
        .iter()
        .filter(|a| (a.eps - 0.3).abs() < 1e-6)
        .map(|a| a.flipped)
        .fold(0.0, f64::max);
    assert!(
        flipped >= 0.5,
        "adaptive PGD flipped only {flipped} at ε 0.3"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The committed ResNet44 run: recomputable, calibrated on the ≈ 465 clean evaluation images,
/// every ε of the plan attacked, and an adaptive attacker that is a real attack — it flips
/// nearly every image at 16/255, where an undefended CIFAR-10 network has no robustness left.
#[test]
fn detect_resnet_committed() {
    let r = read(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../results/resnet-detect/detect.json.gz"),
    );
    assert_eq!(r.plan.model, "resnet");
    assert!(!r.plan.fast);
    check_recomputable(&r);
    check_evidence(&r);
    assert!(
        r.clean.len() >= 400,
        "{} clean evaluation images",
        r.clean.len()
    );
    for (d, name) in statistic_names().iter().enumerate() {
        assert!(
            r.realised_fpr[d][1] <= 0.10,
            "{name}: realised FPR {:?}",
            r.realised_fpr[d]
        );
    }
    for &eps in &r.plan.eps {
        let s = r
            .settings
            .iter()
            .find(|s| s.kind == "pgd" && s.eps == eps)
            .unwrap_or_else(|| panic!("no PGD at ε {eps}"));
        assert_eq!(s.inputs, r.clean.len());
    }
    let last = *r.plan.eps.last().unwrap();
    let flipped = r
        .adaptive
        .iter()
        .filter(|a| a.eps == last)
        .map(|a| a.flipped)
        .fold(0.0, f64::max);
    assert!(
        flipped >= 0.9,
        "adaptive PGD flipped only {flipped} at the largest ε"
    );
}

/// The committed tables (`results/*-detect/detect.md`) are what `hapscope detect …
/// --render-only` writes from the committed `detect.json.gz` — including the candidate
/// combinations, rescored from the MNIST run's raw evidence — so no number in them is
/// hand-edited or left from an older report. (The SVGs are not compared: the test build's
/// ROC thinning lands a point or two differently from the release build's.)
#[test]
fn committed_tables_follow_from_the_committed_reports() {
    for model in ["mnist", "resnet"] {
        let committed =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../results/{model}-detect"));
        let dir =
            std::env::temp_dir().join(format!("hapscope-render-{model}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(committed.join("detect.json.gz"), dir.join("detect.json.gz")).unwrap();
        hapscope(&[
            "detect".as_ref(),
            model.as_ref(),
            "--render-only".as_ref(),
            "--out".as_ref(),
            dir.as_os_str(),
        ]);
        let again = std::fs::read_to_string(dir.join("detect.md")).unwrap();
        let there = std::fs::read_to_string(committed.join("detect.md")).unwrap();
        assert!(
            again == there,
            "results/{model}-detect/detect.md differs from its re-render (run `hapscope detect {model} --render-only --out results/{model}-detect`)"
        );
        if model == "mnist" {
            assert!(
                again.contains("## Candidate combinations"),
                "no candidates section"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
