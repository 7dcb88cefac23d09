//! Batched direct get (nats-server 2.11+): one request returns up to `batch` messages on a
//! subject filter, ended by an `EOB` status, so a 1,000-event aggregate loads in one round trip.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use serde::Serialize;

use crate::error::JetStreamError;

/// One stored message as read back.
pub(crate) struct RawMessage {
    pub(crate) subject: String,
    pub(crate) stream_sequence: u64,
    pub(crate) payload: Bytes,
}

#[derive(Serialize)]
struct BatchRequest<'a> {
    seq: u64,
    next_by_subj: &'a str,
    batch: usize,
}

/// Pages through every message on `filter` from a stream sequence onwards, in stream order.
pub(crate) struct Pager {
    client: async_nats::Client,
    api_subject: String,
    filter: String,
    next_sequence: u64,
    batch: usize,
    timeout: Duration,
    done: bool,
}

impl Pager {
    pub(crate) fn new(
        client: async_nats::Client,
        stream: &str,
        filter: String,
        from_sequence: u64,
        batch: usize,
        timeout: Duration,
    ) -> Self {
        Self {
            client,
            api_subject: format!("$JS.API.DIRECT.GET.{stream}"),
            filter,
            next_sequence: from_sequence.max(1),
            batch,
            timeout,
            done: false,
        }
    }

    /// The next page, or `None` when every message has been read.
    pub(crate) async fn next_page(&mut self) -> Result<Option<Vec<RawMessage>>, JetStreamError> {
        if self.done {
            return Ok(None);
        }
        let request = serde_json::to_vec(&BatchRequest {
            seq: self.next_sequence,
            next_by_subj: &self.filter,
            batch: self.batch,
        })
        .map_err(|e| self.read_error(e))?;
        let inbox = self.client.new_inbox();
        let mut replies = self
            .client
            .subscribe(inbox.clone())
            .await
            .map_err(|e| self.read_error(e))?;
        self.client
            .publish_with_reply(self.api_subject.clone(), inbox, request.into())
            .await
            .map_err(|e| self.read_error(e))?;

        let mut page = Vec::new();
        let mut remaining: Option<u64> = None;
        loop {
            let message = tokio::time::timeout(self.timeout, replies.next())
                .await
                .map_err(|_| JetStreamError::Timeout {
                    operation: format!("reading {}", self.filter),
                    after: self.timeout,
                })?
                .ok_or_else(|| self.read_error("the reply subscription closed"))?;
            if let Some(status) = message.status {
                match status.as_u16() {
                    // End of batch.
                    204 => break,
                    // Nothing (more) matches the filter.
                    404 => {
                        self.done = true;
                        break;
                    }
                    code => {
                        return Err(JetStreamError::ServerStatus {
                            subject: self.filter.clone(),
                            code,
                            description: message.description.unwrap_or_default(),
                        });
                    }
                }
            }
            let headers = message.headers.as_ref();
            let header = |name: &str| headers.and_then(|h| h.get(name)).map(|v| v.as_str());
            let stream_sequence = header("Nats-Sequence")
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| self.read_error("a reply has no Nats-Sequence header"))?;
            remaining = header("Nats-Num-Pending").and_then(|v| v.parse::<u64>().ok());
            let subject =
                header("Nats-Subject").map_or_else(|| self.filter.clone(), str::to_string);
            page.push(RawMessage {
                subject,
                stream_sequence,
                payload: message.payload,
            });
        }
        match page.last() {
            None => {
                self.done = true;
                Ok(None)
            }
            Some(last) => {
                self.next_sequence = last.stream_sequence + 1;
                if remaining == Some(0) {
                    self.done = true;
                }
                Ok(Some(page))
            }
        }
    }

    fn read_error(&self, source: impl Into<crate::error::BoxError>) -> JetStreamError {
        JetStreamError::Read {
            subject: self.filter.clone(),
            source: source.into(),
        }
    }
}
