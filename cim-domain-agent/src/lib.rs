//! Agent definitions, the Agent aggregate and agent deployment output (filled by the agent issue).

pub mod deploy;
