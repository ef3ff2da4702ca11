//! Where the network runs: WebGPU (burn-wgpu) when the browser gives an adapter, else the CPU
//! (burn-flex, SIMD128). The WebGPU device is created once per page and shared: a second
//! `init_async` in the same page fails ("a server is still registered for device").
//!
//! WebGPU is the `webgpu` feature: the page's default engine is built without it (a quarter
//! of the code), and there `"webgpu"` is refused with [`NO_WEBGPU_ENGINE`] and `"auto"`
//! means the CPU.

use burn::prelude::*;

/// Which backend a model runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// burn-wgpu on WebGPU.
    WebGpu,
    /// burn-flex on the CPU.
    Cpu,
}

impl Kind {
    /// The name the page shows and `analyze` reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::WebGpu => "webgpu",
            Kind::Cpu => "cpu",
        }
    }
}

/// Why a build without the `webgpu` feature refuses `"webgpu"`; the page loads its WebGPU
/// engine (the build with it) instead.
pub const NO_WEBGPU_ENGINE: &str = "this engine is the CPU build (WebGPU is in the WebGPU engine)";

/// Whether this build can run on WebGPU.
pub const HAS_WEBGPU: bool = cfg!(feature = "webgpu");

#[cfg(feature = "webgpu")]
thread_local! {
    static WEBGPU: std::cell::RefCell<Option<Result<Device, String>>> = const { std::cell::RefCell::new(None) };
}

/// The page's one WebGPU device (created on first use), or why there is none.
#[cfg(feature = "webgpu")]
pub async fn webgpu() -> Result<Device, String> {
    if let Some(r) = WEBGPU.with(|w| w.borrow().clone()) {
        return r;
    }
    let r = if has_navigator_gpu() {
        Device::wgpu_options()
            .init_async()
            .await
            .map_err(|e| format!("WebGPU initialisation failed: {e}"))
    } else {
        Err("this browser has no WebGPU (navigator.gpu is missing)".to_string())
    };
    WEBGPU.with(|w| *w.borrow_mut() = Some(r.clone()));
    r
}

/// The page's one WebGPU device: none in this build.
#[cfg(not(feature = "webgpu"))]
pub async fn webgpu() -> Result<Device, String> {
    Err(NO_WEBGPU_ENGINE.to_string())
}

/// Whether `navigator.gpu` exists (in a window or a worker).
#[cfg(feature = "webgpu")]
fn has_navigator_gpu() -> bool {
    let global = js_sys::global();
    js_sys::Reflect::get(&global, &"navigator".into())
        .ok()
        .filter(|n| !n.is_undefined())
        .and_then(|n| js_sys::Reflect::get(&n, &"gpu".into()).ok())
        .is_some_and(|g| !g.is_undefined() && !g.is_null())
}

/// The device for `preference` (`"webgpu"`, `"cpu"` or `"auto"`), and, when WebGPU was
/// wanted but is unavailable, why.
pub async fn choose(preference: &str) -> Result<(Kind, Device, Option<String>), String> {
    match preference {
        "cpu" => Ok((Kind::Cpu, Device::flex(), None)),
        "webgpu" => webgpu().await.map(|d| (Kind::WebGpu, d, None)),
        "auto" if !HAS_WEBGPU => Ok((Kind::Cpu, Device::flex(), None)),
        "auto" => Ok(match webgpu().await {
            Ok(d) => (Kind::WebGpu, d, None),
            Err(why) => (Kind::Cpu, Device::flex(), Some(why)),
        }),
        other => Err(format!(
            "unknown backend {other:?}: use \"auto\", \"webgpu\" or \"cpu\""
        )),
    }
}
