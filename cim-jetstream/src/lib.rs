//! cqrs-es persistence on NATS JetStream (filled by the workspace issue).
