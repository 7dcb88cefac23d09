//! The client-supplied task id.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest task id, in characters.
pub const MAX_TASK_ID_LEN: usize = 128;

/// Why a string is not a [`TaskId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("task id {id:?} is not 1-{MAX_TASK_ID_LEN} characters of [A-Za-z0-9_-]")]
pub struct TaskIdError {
    /// The refused id.
    pub id: String,
}

/// A task id chosen by the client, so a resubmission is recognised. It is the aggregate id and
/// may appear as a NATS subject token and a KV key: 1 to [`MAX_TASK_ID_LEN`] characters of
/// ASCII letters, digits, `_` and `-`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TaskId(String);

impl TaskId {
    /// Validates `id`.
    ///
    /// # Errors
    /// [`TaskIdError`] when empty, too long, or containing another character.
    pub fn new(id: impl Into<String>) -> Result<Self, TaskIdError> {
        let id = id.into();
        let ok = !id.is_empty()
            && id.len() <= MAX_TASK_ID_LEN
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if ok {
            Ok(Self(id))
        } else {
            Err(TaskIdError { id })
        }
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for TaskId {
    type Error = TaskIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<TaskId> for String {
    fn from(value: TaskId) -> Self {
        value.0
    }
}

impl std::str::FromStr for TaskId {
    type Err = TaskIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}
