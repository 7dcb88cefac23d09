//! Passwords of PostgreSQL roles that log in from other hosts (`scram-sha-256` in `pg_hba`),
//! set from secret files when PostgreSQL starts, never written to the store.
//!
//! A oneshot unit `cim-postgres-passwords` runs after `postgresql.service` (and after
//! `postgresql-setup.service`, which creates the roles on newer NixOS) as the `postgres` user.
//! Each role's file, at [`postgres_password_path`], is handed to it as a systemd credential
//! (`LoadCredential`: systemd reads the root-only file; only the unit sees the copy). `psql`
//! reads the password with `\set pw `cat ...`` and runs `ALTER ROLE ... PASSWORD :'pw'`, so the
//! password is in no command line, no environment and no generated file: the script holds
//! only paths. The dependent service reads the same file (see [`postgres_password_path`]).

use cim_domain_nix::{AttrSet, Expr, ident, list};

use crate::security::postgres_password_path;
use crate::translate::{HostModule, TranslationError};

/// The unit that sets the passwords.
pub const PASSWORD_UNIT: &str = "cim-postgres-passwords";

/// The `psql` input that sets `roles`' passwords from their credentials. Role names are graph
/// node names (letters, digits, `-`, `_`), quoted as identifiers.
pub(super) fn password_script(roles: &[&str]) -> String {
    let mut sql = String::new();
    for (index, role) in roles.iter().enumerate() {
        let credential = format!("role{index}");
        sql.push_str(&format!(
            "\\set pw `cat \"$CREDENTIALS_DIRECTORY/{credential}\"`\n\
             ALTER ROLE \"{}\" PASSWORD :'pw';\n",
            role.replace('"', "\"\"")
        ));
    }
    sql.push_str("\\unset pw\n");
    sql
}

/// Adds [`PASSWORD_UNIT`] to `module`, setting the password of every role in `roles` (sorted,
/// no duplicates) from its file.
pub(super) fn set_passwords(
    module: &mut HostModule,
    roles: &[&str],
) -> Result<(), TranslationError> {
    if roles.is_empty() {
        return Ok(());
    }
    let credentials: Vec<String> = roles
        .iter()
        .enumerate()
        .map(|(index, role)| format!("role{index}:{}", postgres_password_path(role)))
        .collect();
    let mut service_config = AttrSet::new();
    service_config.insert("Type", "oneshot");
    service_config.insert("RemainAfterExit", true);
    service_config.insert("User", "postgres");
    service_config.insert("Group", "postgres");
    service_config.insert("LoadCredential", list(credentials.iter()));
    let psql = format!(
        "psql --no-psqlrc -v ON_ERROR_STOP=1 --port=\"$PGPORT\" --dbname=postgres <<'SQL'\n{}SQL\n",
        password_script(roles)
    );
    let config = ident("config").map_err(|e| TranslationError::nix(PASSWORD_UNIT, e))?;
    let mut unit = AttrSet::new();
    unit.insert(
        "description",
        "Set PostgreSQL role passwords from secret files",
    );
    unit.insert("wantedBy", list(["multi-user.target"]));
    unit.insert("requires", list(["postgresql.service"]));
    unit.insert(
        "after",
        list(["postgresql.service", "postgresql-setup.service"]),
    );
    unit.insert(
        "path",
        list([config.clone().select(["services", "postgresql", "package"])]),
    );
    unit.insert(
        ["environment", "PGPORT"],
        Expr::Apply {
            func: Box::new(ident("toString").map_err(|e| TranslationError::nix(PASSWORD_UNIT, e))?),
            arg: Box::new(config.select(["services", "postgresql", "settings", "port"])),
        },
    );
    unit.insert("serviceConfig", Expr::AttrSet(service_config));
    unit.insert(
        "script",
        Expr::IndentedStr(cim_domain_nix::NixString::literal(psql)),
    );
    module.set(["systemd", "services", PASSWORD_UNIT], Expr::AttrSet(unit));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_reads_passwords_from_credentials_only() {
        let script = password_script(&["app", "report-writer"]);
        assert_eq!(
            script,
            "\\set pw `cat \"$CREDENTIALS_DIRECTORY/role0\"`\nALTER ROLE \"app\" PASSWORD :'pw';\n\
             \\set pw `cat \"$CREDENTIALS_DIRECTORY/role1\"`\nALTER ROLE \"report-writer\" PASSWORD :'pw';\n\
             \\unset pw\n"
        );
    }
}
