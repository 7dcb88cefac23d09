//! The deployment pipeline: a fleet is reviewed by its agents, agreed by consensus, then
//! translated, checked and written, and what was deployed is recorded.
//!
//! - [`GraphVersion`]: the content hash a proposal is about;
//! - [`review`]: the [`Reviewer`](review::Reviewer) trait and the built-in deterministic
//!   reviewers, keyed by capability;

pub mod review;
mod version;

pub use version::{GraphVersion, content_hash};
