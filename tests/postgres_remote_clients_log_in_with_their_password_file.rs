//! Issue 13: a service on another host than its database logs in for real. The translator gives
//! the database host `cim-postgres-passwords`, which sets the role's password from its secret
//! file at start, and the dependent service the same file as `PGPASSWORD_FILE`. Here a real
//! PostgreSQL (Debian's, as `CIM_WITH_POSTGRES=1 . scripts/install-test-tools` installs it) runs
//! the script exactly as the generated module holds it (evaluated with `nix-instantiate`), with
//! the credential systemd would hand it; the role then logs in over TCP with `scram-sha-256`
//! using the password from that file, and a wrong password is refused.

#[path = "../benches/support/postgres.rs"]
mod postgres;

use std::path::{Path, PathBuf};
use std::process::Command;

use cim_domain_nix::NixTool;
use cim_leaf::{Fleet, FleetOptions};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// `psql`: next to the server binaries (`CIM_PG_BIN`) or on `PATH`.
fn psql() -> PathBuf {
    std::env::var_os("CIM_PG_BIN")
        .map(|dir| Path::new(&dir).join("psql"))
        .filter(|path| path.is_file())
        .unwrap_or_else(|| PathBuf::from("psql"))
}

/// Logs in as `user` with `password` over TCP and runs `SELECT current_user`.
fn log_in(port: u16, user: &str, password: &str) -> std::io::Result<std::process::Output> {
    Command::new(psql())
        .args([
            "-X",
            "-A",
            "-t",
            "-h",
            "127.0.0.1",
            "-d",
            "postgres",
            "-U",
            user,
        ])
        .arg("-p")
        .arg(port.to_string())
        .args(["-c", "SELECT current_user"])
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
}

#[test]
fn a_remote_role_logs_in_with_the_password_its_file_sets() -> TestResult {
    let server = match postgres::Postgres::start() {
        Ok(server) => server,
        Err(why) if std::env::var_os("CIM_PG_BIN").is_none() => {
            eprintln!("skipping: PostgreSQL is not available: {why}");
            return Ok(());
        }
        Err(why) => return Err(why.into()),
    };
    let Some(tool) = NixTool::detect()? else {
        eprintln!("skipping: nix-instantiate is not on PATH");
        return Ok(());
    };
    let url = server.url();
    let port: u16 = url
        .rsplit_once(':')
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|port| port.parse().ok())
        .ok_or("no port in the server's URL")?;

    // The example: `shop` on app-1 depends on `pg` on db-1.
    let graph =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/graphs/database-with-services.yaml");
    let spec = Fleet::load(&graph, FleetOptions::default())?.translate()?;
    let db_host = spec.file("hosts/db-1.nix").ok_or("no hosts/db-1.nix")?;
    let app_host = spec.file("hosts/app-1.nix").ok_or("no hosts/app-1.nix")?;
    let expr = format!(
        r#"let
  module = ({db_host}) {{
    config.services.postgresql = {{ package = "/unused"; settings.port = {port}; }};
    lib = {{ }}; pkgs = {{ }}; inputs = {{ }};
  }};
  unit = module.systemd.services.cim-postgres-passwords;
  app = ({app_host}) {{ config = {{ }}; lib = {{ }}; pkgs = {{ }}; inputs = {{ }}; }};
  shop = app.systemd.services.shop;
in {{
  script = unit.script;
  port = unit.environment.PGPORT;
  credentials = unit.serviceConfig.LoadCredential;
  user = unit.serviceConfig.User;
  client = shop.serviceConfig.LoadCredential;
  clientFile = shop.environment.PGPASSWORD_FILE;
}}"#
    );
    let unit = tool.eval_json("the password unit", &expr)?;
    let script = unit["script"].as_str().ok_or("no script")?;
    assert_eq!(unit["port"], port.to_string());
    assert_eq!(unit["user"], "postgres");
    assert_eq!(
        unit["credentials"],
        serde_json::json!(["role0:/run/secrets/cim/postgres/shop.password"])
    );
    // The client loads the very same file, and is told where systemd puts it.
    assert_eq!(
        unit["client"],
        serde_json::json!(["pg-password:/run/secrets/cim/postgres/shop.password"])
    );
    assert_eq!(
        unit["clientFile"],
        "/run/credentials/shop.service/pg-password"
    );

    // What NixOS' ensureUsers does, and pg_hba as the database translator writes it for a
    // remote client (scram-sha-256 from its address; here loopback).
    server.psql("CREATE ROLE shop LOGIN")?;
    server.psql(
        "DO $$ BEGIN EXECUTE format('COPY (SELECT * FROM (VALUES \
         (''host all shop 127.0.0.1/32 scram-sha-256''), \
         (''host all all 127.0.0.1/32 trust''), \
         (''local all all trust'')) AS v(line)) TO %L', current_setting('hba_file')); END $$",
    )?;
    server.psql("SELECT pg_reload_conf()")?;
    let before = log_in(port, "shop", "s3cret-from-a-file")?;
    assert!(!before.status.success(), "no password is set yet");

    // systemd's credential: the secret file's copy under $CREDENTIALS_DIRECTORY.
    let credentials = tempfile::tempdir()?;
    let password = "s3cret-from-a-file";
    std::fs::write(credentials.path().join("role0"), format!("{password}\n"))?;
    let run = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .env("CREDENTIALS_DIRECTORY", credentials.path())
        .env("PGPORT", port.to_string())
        .env("PGHOST", "127.0.0.1")
        .env("PGUSER", "postgres")
        .env(
            "PATH",
            format!(
                "{}:{}",
                psql()
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default()
                    .display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .output()?;
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // The password is in no argument and no output of the script.
    assert!(!script.contains(password));
    assert!(!String::from_utf8_lossy(&run.stdout).contains(password));

    let good = log_in(port, "shop", password)?;
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&good.stdout).trim(), "shop");
    let wrong = log_in(port, "shop", "guessed")?;
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("password authentication failed"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
    Ok(())
}
