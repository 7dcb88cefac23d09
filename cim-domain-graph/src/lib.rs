//! Deployment graphs and their translation to Nix (filled by the graph issue).
