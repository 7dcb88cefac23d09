//! A correct, deterministic Nix emitter (filled by the cim-domain-nix issue).
