//! The module, container and flake builders print exactly the checked-in golden files, which
//! parse with rnix and `nix-instantiate --parse`; the example flake evaluates against stubs.

mod common;

use cim_domain_nix::{
    AllowedDevice, BindMount, ContainerName, ContainerNetwork, Expr, FirewallPorts, Flake,
    FlakeInput, ForwardPort, Hardening, MemoryMax, NatsCluster, NatsServer, NixosContainer,
    NixosModule, Protocol, ResourceLimits, StrPart, SystemdService, check_syntax_named, ident,
    import, interpolated, path,
};
use std::path::Path;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn agent_service() -> Result<SystemdService, Box<dyn std::error::Error>> {
    let exec = interpolated([
        StrPart::interp(ident("pkgs")?.select("cim-agent")),
        StrPart::lit("/bin/cim-agent --config /etc/cim/agent.toml"),
    ]);
    Ok(SystemdService::new("cim-agent-planner", exec)?
        .description("CIM agent: planner")
        .requires("nats.service")
        .env("RUST_LOG", "info")
        .env("NATS_URL", "nats://127.0.0.1:4222")
        .dynamic_user()
        .state_directory("cim-agent-planner")
        .hardening(Hardening {
            read_write_paths: vec!["/var/lib/cim-agent-planner".to_owned()],
            ..Hardening::default()
        })
        .limits(ResourceLimits {
            memory_max: Some(MemoryMax::new("512M")?),
            cpu_quota_percent: Some(50),
            tasks_max: Some(64),
        })?)
}

fn host_module() -> Result<NixosModule, Box<dyn std::error::Error>> {
    let mut module = NixosModule::new();
    module.import(path("./hardware-configuration.nix")?);
    module.set(["networking", "hostName"], "leaf-1");
    NatsServer::new()
        .server_name("leaf-1")
        .jetstream(Some("/var/lib/nats".to_owned()))
        .cluster(NatsCluster {
            name: "cim".to_owned(),
            port: 6222,
            routes: vec!["nats://10.0.0.2:6222".to_owned()],
        })?
        .leaf_remote("nats-leaf://hub.example.org:7422")?
        .monitoring(8222)?
        .apply_to(&mut module);
    module.add_service(&agent_service()?);
    let mut ports = FirewallPorts::new();
    ports
        .allow(Protocol::Tcp, 6222)?
        .allow(Protocol::Tcp, 4222)?;
    module.open_ports(&ports);
    let mut more = FirewallPorts::new();
    more.allow(Protocol::Tcp, 4222)?
        .allow(Protocol::Udp, 5353)?
        .allow_range(Protocol::Tcp, 9000, 9010)?;
    module.open_ports(&more);
    module.set(["system", "stateVersion"], "25.05");
    Ok(module)
}

fn agent_container() -> Result<NixosContainer, Box<dyn std::error::Error>> {
    let mut inner = NixosModule::new();
    inner.add_service(&agent_service()?);
    inner.set(["system", "stateVersion"], "25.05");
    Ok(NixosContainer::new(ContainerName::new("planner")?, inner)
        .network(ContainerNetwork {
            private_network: true,
            host_address: Some("10.233.1.1".to_owned()),
            local_address: Some("10.233.1.2".to_owned()),
            host_bridge: None,
        })
        .bind_mount(BindMount {
            mount_point: "/var/lib/cim-agent".to_owned(),
            host_path: "/srv/cim agents/planner".to_owned(),
            read_only: false,
        })?
        .bind_mount(BindMount {
            mount_point: "/etc/cim".to_owned(),
            host_path: "/etc/cim".to_owned(),
            read_only: true,
        })?
        .forward_port(ForwardPort {
            protocol: Protocol::Tcp,
            host_port: 18080,
            container_port: 8080,
        })?
        .allow_device(AllowedDevice {
            node: "/dev/nvidia0".to_owned(),
            modifier: "rw".to_owned(),
        })?
        .extra_flag("--private-users-ownership=chown")
        .ephemeral(true))
}

fn example_flake() -> Result<Flake, Box<dyn std::error::Error>> {
    let mut flake = Flake::new("CIM Leaf fleet");
    flake.input(
        "nixpkgs",
        FlakeInput::new("github:NixOS/nixpkgs/nixos-25.05"),
    )?;
    flake.input(
        "cim",
        FlakeInput::new("github:example/cim-leaf").follows("nixpkgs", "nixpkgs"),
    )?;
    flake.nixos_configuration(
        "leaf-1",
        "nixpkgs",
        "x86_64-linux",
        vec![
            path("./hosts/leaf-1.nix")?,
            ident("self")?.select(["nixosModules", "cim-agents"]),
        ],
    )?;
    flake.nixos_module("cim-agents", import(path("./modules/agents.nix")?));
    flake.package(
        "x86_64-linux",
        "default",
        ident("nixpkgs")?.select(["legacyPackages", "x86_64-linux", "hello"]),
    );
    flake.dev_shell(
        "x86_64-linux",
        "default",
        ident("nixpkgs")?
            .select(["legacyPackages", "x86_64-linux", "mkShell"])
            .apply(cim_domain_nix::attrs([("packages", Expr::List(vec![]))])),
    );
    Ok(flake)
}

/// Compares with the golden file; `UPDATE_GOLDEN=1` rewrites it instead.
fn assert_golden(name: &str, text: &str) -> TestResult {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1") {
        std::fs::write(&file, text)?;
    }
    let expected = std::fs::read_to_string(&file)?;
    assert_eq!(text, expected, "{name} differs from its golden file");
    check_syntax_named(name, text)?;
    if let Some(nix) = common::nix_tool(name) {
        nix.parse(name, text)?;
    }
    Ok(())
}

#[test]
fn nixos_module_matches_golden() -> TestResult {
    assert_golden("host-module.nix", &host_module()?.render())
}

#[test]
fn container_matches_golden() -> TestResult {
    let mut host = NixosModule::new();
    host.add_container(&agent_container()?)?;
    assert_golden("agent-container.nix", &host.render())
}

#[test]
fn flake_matches_golden() -> TestResult {
    assert_golden("flake.nix", &example_flake()?.render())
}

#[test]
fn building_twice_gives_identical_bytes() -> TestResult {
    assert_eq!(host_module()?.render(), host_module()?.render());
    assert_eq!(example_flake()?.render(), example_flake()?.render());
    Ok(())
}

/// Evaluates the flake's outputs with stub inputs: `nixosSystem` calls every module with stub
/// module arguments, so the modules' own code runs too.
#[test]
fn example_flake_evaluates_against_stub_inputs() -> TestResult {
    let Some(nix) = common::nix_tool("example_flake_evaluates_against_stub_inputs") else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("hosts"))?;
    std::fs::create_dir_all(dir.path().join("modules"))?;
    std::fs::write(dir.path().join("flake.nix"), example_flake()?.render())?;
    std::fs::write(dir.path().join("hosts/leaf-1.nix"), host_module()?.render())?;
    let mut agents = NixosModule::new();
    agents.add_container(&agent_container()?)?;
    std::fs::write(dir.path().join("modules/agents.nix"), agents.render())?;
    std::fs::write(
        dir.path().join("hosts/hardware-configuration.nix"),
        "{ ... }: { }\n",
    )?;
    // Stubs: `pkgs` holds the packages the modules name; `nixosSystem` applies each module
    // (and a container's `config`) to stub arguments and returns the results.
    let probe = r#"
      let
        flake = import ./flake.nix;
        pkgs = { cim-agent = "/nix/store/stub-cim-agent"; };
        call = m: let f = if builtins.isPath m then import m else m;
          r = f { config = { }; lib = { }; inherit pkgs; }; in
          r // (if r ? containers then {
            containers = builtins.mapAttrs (_: c: c // { config = call c.config; }) r.containers;
          } else { });
        nixpkgs = {
          lib.nixosSystem = args: { inherit (args) system; modules = map call args.modules; };
          legacyPackages.x86_64-linux = { hello = "hello"; mkShell = a: a; };
        };
        self = flake.outputs { inherit self nixpkgs; cim = { }; };
      in
      {
        inherit (flake) description;
        inputs = flake.inputs;
        leaf = self.nixosConfigurations.leaf-1;
        pkg = self.packages.x86_64-linux.default;
        shell = self.devShells.x86_64-linux.default;
      }
    "#;
    let value = nix.working_dir(dir.path()).eval_json("probe.nix", probe)?;
    assert_eq!(value["description"], "CIM Leaf fleet");
    assert_eq!(
        value["inputs"]["cim"]["inputs"]["nixpkgs"]["follows"],
        "nixpkgs"
    );
    assert_eq!(value["leaf"]["system"], "x86_64-linux");
    let host = &value["leaf"]["modules"][0];
    assert_eq!(host["imports"].as_array().map(Vec::len), Some(1));
    assert_eq!(host["services"]["nats"]["jetstream"], true);
    assert_eq!(host["services"]["nats"]["dataDir"], "/var/lib/nats");
    assert_eq!(
        host["services"]["nats"]["settings"]["leafnodes"]["remotes"][0]["url"],
        "nats-leaf://hub.example.org:7422"
    );
    assert_eq!(
        host["networking"]["firewall"]["allowedTCPPorts"],
        serde_json::json!([4222, 6222])
    );
    let unit = &host["systemd"]["services"]["cim-agent-planner"];
    assert_eq!(
        unit["serviceConfig"]["ExecStart"],
        "/nix/store/stub-cim-agent/bin/cim-agent --config /etc/cim/agent.toml"
    );
    assert_eq!(unit["serviceConfig"]["ProtectSystem"], "strict");
    assert_eq!(unit["serviceConfig"]["CPUQuota"], "50%");
    assert_eq!(unit["after"], serde_json::json!(["nats.service"]));
    let container = &value["leaf"]["modules"][1]["containers"]["planner"];
    assert_eq!(
        container["bindMounts"]["/var/lib/cim-agent"]["hostPath"],
        "/srv/cim agents/planner"
    );
    assert_eq!(container["forwardPorts"][0]["hostPort"], 18080);
    assert_eq!(
        container["config"]["systemd"]["services"]["cim-agent-planner"]["serviceConfig"]["TasksMax"],
        64
    );
    assert_eq!(value["pkg"], "hello");
    Ok(())
}
