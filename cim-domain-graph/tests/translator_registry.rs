//! Node translators are found by kind: an agent node with none registered is a clear error
//! naming it, a tool can register its own kinds, and what translators contribute (shared
//! modules, flake inputs, errors) reaches the flake or the caller intact.

use cim_domain_graph::translate::{
    FlakeTranslator, GraphToNixTranslator, HostModules, NodeTranslator, NodeTranslatorRegistry,
    TranslationContext, TranslationError,
};
use cim_domain_graph::{DeploymentNode, DeploymentNodeType, GraphDocument, ValidationError};
use cim_domain_nix::{AttrSet, Expr, ident, list};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const WITH_AGENT: &str = r#"
hosts: [{ name: gpu-1, gpus: [{ model: nvidia-l4, compute_capability: '8.9' }] }]
nodes:
  - { name: planner, type: agent, host: gpu-1, definition: agents/planner.md, gpus: 1 }
  - { name: nightly, type: custom, kind: backup, host: gpu-1, config: { paths: [/var/lib] } }
"#;

/// Stands in for `cim-domain-agent`'s translator: a container per agent, through a shared
/// module from a flake input.
struct Agents;

impl NodeTranslator for Agents {
    fn systemd_unit(&self, node: &DeploymentNode) -> Option<String> {
        Some(format!("container@{}", node.name))
    }

    fn translate(
        &self,
        node: &DeploymentNode,
        context: &TranslationContext<'_>,
        modules: &mut HostModules,
    ) -> Result<(), TranslationError> {
        let DeploymentNodeType::Agent(spec) = &node.node_type else {
            return Err(TranslationError::node(node, "not an agent"));
        };
        let inputs = ident("inputs").map_err(|e| TranslationError::nix(&node.name, e))?;
        let mut shared = AttrSet::new();
        shared.insert(
            ["imports"],
            list([inputs.select(["cim", "nixosModules", "agent"])]),
        );
        let module = modules.get_mut(context.host_name(node)?)?;
        module
            .add_flake_input("cim", "github:example/cim")
            .use_shared_module("cim-agent", Expr::AttrSet(shared))
            .set(
                [
                    "services",
                    "cim-agent",
                    "agents",
                    node.name.as_str(),
                    "definition",
                ],
                spec.definition.as_str(),
            );
        Ok(())
    }
}

/// Fails on every node, to show how an outside translator's error is reported. It relies on
/// the trait's defaults for `check` and `systemd_unit`.
struct Broken;

impl NodeTranslator for Broken {
    fn translate(
        &self,
        node: &DeploymentNode,
        _context: &TranslationContext<'_>,
        _modules: &mut HostModules,
    ) -> Result<(), TranslationError> {
        Err(TranslationError::node(node, "no backup target configured"))
    }
}

/// Writes a `services.restic` job for `backup` nodes.
struct Backup;

impl NodeTranslator for Backup {
    fn systemd_unit(&self, node: &DeploymentNode) -> Option<String> {
        Some(format!("restic-backups-{}", node.name))
    }

    fn translate(
        &self,
        node: &DeploymentNode,
        context: &TranslationContext<'_>,
        modules: &mut HostModules,
    ) -> Result<(), TranslationError> {
        modules.get_mut(context.host_name(node)?)?.set(
            ["services", "restic", "backups", node.name.as_str(), "paths"],
            list(["/var/lib"]),
        );
        Ok(())
    }
}

#[test]
fn nodes_without_a_translator_are_errors_naming_them() -> TestResult {
    let graph = GraphDocument::from_yaml_str(WITH_AGENT)?.to_graph()?;
    let translator = FlakeTranslator::default();
    let Err(TranslationError::Invalid(errors)) = translator.translate_graph(&graph) else {
        return Err("agent and custom nodes without translators must not translate".into());
    };
    assert_eq!(
        errors.problems(),
        [
            ValidationError::NoTranslator {
                node: "nightly".into(),
                kind: "backup".into()
            },
            ValidationError::NoTranslator {
                node: "planner".into(),
                kind: "agent".into()
            },
        ]
    );
    assert!(
        errors
            .to_string()
            .contains("node `planner` is of kind `agent`"),
        "{errors}"
    );
    Ok(())
}

#[test]
fn registered_translators_extend_the_flake_with_inputs_and_shared_modules() -> TestResult {
    let graph = GraphDocument::from_yaml_str(WITH_AGENT)?.to_graph()?;
    let mut registry = NodeTranslatorRegistry::with_builtins();
    assert!(registry.register("agent", Agents).is_none());
    registry.register("backup", Backup);
    assert!(registry.kinds().any(|k| k == "backup"));
    let spec = FlakeTranslator::new(registry).translate_graph(&graph)?;
    spec.check_syntax()?;
    let flake = spec.file("flake.nix").ok_or("flake.nix")?;
    assert!(
        flake.contains(r#"cim.url = "github:example/cim";"#),
        "{flake}"
    );
    assert!(
        flake.contains("cim-agent = import ./modules/cim-agent.nix;"),
        "{flake}"
    );
    assert!(flake.contains("self.nixosModules.cim-agent"), "{flake}");
    let shared = spec.file("modules/cim-agent.nix").ok_or("shared module")?;
    assert!(shared.contains("inputs.cim.nixosModules.agent"), "{shared}");
    let host = spec.file("hosts/gpu-1.nix").ok_or("host file")?;
    assert!(
        host.contains(r#"definition = "agents/planner.md";"#),
        "{host}"
    );
    assert!(host.contains("restic.backups.nightly.paths"), "{host}");
    Ok(())
}

#[test]
fn a_failing_translator_is_reported_with_the_node_and_kind() -> TestResult {
    let graph = GraphDocument::from_yaml_str(WITH_AGENT)?.to_graph()?;
    let mut registry = NodeTranslatorRegistry::with_builtins();
    registry.register("agent", Agents);
    registry.register("backup", Broken);
    let Err(error) = FlakeTranslator::new(registry).translate_graph(&graph) else {
        return Err("a failing translator must fail the translation".into());
    };
    assert_eq!(
        error.to_string(),
        "node `nightly` (backup): no backup target configured"
    );
    Ok(())
}

#[test]
fn two_different_shared_modules_under_one_name_are_refused() -> TestResult {
    struct Clash;
    impl NodeTranslator for Clash {
        fn translate(
            &self,
            node: &DeploymentNode,
            context: &TranslationContext<'_>,
            modules: &mut HostModules,
        ) -> Result<(), TranslationError> {
            let mut module = AttrSet::new();
            module.insert(["environment", "etc", "owner", "text"], node.name.as_str());
            modules
                .get_mut(context.host_name(node)?)?
                .use_shared_module("owner", Expr::AttrSet(module));
            Ok(())
        }
    }
    let graph = GraphDocument::from_yaml_str(
        r#"
hosts: [{ name: a }, { name: b }]
nodes:
  - { name: one, type: custom, kind: clash, host: a }
  - { name: two, type: custom, kind: clash, host: b }
"#,
    )?
    .to_graph()?;
    let mut translator = FlakeTranslator::default();
    translator.registry_mut().register("clash", Clash);
    let Err(TranslationError::SharedModuleConflict { name }) = translator.translate_graph(&graph)
    else {
        return Err("differing shared modules must conflict".into());
    };
    assert_eq!(name, "owner");
    Ok(())
}

#[test]
fn translator_errors_of_several_nodes_are_reported_together() -> TestResult {
    let graph = GraphDocument::from_yaml_str(
        r#"
hosts: [{ name: a }, { name: b }]
nodes:
  - { name: weekly, type: custom, kind: backup, host: b }
  - { name: nightly, type: custom, kind: backup, host: a }
  - { name: web, type: service, host: a, package: hello }
"#,
    )?
    .to_graph()?;
    let mut translator = FlakeTranslator::default();
    translator.registry_mut().register("backup", Broken);
    let Err(error) = translator.translate_graph(&graph) else {
        return Err("failing translators must fail the translation".into());
    };
    let failures: Vec<String> = error.failures().iter().map(|e| e.to_string()).collect();
    assert_eq!(
        failures,
        [
            "node `nightly` (backup): no backup target configured",
            "node `weekly` (backup): no backup target configured",
        ]
    );
    assert!(
        error
            .to_string()
            .starts_with("translation failed on 2 nodes:"),
        "{error}"
    );
    Ok(())
}

/// Checks that `config.paths` is a list of absolute paths.
struct CheckedBackup;

impl NodeTranslator for CheckedBackup {
    fn check(
        &self,
        node: &DeploymentNode,
        _context: &TranslationContext<'_>,
    ) -> Vec<ValidationError> {
        let DeploymentNodeType::Custom { config, .. } = &node.node_type else {
            return Vec::new();
        };
        let paths = config.get("paths").and_then(|p| p.as_array());
        let ok = paths.is_some_and(|paths| {
            paths
                .iter()
                .all(|p| p.as_str().is_some_and(|p| p.starts_with('/')))
        });
        if ok {
            Vec::new()
        } else {
            vec![ValidationError::InvalidField {
                node: node.name.clone(),
                field: "config.paths".to_owned(),
                reason: "a list of absolute paths is required".to_owned(),
            }]
        }
    }

    fn translate(
        &self,
        node: &DeploymentNode,
        context: &TranslationContext<'_>,
        modules: &mut HostModules,
    ) -> Result<(), TranslationError> {
        Backup.translate(node, context, modules)
    }
}

#[test]
fn a_custom_kind_whose_config_check_fails_is_reported_with_the_graphs_problems() -> TestResult {
    let graph = GraphDocument::from_yaml_str(
        r#"
hosts: [{ name: a }]
nodes:
  - { name: nightly, type: custom, kind: backup, host: a, config: { paths: [var/lib] } }
  - { name: hourly, type: custom, kind: backup, host: a, config: { paths: [/srv] } }
  - { name: web, type: service, package: hello }
"#,
    )?
    .to_graph()?;
    let mut translator = FlakeTranslator::default();
    translator.registry_mut().register("backup", CheckedBackup);
    let Err(problems) = translator.check_graph(&graph) else {
        return Err("a bad config must fail the check".into());
    };
    assert_eq!(
        problems.problems(),
        [
            ValidationError::NotPlaced { node: "web".into() },
            ValidationError::InvalidField {
                node: "nightly".into(),
                field: "config.paths".into(),
                reason: "a list of absolute paths is required".into(),
            },
        ]
    );
    // translate_graph checks first, so it reports the same problems and translates nothing.
    let Err(TranslationError::Invalid(again)) = translator.translate_graph(&graph) else {
        return Err("translate_graph must refuse the graph".into());
    };
    assert_eq!(again, problems);
    Ok(())
}
