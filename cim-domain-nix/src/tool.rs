//! `nix-instantiate` as an external checker: `--parse` and `--eval --strict --json`.

use crate::error::NixToolError;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Runs Nix's own `nix-instantiate`, which catches what rnix cannot (undefined variables,
/// duplicate attributes) and evaluates expressions.
///
/// Text is passed on standard input; relative path literals in it resolve against
/// [`NixTool::working_dir`] (default: the current directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NixTool {
    program: PathBuf,
    working_dir: Option<PathBuf>,
}

/// The environment variable that turns a missing `nix-instantiate` into a test failure (CI sets it).
pub const REQUIRE_NIX_INSTANTIATE_ENV: &str = "CIM_REQUIRE_NIX_INSTANTIATE";

impl NixTool {
    /// Uses the given program (a path to, or the name of, `nix-instantiate`).
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            working_dir: None,
        }
    }

    /// Finds `nix-instantiate` on `PATH`.
    pub fn from_path() -> Option<Self> {
        let dirs = std::env::var_os("PATH")?;
        std::env::split_paths(&dirs)
            .map(|dir| dir.join("nix-instantiate"))
            .find(|candidate| candidate.is_file())
            .map(Self::new)
    }

    /// For checks that may be skipped: `Ok(Some)` when `nix-instantiate` is on `PATH`, `Ok(None)`
    /// when it is not, and an error when it is not but [`REQUIRE_NIX_INSTANTIATE_ENV`] is `1` (CI).
    ///
    /// # Errors
    /// [`NixToolError::NotFound`] when the program is required and missing.
    pub fn detect() -> Result<Option<Self>, NixToolError> {
        match Self::from_path() {
            Some(tool) => Ok(Some(tool)),
            None if std::env::var(REQUIRE_NIX_INSTANTIATE_ENV).is_ok_and(|v| v == "1") => {
                Err(NixToolError::NotFound {
                    program: PathBuf::from("nix-instantiate"),
                })
            }
            None => Ok(None),
        }
    }

    /// Resolves relative paths in checked text against `dir`.
    #[must_use]
    pub fn working_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.working_dir = Some(dir.into());
        self
    }

    /// The program this runs.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// `nix-instantiate --parse`: full parsing, including undefined variables and duplicate
    /// attributes.
    ///
    /// # Errors
    /// [`NixToolError::Rejected`] with Nix's message (which names the line and column), or a
    /// failure to run the program.
    pub fn parse(&self, source_name: &str, text: &str) -> Result<(), NixToolError> {
        self.run(source_name, text, &["--parse"]).map(|_| ())
    }

    /// `nix-instantiate --eval --strict --json`: evaluates `text` fully and returns the value.
    ///
    /// # Errors
    /// [`NixToolError::Rejected`] for parse or evaluation errors, [`NixToolError::Json`] when
    /// the output is not JSON, or a failure to run the program.
    pub fn eval_json(
        &self,
        source_name: &str,
        text: &str,
    ) -> Result<serde_json::Value, NixToolError> {
        let stdout = self.run(source_name, text, &["--eval", "--strict", "--json"])?;
        serde_json::from_slice(&stdout).map_err(|source| NixToolError::Json {
            program: self.program.clone(),
            source,
        })
    }

    fn run(&self, source_name: &str, text: &str, args: &[&str]) -> Result<Vec<u8>, NixToolError> {
        let mut command = Command::new(&self.program);
        command
            .args(args)
            .arg("-")
            // Debian's nix-bin names a build group that a checker does not need.
            .env("NIX_CONFIG", "build-users-group =")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = &self.working_dir {
            command.current_dir(dir);
        }
        let io = |source| NixToolError::Io {
            program: self.program.clone(),
            source,
        };
        let mut child = command.spawn().map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                NixToolError::NotFound {
                    program: self.program.clone(),
                }
            } else {
                io(source)
            }
        })?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(text.as_bytes()).map_err(io)?;
        }
        let output = child.wait_with_output().map_err(io)?;
        if output.status.success() {
            Ok(output.stdout)
        } else {
            Err(NixToolError::Rejected {
                program: self.program.clone(),
                source_name: source_name.to_owned(),
                status: output.status.code().unwrap_or(-1),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            })
        }
    }
}
