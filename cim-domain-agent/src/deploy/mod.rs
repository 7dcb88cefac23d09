//! Deployment output for agents: NixOS containers, the `services.cim-agent` module wiring,
//! Kubernetes manifests, and the graph translator for agent nodes.
