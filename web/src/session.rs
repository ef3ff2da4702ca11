//! A loaded model: the bundle's libraries, the network on the chosen device, and the
//! operations the page calls (`analyze`, `attack`).

use std::rc::Rc;

use burn::prelude::*;
use hapscope_core::artifact::LibraryArtifact;
use hapscope_models::detector::squeeze::{squeeze_scores, squeezed_tensor};
use hapscope_models::detector::surrogate::{Surrogate, Target};
use hapscope_models::detector::{Detector, LayerParts, LayerView};
use hapscope_models::experiment::HostTaps;
use hapscope_models::network::Network;
use hapscope_models::page::build::exemplar_taps;
use hapscope_models::page::bundle::{Bundle, parse_manifest};
use hapscope_models::page::model::{Analysis, DetectorReading, LayerAnalysis, PageModel};
use hapscope_models::page::passes::PassPlan;
use hapscope_models::pgd::{PgdConfig, PgdSpace, check_eps, pgd, try_pgd_objective};
use hapscope_models::taps::answers_from_logits;
use js_sys::{Array, Float32Array, Uint8Array};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::backend::{Kind, choose};

struct State {
    kind: Kind,
    fallback: Option<String>,
    device: Device,
    ad: Device,
    net: Network,
    net_ad: Network,
    model: PageModel,
    /// The detectors' differentiable terms on the autodiff device (the adaptive attack),
    /// made at the first adaptive attack (not every visitor asks for one); `None` inside for
    /// a bundle without detectors.
    surrogate: std::cell::OnceCell<Option<Surrogate>>,
    /// `[channels, height, width]` of an input.
    input: [usize; 3],
    /// The tapped layers, as the bundle lists them.
    layers: Vec<String>,
    network: String,
    classes: Vec<String>,
    /// Whether this load computed libraries from the exemplars whose vectors the page has
    /// not yet taken ([`Hapscope::take_node_rows`]) to keep for its next visit.
    to_keep: std::cell::Cell<bool>,
    /// Milliseconds of each step of the load, in order (`info().load_phases`).
    phases: Vec<(&'static str, f64)>,
}

impl State {
    /// The adaptive attacker's surrogate, made on first use.
    fn surrogate(&self) -> Option<&Surrogate> {
        self.surrogate
            .get_or_init(|| {
                let d = self.model.detectors.as_ref()?;
                let views: Vec<LayerView<'_>> = self
                    .model
                    .layers
                    .iter()
                    .zip(&d.layers)
                    .map(|(l, p)| LayerView {
                        library: &l.library,
                        links: &l.links,
                        detector: Some(LayerParts {
                            node_classes: &p.node_classes,
                            features: p.features,
                            gaussian: &p.gaussian,
                        }),
                    })
                    .collect();
                let taps: Vec<usize> = (0..views.len()).collect();
                Surrogate::from_views(&taps, &views, self.classes.len(), d.squeeze_bits, &self.ad)
            })
            .as_ref()
    }
}

/// What `analyze` resolves to (the page's and `window.hapscope`'s shape).
#[derive(Serialize)]
struct AnalysisOut<'a> {
    answer: usize,
    backend: &'static str,
    cpl: f64,
    /// The verdict of `verdict_by`.
    verdict: &'static str,
    verdict_by: &'static str,
    /// CPL's own verdict and threshold.
    cpl_verdict: &'static str,
    threshold: f64,
    /// Every detector's score, threshold, p-value and flag.
    detectors: &'a [DetectorReading],
    layers: &'a [LayerAnalysis],
    /// Milliseconds spent in the forward pass (with the reads) and in the libraries.
    ms: Timings,
}

/// Where an analysis spent its time.
#[derive(Serialize, Clone, Copy, Default)]
struct Timings {
    forward: f64,
    libraries: f64,
}

/// `performance.now()` in a window or a worker (0 where there is none).
fn now() -> f64 {
    js_sys::Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .and_then(|p| {
            let f = js_sys::Reflect::get(&p, &"now".into()).ok()?;
            f.dyn_into::<js_sys::Function>()
                .ok()?
                .call0(&p)
                .ok()?
                .as_f64()
        })
        .unwrap_or(0.0)
}

/// Layer facts for the page.
#[derive(Serialize)]
struct LayerInfo<'a> {
    name: &'a str,
    theta: f32,
    nodes: usize,
    dim: usize,
}

/// The detectors' facts for the page.
#[derive(Serialize)]
struct DetectorsInfo {
    /// The detector behind the verdict.
    verdict: &'static str,
    /// Its threshold at the target false-positive rate.
    threshold: f64,
    /// The target false-positive rate (clean calibration images).
    false_positive_rate: f64,
    /// Every detector's name, in reading order.
    names: Vec<&'static str>,
}

/// What `info` returns.
#[derive(Serialize)]
struct Info<'a> {
    network: &'a str,
    input: [usize; 3],
    classes: &'a [String],
    backend: &'static str,
    fallback: Option<&'a str>,
    layers: Vec<LayerInfo<'a>>,
    threshold: f64,
    false_positive_rate: f64,
    calibration_digits: usize,
    top_a: usize,
    detectors: Option<DetectorsInfo>,
    /// Milliseconds of each step of the load: parsing and checking the bundle, the node
    /// rows (exemplar passes, or taking in the kept ones), the libraries and detectors, the
    /// backend and networks.
    load_phases: std::collections::BTreeMap<&'static str, f64>,
}

fn js_err(e: impl std::fmt::Display) -> JsValue {
    JsError::new(&e.to_string()).into()
}

/// A plain JS object from `v`, through JSON: one boundary crossing (serde-wasm-bindgen's
/// call per field took ~100 ms for one analysis here).
fn to_js<T: Serialize>(v: &T) -> Result<JsValue, JsValue> {
    let text = serde_json::to_string(v).map_err(js_err)?;
    js_sys::JSON::parse(&text)
}

/// Checks an image from JS: `c × h × w` finite values in [0, 1].
fn check_pixels(px: &[f32], [c, h, w]: [usize; 3]) -> Result<(), JsValue> {
    if px.len() != c * h * w {
        let what = if c == 1 {
            format!("a digit is {} values ({h} × {w}, row-major)", h * w)
        } else {
            format!(
                "an image is {} values ({c} × {h} × {w}, channel-major)",
                c * h * w
            )
        };
        return Err(js_err(format!("{what}, got {}", px.len())));
    }
    if let Some(i) = px
        .iter()
        .position(|v| !v.is_finite() || !(0.0..=1.0).contains(v))
    {
        return Err(js_err(format!(
            "pixel {i} is {}: values must be finite and in [0, 1]",
            px[i]
        )));
    }
    Ok(())
}

/// The most PGD steps one `attack` call may ask for: PGD-1000 takes seconds on the CPU engine
/// (MNIST), and a call is not cancellable, so a larger count would hold the worker.
pub const MAX_STEPS: u32 = 1000;

/// The PGD steps an `attack` call asked for: [`PgdConfig`]'s 40 when not given, else a count
/// in 1..=[`MAX_STEPS`].
fn check_steps(steps: Option<u32>) -> Result<usize, JsValue> {
    match steps {
        None => Ok(PgdConfig::new(0.0).steps),
        Some(n @ 1..=MAX_STEPS) => Ok(n as usize),
        Some(n) => Err(js_err(format!("steps must be in 1..={MAX_STEPS}, got {n}"))),
    }
}

/// Reads a tensor asynchronously (the only kind of read WebGPU allows).
async fn read(t: Tensor<2>) -> Result<Vec<f32>, JsValue> {
    t.into_data_async()
        .await
        .map_err(|e| js_err(format!("reading a tensor from the device: {e:?}")))?
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| js_err(format!("reading a tensor from the device: {e:?}")))
}

/// Forward pass of one image `px` (of shape `input`) through `net` on `device`, with the
/// taps named in `layers`, read back to the host; with the logits, and feature squeezing's
/// score at `squeeze_bits` (NaN without): the first step of `analyze`.
async fn host_taps(
    net: &Network,
    device: &Device,
    input: [usize; 3],
    layers: &[String],
    squeeze_bits: Option<u32>,
    px: &[f32],
) -> Result<(HostTaps, f64), JsValue> {
    let [c, h, w] = input;
    let x = Tensor::<4>::from_data(TensorData::new(px.to_vec(), [1, c, h, w]), device);
    let layers: Vec<&str> = layers.iter().map(String::as_str).collect();
    let taps = net.forward_layers(x.clone(), &layers);
    let mut layers = Vec::with_capacity(taps.layers.len());
    for (name, t) in taps.layers {
        let [_, dim] = t.dims();
        layers.push((name, dim, read(t).await?));
    }
    // The network's answer from its logits, by the same function as natively.
    let [_, classes] = taps.logits.dims();
    let logits = read(taps.logits).await?;
    let answers = answers_from_logits(&logits, classes);
    let squeeze = match squeeze_bits {
        Some(bits) => {
            // Both squeezed copies in one forward pass, squeezed on the device.
            let both = Tensor::cat(squeezed_tensor(x, bits).to_vec(), 0);
            let out = read(net.forward(both)).await?;
            let copies: Vec<Vec<f32>> = out.chunks(classes).map(<[f32]>::to_vec).collect();
            squeeze_scores(&logits, &copies, classes)[0]
        }
        None => f64::NAN,
    };
    Ok((
        HostTaps {
            layers,
            answers,
            logits,
        },
        squeeze,
    ))
}

/// Runs the first step of `analyze` ([`host_taps`]: every tap, the squeezed pair) once on an
/// untrained `network` (`lenet` or `resnet44`) on the CPU, and throws the result away. For the
/// page's main thread while its worker loads: V8 compiles a wasm function at its first call,
/// once for every instance of the module — the worker's too, which the page hands the same
/// compiled module — so the worker's first answer does not wait for the forward pass's
/// compilation (≈ 40 ms of a return visit's first answer, BENCHMARKS.md).
#[wasm_bindgen(js_name = warmUp)]
pub async fn warm_up(network: String) -> Result<(), JsValue> {
    let device = Device::flex();
    let net = Network::untrained(&network, &device).map_err(js_err)?;
    let input = net.input_shape();
    let layers: Vec<String> = net.tap_names().iter().map(|t| t.to_string()).collect();
    let px = vec![0.5; input.iter().product()];
    host_taps(&net, &device, input, &layers, Some(1), &px).await?;
    Ok(())
}

impl State {
    /// Forward pass of one image with the bundle's taps ([`host_taps`]), feature squeezing
    /// at the bit depth of its detectors.
    async fn taps(&self, px: &[f32]) -> Result<(HostTaps, f64), JsValue> {
        let bits = self.model.detectors.as_ref().map(|d| d.squeeze_bits);
        host_taps(&self.net, &self.device, self.input, &self.layers, bits, px).await
    }

    async fn analysis(&self, px: &[f32]) -> Result<(Analysis, Timings), JsValue> {
        let t0 = now();
        let (t, squeeze) = self.taps(px).await?;
        let t1 = now();
        let haps: Vec<&[f32]> = t.layers.iter().map(|(_, _, v)| v.as_slice()).collect();
        let a = self
            .model
            .analyze(&haps, t.answers[0], squeeze)
            .map_err(js_err)?;
        let ms = Timings {
            forward: t1 - t0,
            libraries: now() - t1,
        };
        Ok((a, ms))
    }

    fn out<'a>(&self, (a, ms): &'a (Analysis, Timings)) -> AnalysisOut<'a> {
        AnalysisOut {
            answer: a.answer,
            backend: self.kind.name(),
            cpl: a.cpl,
            verdict: a.verdict,
            verdict_by: a.verdict_by,
            cpl_verdict: a.cpl_verdict,
            threshold: self.model.calibration.threshold,
            detectors: &a.detectors,
            layers: &a.layers,
            ms: *ms,
        }
    }
}

/// Checks and assembles a bundle handed over from JS.
/// `digests`: the files' SHA-256 (hex) in the order weights, exemplars, libraries,
/// detectors, as the worker computed them with WebCrypto; those missing are hashed here.
fn bundle_from_js(
    manifest: Vec<u8>,
    weights: Vec<u8>,
    exemplars: Vec<u8>,
    libraries: Array,
    digests: &[String],
) -> Result<Bundle, JsValue> {
    let manifest = parse_manifest(&manifest).map_err(js_err)?;
    let libs: Vec<Vec<u8>> = libraries
        .iter()
        .map(|v| v.dyn_into::<Uint8Array>().map(|a| a.to_vec()))
        .collect::<Result<_, _>>()
        .map_err(|_| js_err("libraries must be Uint8Arrays"))?;
    Bundle::assemble_digests(manifest, weights, exemplars, libs, digests).map_err(js_err)
}

/// The kept rows' checksum as [`Hapscope::node_rows_checksum`] writes it.
fn rows_checksum_hex<R: AsRef<[f32]>>(rows: &[R]) -> String {
    let layers: Vec<&[f32]> = rows.iter().map(AsRef::as_ref).collect();
    format!("{:016x}", hapscope_core::checksum::layers_checksum(&layers))
}

/// Kept node rows must come with the checksum they were kept with, and match it: storage
/// can damage values without making them non-finite.
fn check_rows_checksum(rows: &[Vec<f32>], want: Option<&str>) -> Result<(), JsValue> {
    let want = want.ok_or_else(|| js_err("kept node rows need their checksum (rowsChecksum)"))?;
    let got = rows_checksum_hex(rows);
    if got != want {
        return Err(js_err(format!(
            "the kept node rows are damaged: checksum {got}, kept as {want}"
        )));
    }
    Ok(())
}

/// The rows a load builds its computed libraries from.
enum Rows {
    /// Node HAPs from the exemplar passes ([`PageModel::from_node_rows`]).
    Computed(Vec<Vec<f32>>),
    /// Unit node vectors an earlier load handed over ([`PageModel::from_kept_vectors`]).
    Kept(Vec<Vec<f32>>),
}

/// Per-layer HAPs of rows `rows` of `exemplars` on the CPU, read asynchronously.
async fn haps_of(
    net: &Network,
    exemplars: &[u8],
    shape: [usize; 3],
    rows: std::ops::Range<usize>,
    layers: &[&str],
) -> Result<Vec<Vec<f32>>, JsValue> {
    let cpu = Device::flex();
    let mut haps: Vec<Vec<f32>> = Vec::new();
    for taps in exemplar_taps(net, exemplars, shape, rows, layers, &cpu) {
        haps.resize(taps.layers.len(), Vec::new());
        for (h, (_, t)) in haps.iter_mut().zip(taps.layers) {
            h.extend(read(t).await?);
        }
    }
    Ok(haps)
}

/// The HAPs of rows `start..end` of `exemplars` (images as a bundle ships them: bytes of
/// the manifest's input shape) on the CPU, one `Float32Array` per layer of the manifest
/// (`rows × dim`), through the manifest's network with `weights`. The page's load uses
/// [`node_haps`]; this is every layer of every row, for checking the wasm's HAPs against
/// native ones.
#[wasm_bindgen(js_name = exemplarHaps)]
pub async fn exemplar_haps(
    manifest: Vec<u8>,
    weights: Vec<u8>,
    exemplars: Vec<u8>,
    start: usize,
    end: usize,
) -> Result<Array, JsValue> {
    let m = parse_manifest(&manifest).map_err(js_err)?;
    let net = Network::from_bytes(&m.network, &weights, &Device::flex()).map_err(js_err)?;
    let layers: Vec<&str> = m.layers.iter().map(|l| l.name.as_str()).collect();
    let out = Array::new();
    for h in haps_of(&net, &exemplars, m.input, start..end, &layers).await? {
        out.push(&Float32Array::from(h.as_slice()));
    }
    Ok(out)
}

/// Share `part` of `parts` of a load's exemplar passes ([`PassPlan`]) on the CPU: per layer
/// of the manifest, a `Float32Array` of the HAPs of the share's nodes of it — what one of
/// the page's workers computes while the others compute theirs. The bundle's files as
/// `Hapscope.load` takes them (`libraries`: the library files, in manifest order); they are
/// checked there, when the shares arrive.
#[wasm_bindgen(js_name = nodeHaps)]
pub async fn node_haps(
    manifest: Vec<u8>,
    weights: Vec<u8>,
    exemplars: Vec<u8>,
    libraries: Array,
    part: usize,
    parts: usize,
) -> Result<Array, JsValue> {
    let m = parse_manifest(&manifest).map_err(js_err)?;
    let net = Network::from_bytes(&m.network, &weights, &Device::flex()).map_err(js_err)?;
    let libs = libraries
        .iter()
        .map(|v| {
            let bytes = v
                .dyn_into::<Uint8Array>()
                .map_err(|_| js_err("libraries must be Uint8Arrays"))?
                .to_vec();
            LibraryArtifact::decode(&bytes).map_err(|e| js_err(format!("a library file: {e}")))
        })
        .collect::<Result<Vec<_>, JsValue>>()?;
    let plan = PassPlan::new(&m.exemplar_ids, &libs, net.tap_names()).map_err(js_err)?;
    let out = Array::new();
    for h in share_haps(&plan, &net, &exemplars, m.input, part, parts).await? {
        out.push(&Float32Array::from(h.as_slice()));
    }
    Ok(out)
}

/// [`PassPlan::share_haps`] on the CPU, read asynchronously.
async fn share_haps(
    plan: &PassPlan,
    net: &Network,
    exemplars: &[u8],
    shape: [usize; 3],
    part: usize,
    parts: usize,
) -> Result<Vec<Vec<f32>>, JsValue> {
    if parts == 0 || part >= parts {
        return Err(js_err(format!("share {part} of {parts}")));
    }
    let cpu = Device::flex();
    let mut out = vec![Vec::new(); plan.layers()];
    for batch in plan.share_taps(net, exemplars, shape, part, parts, &cpu) {
        for (o, t) in out.iter_mut().zip(batch) {
            if let Some(t) = t {
                o.extend(read(t).await?);
            }
        }
    }
    Ok(out)
}

/// A loaded model; every method returns a Promise.
#[wasm_bindgen]
pub struct Hapscope(Rc<State>);

#[wasm_bindgen]
impl Hapscope {
    /// Loads a bundle (`manifest.json`'s bytes, the weights, the exemplars and the library
    /// files in manifest order) onto `backend` (`"auto"`, `"webgpu"` or `"cpu"`). Rejects
    /// with a message naming the file at fault when any is truncated or corrupted.
    /// `haps`, when given, holds the shares of the exemplar passes, in order: share `k` of
    /// `haps.length` as [`node_haps`] returns it, so several workers can share the work.
    /// `detectors` is the bundle's detectors file (`manifest.detectors.file`), required when
    /// the manifest lists one. `nodeRows`, when given, are the unit node vectors of the
    /// libraries a previous load of this build computed ([`Hapscope::take_node_rows`]): no
    /// exemplar passes, no normalisation. They are checked against `rowsChecksum` (the hex
    /// string [`Hapscope::node_rows_checksum`] gave for them; required with them) and for
    /// lengths and finite values; damaged ones reject the load, and the page then loads
    /// again without them. `digests`, when given, are the files' SHA-256 (hex; weights,
    /// exemplars, libraries, detectors) computed by the browser's WebCrypto, compared with
    /// the manifest's instead of hashing in wasm.
    #[allow(clippy::too_many_arguments)]
    pub async fn load(
        manifest: Vec<u8>,
        weights: Vec<u8>,
        exemplars: Vec<u8>,
        libraries: Array,
        backend: String,
        haps: Option<Array>,
        detectors: Option<Vec<u8>>,
        node_rows: Option<Array>,
        digests: Option<Array>,
        rows_checksum: Option<String>,
    ) -> Result<Hapscope, JsValue> {
        let mut clock = now();
        let mut phases = Vec::new();
        let mut lap = |name: &'static str, phases: &mut Vec<(&'static str, f64)>| {
            let t = now();
            phases.push((name, t - clock));
            clock = t;
        };
        let digests: Vec<String> = match digests {
            Some(d) => d
                .iter()
                .map(|v| v.as_string())
                .collect::<Option<_>>()
                .ok_or_else(|| js_err("digests must be strings"))?,
            None => Vec::new(),
        };
        let detectors_digest = digests.get(2 + libraries.length() as usize).cloned();
        let bundle = bundle_from_js(manifest, weights, exemplars, libraries, &digests)?
            .with_detectors_digest(detectors, detectors_digest.as_deref())
            .map_err(js_err)?;
        lap("bundle", &mut phases);
        let m = &bundle.manifest;
        let layers: Vec<&str> = m.layers.iter().map(|l| l.name.as_str()).collect();
        let load = |d: &Device| Network::from_bytes(&m.network, &bundle.weights, d).map_err(js_err);
        let cpu = Device::flex();
        let net_cpu = load(&cpu)?;
        let floats = |arrays: Array, what: &str| {
            arrays
                .iter()
                .map(|a| a.dyn_into::<Float32Array>().map(|a| a.to_vec()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| js_err(format!("{what} must be Float32Arrays")))
        };
        // Node vectors that came from the page's cache are not handed back to it.
        let rows = match (haps, node_rows) {
            (_, Some(r)) => {
                let kept = floats(r, "nodeRows")?;
                check_rows_checksum(&kept, rows_checksum.as_deref())?;
                Rows::Kept(kept)
            }
            (Some(h), None) => {
                let plan = PassPlan::for_bundle(&bundle, &net_cpu).map_err(js_err)?;
                let shares = h
                    .iter()
                    .map(|share| {
                        let share = share
                            .dyn_into::<Array>()
                            .map_err(|_| js_err("haps must be an Array of shares"))?;
                        floats(share, "haps")
                    })
                    .collect::<Result<Vec<_>, JsValue>>()?;
                Rows::Computed(plan.node_rows(&shares).map_err(js_err)?)
            }
            (None, None) => {
                let plan = PassPlan::for_bundle(&bundle, &net_cpu).map_err(js_err)?;
                let share = share_haps(&plan, &net_cpu, &bundle.exemplars, m.input, 0, 1).await?;
                Rows::Computed(plan.node_rows(&[share]).map_err(js_err)?)
            }
        };
        lap("rows", &mut phases);
        // The raw rows go once normalised (24 MB for the MNIST page): the page keeps the
        // unit vectors the model holds.
        let (model, computed) = match rows {
            Rows::Computed(raw) => (PageModel::from_node_rows(&bundle, &raw), true),
            Rows::Kept(unit) => (PageModel::from_kept_vectors(&bundle, unit), false),
        };
        let model = model.map_err(js_err)?;
        let to_keep = computed && !model.computed_vectors().is_empty();
        lap("model", &mut phases);
        let (kind, device, fallback) = choose(&backend).await.map_err(js_err)?;
        let net = match kind {
            Kind::Cpu => net_cpu,
            Kind::WebGpu => load(&device)?,
        };
        let ad = device.clone().autodiff();
        let net_ad = load(&ad)?.freeze();
        lap("backend", &mut phases);
        Ok(Hapscope(Rc::new(State {
            kind,
            fallback,
            device,
            ad,
            net,
            net_ad,
            model,
            surrogate: std::cell::OnceCell::new(),
            input: m.input,
            layers: layers.iter().map(|l| l.to_string()).collect(),
            network: m.network.clone(),
            classes: m.classes.clone(),
            to_keep: std::cell::Cell::new(to_keep),
            phases,
        })))
    }

    /// The unit node vectors of the libraries this load computed from the exemplars (one
    /// `Float32Array` per library without stored vectors, nodes × dim, node order: the next
    /// load's `nodeRows`), handed over once: empty after the first call, for a bundle whose
    /// libraries all store their vectors, and when the load was given `nodeRows`.
    #[wasm_bindgen(js_name = takeNodeRows)]
    pub fn take_node_rows(&self) -> Array {
        if !self.0.to_keep.replace(false) {
            return Array::new();
        }
        (self.0.model.computed_vectors().into_iter())
            .map(Float32Array::from)
            .collect()
    }

    /// The checksum of the node vectors [`Hapscope::take_node_rows`] would hand over (16
    /// hex digits, [`hapscope_core::checksum::layers_checksum`]), kept with them and given
    /// back to the next [`Hapscope::load`]; `undefined` once they are taken or when there
    /// are none.
    #[wasm_bindgen(js_name = nodeRowsChecksum)]
    pub fn node_rows_checksum(&self) -> Option<String> {
        (self.0.to_keep.get()).then(|| rows_checksum_hex(&self.0.model.computed_vectors()))
    }

    /// The backend in use: `"webgpu"` or `"cpu"`.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.0.kind.name().to_string()
    }

    /// Layers, calibration and backend facts for the page.
    pub fn info(&self) -> Result<JsValue, JsValue> {
        let s = &self.0;
        let c = &s.model.calibration;
        to_js(&Info {
            network: &s.network,
            input: s.input,
            classes: &s.classes,
            backend: s.kind.name(),
            fallback: s.fallback.as_deref(),
            layers: s
                .model
                .layers
                .iter()
                .map(|l| LayerInfo {
                    name: &l.name,
                    theta: l.library.theta(),
                    nodes: l.library.len(),
                    dim: l.library.dim(),
                })
                .collect(),
            threshold: c.threshold,
            false_positive_rate: c.false_positive_rate,
            calibration_digits: c.digits,
            top_a: s.model.top_a,
            detectors: s.model.detectors.as_ref().map(|d| DetectorsInfo {
                verdict: d.verdict.name(),
                threshold: d.threshold(d.verdict),
                false_positive_rate: d.false_positive_rate,
                names: Detector::ALL.iter().map(|x| x.name()).collect(),
            }),
            load_phases: s.phases.iter().copied().collect(),
        })
    }

    /// Analyzes an image (`info().input` values in [0, 1], channel-major: 784 for a
    /// digit, row-major 28 × 28; 3 × 32 × 32 for CIFAR-10): resolves to
    /// `{answer, backend, cpl, verdict, threshold, layers: [{name, top3, exemplars, …}]}`.
    pub fn analyze(&self, pixels: Vec<f32>) -> js_sys::Promise {
        let s = self.0.clone();
        future_to_promise(async move {
            check_pixels(&pixels, s.input)?;
            let a = s.analysis(&pixels).await?;
            to_js(&s.out(&a))
        })
    }

    /// PGD (ε in pixel units, step 0.01, random start; `steps` of them, 40 when not given,
    /// at most [`MAX_STEPS`]) against the network's current answer; resolves to
    /// `{adversarial: Float32Array, label, adaptive, analysis}`. With `adaptive`, the attack
    /// also fights the verdict's detector: it ascends Carlini & Wagner's margin plus the
    /// detector's differentiable terms (`hapscope_models::detector::surrogate`, λ = 1), as
    /// `hapscope detect` does.
    pub fn attack(
        &self,
        pixels: Vec<f32>,
        eps: f32,
        seed: u32,
        adaptive: Option<bool>,
        steps: Option<u32>,
    ) -> js_sys::Promise {
        let s = self.0.clone();
        future_to_promise(async move {
            check_pixels(&pixels, s.input)?;
            check_eps(eps).map_err(js_err)?;
            let steps = check_steps(steps)?;
            let adaptive = adaptive.unwrap_or(false);
            if adaptive && s.surrogate().is_none() {
                return Err(js_err(
                    "the adaptive attack needs a bundle with detectors (this one has CPL only)",
                ));
            }
            // The attack moves the digit away from the network's current answer.
            let label = s.taps(&pixels).await?.0.answers[0];
            let [c, h, w] = s.input;
            let x = Tensor::<4>::from_data(TensorData::new(pixels, [1, c, h, w]), &s.device);
            let y =
                Tensor::<1, Int>::from_data(TensorData::new(vec![label as i64], [1]), &s.device);
            let cfg = PgdConfig::new(eps)
                .with_seed(u64::from(seed))
                .with_steps(steps);
            let net_ad = &s.net_ad;
            let adv = match (s.surrogate(), &s.model.detectors) {
                (Some(sur), Some(d)) if adaptive => {
                    let layers: Vec<&str> = s.layers.iter().map(String::as_str).collect();
                    let forward = |p: Tensor<4>| net_ad.forward_layers(p, &layers);
                    let onehot = sur.one_hot(&[label], &s.ad);
                    let target = Target::against(d.verdict);
                    let objective =
                        |p: Tensor<4>| sur.objective(&forward, p, onehot.clone(), target, 1.0);
                    try_pgd_objective(&objective, x, &cfg).map_err(js_err)?
                }
                _ => pgd(&|p| net_ad.forward(p), x, y, &cfg, &PgdSpace::Pixel, &s.ad),
            };
            let adv = read(adv.reshape([1, c * h * w])).await?;
            let after = s.analysis(&adv).await?;
            #[derive(Serialize)]
            struct AttackOut<'a> {
                label: usize,
                adaptive: bool,
                analysis: AnalysisOut<'a>,
            }
            let out = to_js(&AttackOut {
                label,
                adaptive,
                analysis: s.out(&after),
            })?;
            js_sys::Reflect::set(
                &out,
                &"adversarial".into(),
                &Float32Array::from(adv.as_slice()),
            )?;
            Ok(out)
        })
    }
}
