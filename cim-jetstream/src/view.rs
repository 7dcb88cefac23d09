//! [`JetStreamViewRepository`]: `GenericQuery` views in a KV bucket with versioned updates.

use std::marker::PhantomData;

use async_nats::jetstream::kv;
use cqrs_es::persist::{PersistenceError, ViewContext, ViewRepository};
use cqrs_es::{Aggregate, View};

use crate::error::{BoxError, JetStreamError, NameKind};
use crate::names::{self, kv_token};
use crate::repository::JetStreamEventRepository;
use crate::setup::within;

/// Stores the views of one query (`view_name`) as JSON under `<view_name>.<view id>` in the
/// repository's view bucket.
///
/// The KV revision is the view's version: an update is compare-and-set against the version it
/// was loaded at, so two projections racing on one view cannot silently overwrite each other
/// (the loser gets `PersistenceError::OptimisticLockError`).
#[derive(Debug)]
pub struct JetStreamViewRepository<V, A> {
    repository: JetStreamEventRepository,
    view_name: String,
    _types: PhantomData<fn() -> (V, A)>,
}

impl<V, A> Clone for JetStreamViewRepository<V, A> {
    fn clone(&self) -> Self {
        Self {
            repository: self.repository.clone(),
            view_name: self.view_name.clone(),
            _types: PhantomData,
        }
    }
}

impl<V, A> JetStreamViewRepository<V, A>
where
    V: View<A>,
    A: Aggregate,
{
    /// A view repository for the query called `view_name` (a valid subject token).
    pub fn new(
        repository: &JetStreamEventRepository,
        view_name: &str,
    ) -> Result<Self, JetStreamError> {
        names::check_token(NameKind::ViewId, view_name)?;
        Ok(Self {
            repository: repository.clone(),
            view_name: view_name.to_string(),
            _types: PhantomData,
        })
    }

    fn key(&self, view_id: &str) -> Result<String, JetStreamError> {
        names::check_token(NameKind::ViewId, view_id)?;
        Ok(format!(
            "{}.{}",
            kv_token(&self.view_name),
            kv_token(view_id)
        ))
    }

    fn bucket_error(&self, operation: &'static str, source: BoxError) -> JetStreamError {
        JetStreamError::Bucket {
            bucket: self.repository.config().view_bucket.clone(),
            operation,
            source,
        }
    }

    async fn read(&self, view_id: &str) -> Result<Option<(V, ViewContext)>, JetStreamError> {
        let key = self.key(view_id)?;
        let inner = &self.repository.inner;
        let entry = within(
            inner.config.operation_timeout,
            || format!("reading view {key}"),
            inner.views.entry(key.clone()),
        )
        .await?
        .map_err(|e| self.bucket_error("reading a view", Box::new(e)))?;
        let Some(entry) = entry.filter(|e| e.operation == kv::Operation::Put) else {
            return Ok(None);
        };
        let view =
            serde_json::from_slice(&entry.value).map_err(|source| JetStreamError::DecodeEntry {
                bucket: inner.config.view_bucket.clone(),
                key,
                source,
            })?;
        let version = i64::try_from(entry.revision).unwrap_or(i64::MAX);
        Ok(Some((view, ViewContext::new(view_id.to_string(), version))))
    }

    async fn write(&self, view: V, context: ViewContext) -> Result<(), JetStreamError> {
        let key = self.key(&context.view_instance_id)?;
        let value = serde_json::to_vec(&view).map_err(|e| JetStreamError::InvalidCommit {
            reason: format!("cannot serialise view {key}: {e}"),
        })?;
        let store = &self.repository.inner.views;
        let conflict = || JetStreamError::Conflict {
            subject: format!("view {key}"),
        };
        if context.version <= 0 {
            match store.create(&key, value.into()).await {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Err(conflict()),
                Err(e) => Err(self.bucket_error("creating a view", Box::new(e))),
            }
        } else {
            let revision = u64::try_from(context.version).unwrap_or_default();
            match store.update(&key, value.into(), revision).await {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => Err(conflict()),
                Err(e) => Err(self.bucket_error("updating a view", Box::new(e))),
            }
        }
    }
}

impl<V, A> ViewRepository<V, A> for JetStreamViewRepository<V, A>
where
    V: View<A>,
    A: Aggregate,
{
    async fn load(&self, view_id: &str) -> Result<Option<V>, PersistenceError> {
        Ok(self.read(view_id).await?.map(|(view, _)| view))
    }

    async fn load_with_context(
        &self,
        view_id: &str,
    ) -> Result<Option<(V, ViewContext)>, PersistenceError> {
        Ok(self.read(view_id).await?)
    }

    async fn update_view(&self, view: V, context: ViewContext) -> Result<(), PersistenceError> {
        Ok(self.write(view, context).await?)
    }
}
