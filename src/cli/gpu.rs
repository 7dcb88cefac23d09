//! `cim-leaf gpu inventory [--json] [--declared FILE]`.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use cim_gpu::{
    DeclaredInventory, GpuDevice, GpuHealth, InventoryBackend, LocalInventory, MetalGpu, NvidiaGpu,
};

/// Subcommands of `cim-leaf gpu`.
#[derive(Debug, clap::Subcommand)]
pub enum GpuCommand {
    /// Show the GPUs of this machine (NVML, and Metal on Apple machines), or why none is found.
    Inventory(InventoryArgs),
}

/// Arguments of `cim-leaf gpu inventory`.
#[derive(Debug, clap::Args)]
pub struct InventoryArgs {
    /// Print JSON: `{"devices": [...], "unavailable": [{"backend", "reason"}]}`.
    #[arg(long)]
    pub json: bool,
    /// Show the GPUs declared in this file (YAML or JSON) instead of probing this machine.
    #[arg(long, value_name = "FILE")]
    pub declared: Option<PathBuf>,
}

/// Runs `cim-leaf gpu ...`.
pub fn run(command: GpuCommand) -> anyhow::Result<ExitCode> {
    match command {
        GpuCommand::Inventory(args) => inventory(&args),
    }
}

/// With `--json`, a failure is one JSON object too: `{"status": "failed", "message": ...}`.
fn inventory(args: &InventoryArgs) -> anyhow::Result<ExitCode> {
    let report = match load(args) {
        Ok(report) => report,
        Err(error) if args.json => {
            let value = serde_json::json!({ "status": "failed", "message": format!("{error:#}") });
            println!("{}", serde_json::to_string_pretty(&value)?);
            return Ok(ExitCode::FAILURE);
        }
        Err(error) => return Err(error),
    };
    let output = if args.json {
        render_json(&report)?
    } else {
        render_text(&report)
    };
    print!("{output}");
    Ok(ExitCode::SUCCESS)
}

fn load(args: &InventoryArgs) -> anyhow::Result<LocalInventory> {
    Ok(match &args.declared {
        Some(path) => {
            let text = cim_domain_graph::read_input(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let declared = DeclaredInventory::parse(&text, &path.display().to_string())?;
            LocalInventory {
                devices: declared.devices()?,
                unavailable: Vec::new(),
            }
        }
        None => LocalInventory::probe(),
    })
}

fn render_json(report: &LocalInventory) -> anyhow::Result<String> {
    let unavailable: Vec<_> = report
        .unavailable
        .iter()
        .map(|(backend, reason)| serde_json::json!({ "backend": backend, "reason": reason.to_string() }))
        .collect();
    let value = serde_json::json!({ "devices": report.devices, "unavailable": unavailable });
    Ok(format!("{}\n", serde_json::to_string_pretty(&value)?))
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

fn health(health: &GpuHealth) -> String {
    match health {
        GpuHealth::Healthy => "healthy".to_owned(),
        GpuHealth::Unhealthy { reasons } => format!("UNHEALTHY: {}", reasons.join("; ")),
    }
}

fn nvidia_line(gpu: &NvidiaGpu) -> String {
    let mut line = format!(
        "[{}] {}  {}\n    {} total, {} free, compute {}, MIG {:?}, tensor cores {}",
        gpu.index,
        gpu.uuid,
        gpu.name,
        gib(gpu.memory_total_bytes),
        gib(gpu.memory_free_bytes),
        gpu.compute_capability,
        gpu.mig_mode,
        if gpu.has_tensor_cores() { "yes" } else { "no" },
    );
    if let Some(celsius) = gpu.temperature_celsius {
        let _ = write!(line, ", {celsius} °C");
    }
    if let Some(milliwatts) = gpu.power_milliwatts {
        let _ = write!(line, ", {:.1} W", f64::from(milliwatts) / 1000.0);
    }
    let _ = write!(line, ", {}", health(&gpu.health));
    line
}

fn metal_line(gpu: &MetalGpu) -> String {
    format!(
        "{}  {}\n    {} working set, family {}, {}",
        gpu.uuid,
        gpu.name,
        gib(gpu.recommended_working_set_bytes),
        gpu.gpu_family.as_deref().unwrap_or("unknown"),
        health(&gpu.health),
    )
}

fn render_text(report: &LocalInventory) -> String {
    let mut out = String::new();
    for device in &report.devices {
        let line = match device {
            GpuDevice::Nvidia(gpu) => nvidia_line(gpu),
            GpuDevice::AppleSilicon(gpu) => metal_line(gpu),
        };
        let _ = writeln!(out, "{line}");
    }
    for (backend, reason) in &report.unavailable {
        let _ = writeln!(out, "{backend}: {reason}");
    }
    if report.devices.is_empty() {
        out.push_str("no GPUs found\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn declared() -> Result<LocalInventory, Box<dyn std::error::Error>> {
        let text = "host: h\ngpus:\n  - model: NVIDIA L4\n    memory_mb: 23034\n    compute_capability: '8.9'\n    uuids: [GPU-1]\n";
        Ok(LocalInventory {
            devices: DeclaredInventory::parse(text, "h.yaml")?.devices()?,
            unavailable: vec![(
                "nvml",
                cim_gpu::InventoryError::NvmlUnavailable {
                    reason: "no driver".to_owned(),
                },
            )],
        })
    }

    #[test]
    fn text_lists_devices_and_why_backends_found_nothing() -> TestResult {
        let text = render_text(&declared()?);
        assert_eq!(
            text,
            "[0] GPU-1  NVIDIA L4\n    22.5 GiB total, 22.5 GiB free, compute 8.9, MIG Unsupported, tensor cores yes, healthy\n\
             nvml: NVML not available: no driver\n"
        );
        let empty = render_text(&LocalInventory::default());
        assert_eq!(empty, "no GPUs found\n");
        Ok(())
    }

    #[test]
    fn json_holds_devices_and_unavailable_backends() -> TestResult {
        let value: serde_json::Value = serde_json::from_str(&render_json(&declared()?)?)?;
        assert_eq!(value["devices"][0]["vendor"], "nvidia");
        assert_eq!(value["devices"][0]["uuid"], "GPU-1");
        assert_eq!(value["devices"][0]["compute_capability"], "8.9");
        assert_eq!(value["unavailable"][0]["backend"], "nvml");
        assert_eq!(
            value["unavailable"][0]["reason"],
            "NVML not available: no driver"
        );
        Ok(())
    }
}
