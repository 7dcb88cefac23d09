//! Names, paths and option values Nix or NixOS would reject are refused with typed errors.

use cim_domain_nix::{
    AllowedDevice, BindMount, ContainerName, FirewallPorts, Flake, FlakeInput, ForwardPort,
    MemoryMax, NatsServer, NixError, NixTool, NixToolError, NixosContainer, NixosModule, Protocol,
    ResourceLimits, SetPattern, SystemdService, check_syntax_named, ident, path,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[test]
fn invalid_identifiers_are_rejected() {
    for name in ["", "1x", "a b", "let", "or", "a.b", "-x"] {
        assert!(
            matches!(ident(name), Err(NixError::InvalidIdentifier { .. })),
            "{name:?}"
        );
    }
    assert!(matches!(
        SetPattern::new(["a", "a"]),
        Err(NixError::DuplicateArgument { .. })
    ));
}

#[test]
fn invalid_path_literals_are_rejected() {
    for text in ["", "foo", "./a/", "/srv/my dir", "a//b", "<nixpkgs"] {
        assert!(
            matches!(path(text), Err(NixError::InvalidPath { .. })),
            "{text:?}"
        );
    }
}

#[test]
fn container_names_with_underscores_or_bad_characters_are_rejected() {
    let reason = |name: &str| match ContainerName::new(name) {
        Err(NixError::InvalidContainerName { reason, .. }) => reason,
        other => panic!("{name:?} gave {other:?}"),
    };
    assert!(reason("cim_agent").contains('_'));
    assert_eq!(reason(""), "it is empty");
    assert!(reason("-x").contains("start or end"));
    assert!(reason("a.b").contains("only letters"));
    assert!(reason(&"a".repeat(64)).contains("63"));
    assert!(ContainerName::new("cim-agent-1").is_ok());
}

#[test]
fn container_options_are_validated() -> TestResult {
    let c = || -> Result<NixosContainer, NixError> {
        Ok(NixosContainer::new(
            ContainerName::new("box")?,
            NixosModule::new(),
        ))
    };
    let relative = c()?.bind_mount(BindMount {
        mount_point: "data".to_owned(),
        host_path: "/srv".to_owned(),
        read_only: true,
    });
    assert!(matches!(relative, Err(NixError::InvalidOptionValue { .. })));
    let device = c()?.allow_device(AllowedDevice {
        node: "/dev/net/tun".to_owned(),
        modifier: "rx".to_owned(),
    });
    assert!(matches!(device, Err(NixError::InvalidOptionValue { .. })));
    let shared_network = c()?.forward_port(ForwardPort {
        protocol: Protocol::Tcp,
        host_port: 80,
        container_port: 8080,
    })?;
    match shared_network.to_expr() {
        Err(NixError::InvalidOptionValue { reason, .. }) => {
            assert!(reason.contains("privateNetwork"));
        }
        other => panic!("forwardPorts without privateNetwork gave {other:?}"),
    }
    Ok(())
}

#[test]
fn service_and_port_values_are_validated() -> TestResult {
    assert!(SystemdService::new("cim agent", "x").is_err());
    assert!(SystemdService::new("cim.service", "x").is_err());
    for bad in ["", "12X", "lots", "150%", "-1M"] {
        assert!(MemoryMax::new(bad).is_err(), "{bad:?}");
    }
    for good in ["512M", "2G", "1073741824", "50%", "infinity"] {
        assert!(MemoryMax::new(good).is_ok(), "{good:?}");
    }
    let zero_quota = SystemdService::new("a", "x")?.limits(ResourceLimits {
        cpu_quota_percent: Some(0),
        ..ResourceLimits::default()
    });
    assert!(zero_quota.is_err());
    assert!(FirewallPorts::new().allow(Protocol::Tcp, 0).is_err());
    assert!(
        FirewallPorts::new()
            .allow_range(Protocol::Udp, 10, 5)
            .is_err()
    );
    assert!(NatsServer::new().leaf_remote("hub:7422").is_err());
    assert!(NatsServer::new().port(0).is_err());
    Ok(())
}

#[test]
fn flake_inputs_must_be_identifiers_other_than_self() {
    let mut flake = Flake::new("x");
    assert!(flake.input("self", FlakeInput::new("github:a/b")).is_err());
    assert!(
        flake
            .input("my input", FlakeInput::new("github:a/b"))
            .is_err()
    );
}

#[test]
fn syntax_errors_name_file_line_and_column() {
    let err = check_syntax_named("hosts/a.nix", "{\n  x = [ 1 2;\n}\n").err();
    let Some(err) = err else {
        panic!("broken text was accepted");
    };
    assert_eq!(err.source_name, "hosts/a.nix");
    assert_eq!(err.line, 2);
    assert!(err.to_string().starts_with("hosts/a.nix:2:"), "{err}");
}

#[test]
fn a_missing_nix_instantiate_is_a_typed_error() {
    let tool = NixTool::new("/nonexistent/nix-instantiate");
    assert!(matches!(
        tool.parse("x.nix", "1"),
        Err(NixToolError::NotFound { .. })
    ));
}
