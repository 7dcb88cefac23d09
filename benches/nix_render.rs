//! Criterion bench: render a NixOS module declaring 10,000 hardened systemd services, and
//! rnix-check the rendered text (goals: under 50 ms and under 200 ms on the 2-core VM).
use cim_domain_nix::{
    Hardening, MemoryMax, NixosModule, ResourceLimits, StrPart, SystemdService, check_syntax,
    ident, interpolated, render,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

const SERVICES: usize = 10_000;

fn module() -> Result<NixosModule, cim_domain_nix::NixError> {
    let pkgs = ident("pkgs")?;
    let mut module = NixosModule::new();
    for i in 0..SERVICES {
        let name = format!("cim-agent-{i}");
        let exec = interpolated([
            StrPart::interp(pkgs.clone().select("cim-agent")),
            StrPart::lit(format!("/bin/cim-agent --name {name}")),
        ]);
        let service = SystemdService::new(&name, exec)?
            .description(format!("CIM agent {i}"))
            .requires("nats.service")
            .env("NATS_URL", "nats://127.0.0.1:4222")
            .dynamic_user()
            .hardening(Hardening {
                read_write_paths: vec![format!("/var/lib/{name}")],
                ..Hardening::default()
            })
            .limits(ResourceLimits {
                memory_max: Some(MemoryMax::new("512M")?),
                cpu_quota_percent: Some(50),
                tasks_max: Some(64),
            })?;
        module.add_service(&service);
    }
    Ok(module)
}

fn bench(c: &mut Criterion) {
    let expr = match module() {
        Ok(module) => module.to_expr(),
        Err(err) => panic!("building the bench module: {err}"),
    };
    let text = render(&expr);
    // Throughput in bytes of emitted text, so the figures compare across service sizes.
    let mut group = c.benchmark_group("nix_10k_services");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("render", |b| b.iter(|| render(black_box(&expr))));
    group.bench_function("rnix_check", |b| b.iter(|| check_syntax(black_box(&text))));
    group.bench_function("build_and_render", |b| {
        b.iter(|| module().map(|m| m.render().len()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
