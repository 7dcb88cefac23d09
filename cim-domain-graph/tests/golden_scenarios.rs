//! The seed's scenarios (`examples/graphs/*.yaml`) translate to the reviewed files under
//! `tests/golden/<scenario>/`, every file parses with rnix and with `nix-instantiate --parse`,
//! and the configuration each edge implies is there.
//!
//! After a deliberate change of the output, regenerate with `UPDATE_GOLDEN=1 cargo test -p
//! cim-domain-graph --test golden_scenarios` and review the diff.

use std::path::{Path, PathBuf};

use cim_domain_graph::GraphDocument;
use cim_domain_graph::translate::{FlakeTranslator, GraphToNixTranslator, NixDeploymentSpec};
use cim_domain_nix::{NixTool, REQUIRE_NIX_INSTANTIATE_ENV};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn translate(scenario: &str) -> Result<NixDeploymentSpec, Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = root
        .join("examples/graphs")
        .join(format!("{scenario}.yaml"));
    let graph = GraphDocument::from_path(&path)?.to_graph()?;
    Ok(FlakeTranslator::default().translate_graph(&graph)?)
}

/// Compares with the golden files (or rewrites them under `UPDATE_GOLDEN=1`) and checks syntax.
fn check_golden(scenario: &str) -> Result<NixDeploymentSpec, Box<dyn std::error::Error>> {
    let spec = translate(scenario)?;
    let golden = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(scenario);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        if golden.exists() {
            std::fs::remove_dir_all(&golden)?;
        }
        spec.write_to(&golden)?;
        std::fs::remove_file(golden.join(cim_domain_graph::translate::output::MANIFEST))?;
    }
    let mut on_disk = Vec::new();
    collect_files(&golden, &golden, &mut on_disk)?;
    on_disk.sort();
    let rendered: Vec<&Path> = spec.files().keys().map(PathBuf::as_path).collect();
    assert_eq!(
        on_disk.iter().map(PathBuf::as_path).collect::<Vec<_>>(),
        rendered
    );
    for (path, text) in spec.files() {
        let expected = std::fs::read_to_string(golden.join(path))?;
        assert_eq!(
            text,
            &expected,
            "{scenario}: {} differs from golden",
            path.display()
        );
    }
    spec.check_syntax()?;
    match NixTool::from_path() {
        Some(tool) => spec.check_with(&tool)?,
        None if std::env::var_os(REQUIRE_NIX_INSTANTIATE_ENV).is_some() => {
            return Err("nix-instantiate is required but not on PATH".into());
        }
        None => eprintln!("skipping nix-instantiate --parse: nix-instantiate is not on PATH"),
    }
    Ok(spec)
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(root, &path, out)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            out.push(relative.to_owned());
        }
    }
    Ok(())
}

fn file<'a>(spec: &'a NixDeploymentSpec, path: &str) -> Result<&'a str, String> {
    spec.file(path)
        .ok_or_else(|| format!("{path} was not rendered"))
}

#[test]
fn five_services_become_units_with_ordering_and_only_the_needed_ports() -> TestResult {
    let spec = check_golden("five-services")?;
    assert_eq!(spec.hosts().collect::<Vec<_>>(), ["app-1", "app-2"]);
    let app1 = file(&spec, "hosts/app-1.nix")?;
    let app2 = file(&spec, "hosts/app-2.nix")?;
    for unit in ["api", "worker"] {
        assert!(
            app1.contains(&format!("\"{unit} (deployment graph service)\"")),
            "{app1}"
        );
    }
    for unit in ["cache", "scheduler", "collector"] {
        assert!(
            app2.contains(&format!("\"{unit} (deployment graph service)\"")),
            "{app2}"
        );
    }
    assert!(
        app1.contains(r#"after = [ "network.target" "api.service" ];"#),
        "{app1}"
    );
    assert!(app1.contains(r#"requires = [ "api.service" ];"#), "{app1}");
    // cache (6379) and collector (8686) are reached from app-1; nothing reaches app-1.
    assert!(app2.contains("allowedTCPPorts = [ 6379 8686 ];"), "{app2}");
    assert!(!app1.contains("allowedTCPPorts"), "{app1}");
    assert!(app1.contains("CPUQuota = \"150%\";"), "{app1}");
    Ok(())
}

#[test]
fn a_database_gets_a_database_and_role_per_dependent_and_orders_them() -> TestResult {
    let spec = check_golden("database-with-services")?;
    let db = file(&spec, "hosts/db-1.nix")?;
    assert!(
        db.contains(r#"ensureDatabases = [ "analytics" "billing" "shop" ];"#),
        "{db}"
    );
    assert!(
        db.contains("name = \"shop\";\n        ensureDBOwnership = true;"),
        "{db}"
    );
    assert!(db.contains("enableTCPIP = true;"), "{db}");
    assert!(
        db.contains("host all all 10.0.2.20/32 scram-sha-256"),
        "{db}"
    );
    assert!(
        db.contains(r#"requires = [ "postgresql.service" ];"#),
        "{db}"
    );
    assert!(
        db.contains(r#"RequiresMountsFor = [ "/var/lib/postgresql" ];"#),
        "{db}"
    );
    assert!(db.contains("allowedTCPPorts = [ 5432 ];"), "{db}");
    let app = file(&spec, "hosts/app-1.nix")?;
    assert!(
        !app.contains("postgresql.service"),
        "cross-host dependencies order nothing"
    );
    Ok(())
}

#[test]
fn three_message_buses_become_one_cluster_with_a_leaf_node() -> TestResult {
    let spec = check_golden("nats-cluster")?;
    let bus1 = file(&spec, "hosts/nats-1.nix")?;
    assert!(bus1.contains("jetstream = true;"), "{bus1}");
    assert!(
        bus1.contains(r#"routes = [ "nats-route://10.0.3.2:6222" "nats-route://10.0.3.3:6222" ];"#),
        "{bus1}"
    );
    assert!(
        bus1.contains("name = \"bus-1\";"),
        "cluster named after its first member"
    );
    // Routes reach 6222 and the edge leaf reaches 7422; clients reach 4222 from nowhere else.
    assert!(bus1.contains("allowedTCPPorts = [ 6222 7422 ];"), "{bus1}");
    let edge = file(&spec, "hosts/edge-1.nix")?;
    assert!(
        edge.contains(r#"url = "nats-leaf://10.0.3.1:7422";"#),
        "{edge}"
    );
    assert!(
        edge.contains(r#"after = [ "network.target" "nats.service" ];"#),
        "{edge}"
    );
    assert!(!edge.contains("allowedTCPPorts"), "{edge}");
    Ok(())
}

#[test]
fn a_load_balancer_gets_upstreams_and_monitoring_gets_exporters() -> TestResult {
    let spec = check_golden("load-balanced-web")?;
    let lb = file(&spec, "hosts/lb-1.nix")?;
    assert!(lb.contains(r#""10.0.4.11:8080" = { };"#), "{lb}");
    assert!(lb.contains(r#""10.0.4.11:8081" = { };"#), "{lb}");
    assert!(lb.contains(r#""10.0.4.12:8080" = { };"#), "{lb}");
    assert!(lb.contains(r#"proxyPass = "http://front";"#), "{lb}");
    assert!(lb.contains("virtualHosts.\"shop.example.org\""), "{lb}");
    assert!(lb.contains("allowedTCPPorts = [ 80 443 ];"), "{lb}");
    assert!(lb.contains("enableACME = true;"), "{lb}");
    assert!(
        lb.contains(r#"targets = [ "127.0.0.1:9100" "10.0.4.11:9100" "10.0.4.12:9100" ];"#),
        "{lb}"
    );
    let web1 = file(&spec, "hosts/web-1.nix")?;
    assert!(web1.contains("exporters.node.enable = true;"), "{web1}");
    assert!(
        web1.contains("allowedTCPPorts = [ 8080 8081 9100 ];"),
        "{web1}"
    );
    let flake = file(&spec, "flake.nix")?;
    for host in ["lb-1", "web-1", "web-2"] {
        assert!(flake.contains(&format!("./hosts/{host}.nix")), "{flake}");
    }
    Ok(())
}

#[test]
fn nvidia_hosts_get_the_driver_stack_their_generation_needs() -> TestResult {
    let spec = check_golden("gpu-hosts")?;
    let ada = file(&spec, "hosts/infer-1.nix")?;
    assert!(ada.contains("open = true;"), "{ada}");
    assert!(ada.contains(r#"videoDrivers = [ "nvidia" ];"#), "{ada}");
    assert!(ada.contains("nvidiaPersistenced = true;"), "{ada}");
    assert!(ada.contains("graphics.enable = true;"), "{ada}");
    assert!(ada.contains("allowUnfreePredicate = pkg:"), "{ada}");
    assert!(!ada.contains("allowUnfree ="), "{ada}");
    assert!(!ada.contains("datacenter"), "{ada}");
    assert!(!ada.contains("nvidia-dc"), "{ada}");
    let hopper = file(&spec, "hosts/train-1.nix")?;
    assert!(hopper.contains("datacenter.enable = true;"), "{hopper}");
    assert!(!hopper.contains("videoDrivers"), "{hopper}");
    assert!(hopper.contains(r#""fabricmanager""#), "{hopper}");
    let volta = file(&spec, "hosts/legacy-1.nix")?;
    assert!(volta.contains("open = false;"), "{volta}");
    let monitoring = file(&spec, "hosts/mon-1.nix")?;
    assert!(!monitoring.contains("hardware"), "{monitoring}");
    assert!(
        monitoring.contains(r#"job_name = "nvidia-gpu";"#),
        "{monitoring}"
    );
    assert!(
        monitoring.contains(r#"targets = [ "10.0.5.2:9835" "10.0.5.4:9835" "10.0.5.3:9835" ];"#),
        "{monitoring}"
    );
    for gpu_host in [ada, hopper, volta] {
        assert!(gpu_host.contains("nvidia-gpu.enable = true;"), "{gpu_host}");
        assert!(gpu_host.contains("9835"), "{gpu_host}");
    }
    Ok(())
}

#[test]
fn a_mac_becomes_a_nix_darwin_configuration_with_nats_as_a_launchd_daemon() -> TestResult {
    let spec = check_golden("mac-studio")?;
    let flake = file(&spec, "flake.nix")?;
    assert!(
        flake.contains("darwinConfigurations.studio-1 = inputs.nix-darwin.lib.darwinSystem"),
        "{flake}"
    );
    assert!(
        flake.contains("nixosConfigurations.hub-1 = nixpkgs.lib.nixosSystem"),
        "{flake}"
    );
    assert!(!flake.contains("nixosConfigurations.studio-1"), "{flake}");
    assert!(
        flake.contains(r#"inputs.nixpkgs.follows = "nixpkgs";"#),
        "{flake}"
    );
    let mac = file(&spec, "hosts/studio-1.nix")?;
    assert!(mac.contains(r#"hostPlatform = "aarch64-darwin";"#), "{mac}");
    assert!(mac.contains("stateVersion = 6;"), "{mac}");
    assert!(mac.contains("launchd.daemons.nats"), "{mac}");
    assert!(mac.contains(r#"UserName = "_cim-nats";"#), "{mac}");
    assert!(mac.contains("nats-leaf://10.0.1.1:7422"), "{mac}");
    assert!(mac.contains(r#"knownUsers = [ "_cim-nats" ];"#), "{mac}");
    assert!(mac.contains(r"mkdir -p '/var/lib/nats'"), "{mac}");
    for nixos_only in [
        "services.nats",
        "systemd",
        "firewall",
        "hardware",
        "nixosModules",
    ] {
        assert!(!mac.contains(nixos_only), "{nixos_only} in {mac}");
    }
    let hub = file(&spec, "hosts/hub-1.nix")?;
    assert!(hub.contains("leafnodes.port = 7422;"), "{hub}");
    Ok(())
}
