//! The NVIDIA driver stack of hosts that declare NVIDIA GPUs, as nixpkgs'
//! `nixos/modules/hardware/video/nvidia.nix` expects it.
//!
//! [`plan`] is a pure function of the host's declared GPUs; [`apply`] writes the plan into the
//! host's module:
//! - `hardware.graphics.enable = true`: puts the driver's user-space libraries (`libcuda`,
//!   `libnvidia-ml`) under `/run/opengl-driver`, where CUDA programs look for them.
//! - `services.xserver.videoDrivers = [ "nvidia" ]`: selects the driver and loads its kernel
//!   modules, also on a headless server (X itself stays off). Not set in data-center mode: the
//!   NixOS module refuses X11 and data-center drivers together.
//! - `hardware.nvidia.datacenter.enable = true` for data-center GPUs ([`is_datacenter_model`]):
//!   the `dc` driver branch and NVIDIA fabric manager for NVSwitch systems.
//! - `hardware.nvidia.open`: the open kernel modules for Turing (compute capability 7.5) and
//!   later, which Blackwell (10.0 and later) requires; the proprietary ones before Turing,
//!   which the open modules do not support. A host mixing both sides is a validation problem.
//! - `hardware.nvidia.nvidiaPersistenced = true`: keeps the driver initialised with no
//!   client, so a headless server does not tear it down between jobs.
//! - `hardware.nvidia.nvidiaSettings = false`: the GUI tool is useless headless.
//! - `nixpkgs.config.allowUnfreePredicate`: only the unfree NVIDIA packages
//!   ([`UNFREE_PACKAGES`], [`DATACENTER_UNFREE_PACKAGES`]), not every unfree package.

use cim_domain_nix::{Expr, NixError, Pattern, ident, lambda, list};
use cim_gpu::{ComputeCapability, DeclaredGpu, DeclaredVendor};

use crate::node::HostSpec;
use crate::translate::{HostModule, TranslationError};
use crate::validate::ValidationError;

/// The first compute capability the open kernel modules support (Turing).
pub const OPEN_MODULES_FROM: ComputeCapability = ComputeCapability::new(7, 5);

/// The first compute capability only the open kernel modules support (Blackwell).
pub const OPEN_MODULES_ONLY_FROM: ComputeCapability = ComputeCapability::new(10, 0);

/// The names (`lib.getName`) of the unfree packages the driver stack needs: the driver
/// (`nvidia-x11`), `nvidia-settings` and `nvidia-persistenced`.
pub const UNFREE_PACKAGES: [&str; 3] = ["nvidia-persistenced", "nvidia-settings", "nvidia-x11"];

/// The unfree packages data-center mode needs besides [`UNFREE_PACKAGES`]: the data-center
/// driver branch (`nvidia-dc`: nixpkgs' `nvidia-x11/generic.nix` names the driver
/// `nvidia-${if useFabricmanager then "dc" else "x11"}`) and NVIDIA fabric manager
/// (`pname = "fabricmanager"` in nixpkgs).
pub const DATACENTER_UNFREE_PACKAGES: [&str; 2] = ["fabricmanager", "nvidia-dc"];

/// The attribute of nixpkgs' NVIDIA GPU exporter (nvidia_gpu_exporter) under
/// `services.prometheus.exporters`, enabled on GPU hosts a monitoring node watches.
pub const NVIDIA_GPU_EXPORTER: &str = "nvidia-gpu";

/// The port that exporter listens on by default.
pub const NVIDIA_GPU_EXPORTER_PORT: u16 = 9835;

/// Whether `spec` declares NVIDIA GPUs the driver stack can serve (see [`plan`]).
pub fn has_driver_stack(host: &str, spec: &HostSpec) -> bool {
    matches!(plan(host, spec), Ok(Some(_)))
}

/// What a host's NVIDIA GPUs need from the driver stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NvidiaStack {
    /// Use the open kernel modules (`hardware.nvidia.open`).
    pub open: bool,
    /// Use the data-center driver and fabric manager (`hardware.nvidia.datacenter.enable`).
    pub datacenter: bool,
}

/// Whether `model` names a data-center GPU of an NVSwitch/SXM system, which NixOS drives in
/// data-center mode: the name mentions `SXM`, `HGX`, `DGX` or `NVSwitch`, is an H100 or H200
/// HBM part as the driver reports SXM boards (`NVIDIA H100 80GB HBM3`), or is a Blackwell
/// data-center part (`B100`, `B200`, `GB200`, `B300`, `GB300`), which come only as SXM. PCIe
/// boards such as the L40S or A100 PCIe use the regular driver.
pub fn is_datacenter_model(model: &str) -> bool {
    let upper = model.to_ascii_uppercase();
    let tokens: Vec<&str> = upper
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
        .collect();
    let has = |wanted: &str| tokens.contains(&wanted);
    let marker = ["HGX", "DGX", "NVSWITCH"].iter().any(|m| has(m))
        || tokens.iter().any(|t| t.starts_with("SXM"));
    let hopper_hbm = (has("H100") || has("H200") || has("H800")) && upper.contains("HBM");
    let blackwell = ["B100", "B200", "GB200", "B300", "GB300"]
        .iter()
        .any(|m| has(m));
    marker || hopper_hbm || blackwell
}

fn nvidia_groups(spec: &HostSpec) -> impl Iterator<Item = &DeclaredGpu> {
    spec.gpus
        .iter()
        .filter(|gpu| gpu.vendor == DeclaredVendor::Nvidia)
}

/// GPUs of one host that need both kinds of kernel module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{old_model}` (compute capability {old}) needs NVIDIA's proprietary kernel modules and \
     `{new_model}` (compute capability {new}) the open ones; one host loads only one kind: put \
     them on different hosts"
)]
pub struct MixedKernelModules {
    /// The oldest GPU's model.
    pub old_model: String,
    /// Its compute capability (before Turing).
    pub old: ComputeCapability,
    /// The newest GPU's model.
    pub new_model: String,
    /// Its compute capability (Blackwell or later).
    pub new: ComputeCapability,
}

/// The driver stack for `spec`'s NVIDIA GPUs, `Ok(None)` when it declares none.
///
/// # Errors
/// [`MixedKernelModules`] when its GPUs need both kinds of kernel module (one before Turing,
/// one Blackwell or later). Unparsable compute capabilities are left to the inventory check,
/// which reports them.
pub fn plan(_host: &str, spec: &HostSpec) -> Result<Option<NvidiaStack>, MixedKernelModules> {
    let mut any = false;
    let mut datacenter = false;
    let mut oldest: Option<(ComputeCapability, &str)> = None;
    let mut newest: Option<(ComputeCapability, &str)> = None;
    for gpu in nvidia_groups(spec) {
        any = true;
        datacenter |= is_datacenter_model(&gpu.model);
        let Some(cc) = gpu
            .compute_capability
            .as_deref()
            .and_then(|text| text.parse::<ComputeCapability>().ok())
        else {
            continue;
        };
        if oldest.is_none_or(|(old, _)| cc < old) {
            oldest = Some((cc, gpu.model.as_str()));
        }
        if newest.is_none_or(|(new, _)| cc > new) {
            newest = Some((cc, gpu.model.as_str()));
        }
    }
    if !any {
        return Ok(None);
    }
    let needs_proprietary = oldest.filter(|(cc, _)| *cc < OPEN_MODULES_FROM);
    let needs_open = newest.filter(|(cc, _)| *cc >= OPEN_MODULES_ONLY_FROM);
    if let (Some((old, old_model)), Some((new, new_model))) = (needs_proprietary, needs_open) {
        return Err(MixedKernelModules {
            old_model: old_model.to_owned(),
            old,
            new_model: new_model.to_owned(),
            new,
        });
    }
    Ok(Some(NvidiaStack {
        open: needs_proprietary.is_none(),
        datacenter,
    }))
}

/// The problem of `host`'s NVIDIA GPUs, if any (see [`plan`]): an
/// [`ValidationError::InvalidField`] naming the host and `gpus`.
pub fn check(host: &str, spec: &HostSpec) -> Option<ValidationError> {
    plan(host, spec)
        .err()
        .map(|error| ValidationError::InvalidField {
            node: host.to_owned(),
            field: "gpus".to_owned(),
            reason: error.to_string(),
        })
}

/// `pkg: builtins.elem (lib.getName pkg) [ <names> ]`: [`UNFREE_PACKAGES`], and
/// [`DATACENTER_UNFREE_PACKAGES`] in data-center mode, sorted.
fn unfree_predicate(stack: NvidiaStack) -> Result<Expr, NixError> {
    let mut names: Vec<&str> = UNFREE_PACKAGES.to_vec();
    if stack.datacenter {
        names.extend(DATACENTER_UNFREE_PACKAGES);
    }
    names.sort_unstable();
    let name = ident("lib")?.select("getName").apply(ident("pkg")?);
    let body = ident("builtins")?.select("elem").call([name, list(names)]);
    Ok(lambda(Pattern::ident("pkg")?, body))
}

/// Writes the driver stack of `spec`'s NVIDIA GPUs into `module` (nothing without NVIDIA GPUs).
/// A host [`check`] refuses gets nothing: the graph is not translated.
///
/// # Errors
/// [`TranslationError::Nix`] if the unfree predicate cannot be built (it always can).
pub fn apply(host: &str, spec: &HostSpec, module: &mut HostModule) -> Result<(), TranslationError> {
    let Ok(Some(stack)) = plan(host, spec) else {
        return Ok(());
    };
    module
        .set(["hardware", "graphics", "enable"], true)
        .set(["hardware", "nvidia", "open"], stack.open)
        .set(["hardware", "nvidia", "nvidiaPersistenced"], true)
        .set(["hardware", "nvidia", "nvidiaSettings"], false);
    if stack.datacenter {
        module.set(["hardware", "nvidia", "datacenter", "enable"], true);
    } else {
        module.append(["services", "xserver", "videoDrivers"], "nvidia");
    }
    let predicate = unfree_predicate(stack).map_err(|e| TranslationError::nix(host, e))?;
    module.set(["nixpkgs", "config", "allowUnfreePredicate"], predicate);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(gpus: &[(&str, &str)]) -> HostSpec {
        HostSpec {
            gpus: gpus
                .iter()
                .map(|(model, cc)| DeclaredGpu::nvidia(*model, *cc))
                .collect(),
            ..HostSpec::default()
        }
    }

    #[test]
    fn generation_chooses_the_kernel_modules() {
        let open = |gpus| plan("h", &host(gpus)).map(|s| s.map(|s| s.open));
        assert_eq!(open(&[("NVIDIA L40S", "8.9")]), Ok(Some(true)));
        assert_eq!(open(&[("Tesla T4", "7.5")]), Ok(Some(true)));
        assert_eq!(open(&[("Tesla V100-PCIE-16GB", "7.0")]), Ok(Some(false)));
        assert_eq!(
            open(&[("Tesla P100", "6.0"), ("NVIDIA A10", "8.6")]),
            Ok(Some(false))
        );
        assert_eq!(open(&[]), Ok(None));
        let mixed = plan(
            "h",
            &host(&[("Tesla P100", "6.0"), ("NVIDIA B200", "10.0")]),
        );
        assert!(
            matches!(&mixed, Err(e) if e.old_model == "Tesla P100"),
            "{mixed:?}"
        );
        let problem = check(
            "h",
            &host(&[("Tesla P100", "6.0"), ("NVIDIA B200", "10.0")]),
        );
        assert!(matches!(problem, Some(ValidationError::InvalidField { node, .. }) if node == "h"));
    }

    #[test]
    fn datacenter_parts_are_recognised_and_pcie_boards_are_not() {
        for model in [
            "NVIDIA H100 80GB HBM3",
            "NVIDIA A100-SXM4-80GB",
            "NVIDIA B200",
            "hgx-h200",
        ] {
            assert!(is_datacenter_model(model), "{model}");
        }
        for model in [
            "NVIDIA L40S",
            "nvidia-l40s",
            "NVIDIA A100 PCIe",
            "NVIDIA H100 PCIe",
        ] {
            assert!(!is_datacenter_model(model), "{model}");
        }
    }
}
