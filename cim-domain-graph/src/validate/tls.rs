//! The checks of a load balancer's `tls`: one certificate source, usable paths, an ACME account
//! NixOS accepts.

use crate::node::Tls;

/// Every problem of `tls` on a load balancer listening on `port`, as (field, reason).
pub(super) fn problems(port: u16, tls: &Tls) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut bad = |field: &str, reason: &str| found.push((field.to_owned(), reason.to_owned()));
    match (&tls.acme, &tls.certificate, &tls.key) {
        (Some(_), None, None) | (None, Some(_), Some(_)) => {}
        (None, None, None) => bad(
            "tls",
            "give either `acme` (a certificate from an ACME CA) or `certificate` and `key` (files)",
        ),
        (Some(_), _, _) => bad(
            "tls",
            "`acme` and `certificate`/`key` exclude each other: the certificate comes from one",
        ),
        (None, Some(_), None) => bad("tls.key", "a `certificate` needs its `key` file"),
        (None, None, Some(_)) => bad("tls.certificate", "a `key` needs its `certificate` file"),
    }
    for (field, path) in [("tls.certificate", &tls.certificate), ("tls.key", &tls.key)] {
        let Some(path) = path else { continue };
        if !path.starts_with('/') {
            bad(field, "must be an absolute path on the host");
        } else if path.starts_with("/nix/store") {
            bad(
                field,
                "must not be in /nix/store, which every user can read: keep certificates and \
                 keys in a secrets directory such as /run/secrets (sops-nix, agenix)",
            );
        }
    }
    if let Some(acme) = &tls.acme {
        let email = acme.email.trim();
        if email.is_empty() || !email.contains('@') || email.chars().any(char::is_whitespace) {
            bad(
                "tls.acme.email",
                "must be the ACME account's e-mail address",
            );
        }
        if !acme.accept_terms {
            bad(
                "tls.acme.accept_terms",
                "must be `true`: requesting certificates accepts the CA's terms of service \
                 (NixOS `security.acme.acceptTerms`), which only the operator can do",
            );
        }
        if tls.http_port != 80 {
            bad(
                "tls.http_port",
                "must be 80 with `acme`: the CA checks the HTTP-01 challenge on port 80",
            );
        }
        if let Some(server) = &acme.server
            && !server.starts_with("https://")
        {
            bad(
                "tls.acme.server",
                "must be the ACME directory's `https://` URL",
            );
        }
    }
    if tls.http_port == port {
        bad(
            "tls.http_port",
            "must differ from `port`: HTTP is redirected from it to HTTPS on `port`",
        );
    }
    if tls.http_port == 0 {
        bad("tls.http_port", "port 0 cannot be listened on");
    }
    found
}
