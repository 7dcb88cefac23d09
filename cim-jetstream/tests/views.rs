//! `GenericQuery` views persist in KV and are updated compare-and-set on their version.

mod common;

use std::sync::{Arc, Mutex};

use cim_jetstream::{JetStreamEventStore, JetStreamViewRepository};
use common::{Ledger, LedgerCommand, LedgerSummary, TestResult, server_and_repo};
use cqrs_es::CqrsFramework;
use cqrs_es::persist::{GenericQuery, PersistenceError, ViewContext, ViewRepository};

type SummaryRepo = JetStreamViewRepository<LedgerSummary, Ledger>;

#[tokio::test]
async fn generic_query_views_persist_across_repositories() -> TestResult {
    let (server, repo) = server_and_repo().await?;
    let views = Arc::new(SummaryRepo::new(&repo, "ledger_summary")?);
    let errors = Arc::new(Mutex::new(Vec::new()));
    let mut query = GenericQuery::<SummaryRepo, LedgerSummary, Ledger>::new(Arc::clone(&views));
    let seen = Arc::clone(&errors);
    query.use_error_handler(Box::new(move |e| {
        if let Ok(mut seen) = seen.lock() {
            seen.push(e.to_string());
        }
    }));
    let cqrs = CqrsFramework::new(
        JetStreamEventStore::<Ledger>::new_event_store(repo.clone()),
        vec![Box::new(query)],
        (),
    );
    cqrs.execute("v1", LedgerCommand::Add(vec![1, 2])).await?;
    cqrs.execute("v1", LedgerCommand::Add(vec![3])).await?;
    cqrs.execute("v2", LedgerCommand::Add(vec![10])).await?;
    assert!(errors.lock().map_err(|_| "poisoned")?.is_empty());

    // A fresh repository on the same server reads the same views.
    let other =
        cim_jetstream::JetStreamEventRepository::connect(&server.url(), repo.config().clone())
            .await?;
    let reread = SummaryRepo::new(&other, "ledger_summary")?;
    assert_eq!(
        reread.load("v1").await?,
        Some(LedgerSummary {
            events: 3,
            sum: 6,
            last_sequence: 3
        })
    );
    assert_eq!(reread.load("v2").await?.map(|v| v.sum), Some(10));
    assert_eq!(reread.load("never").await?, None);
    // Another view name is another key space.
    assert_eq!(
        SummaryRepo::new(&other, "other_view")?.load("v1").await?,
        None
    );
    Ok(())
}

#[tokio::test]
async fn a_stale_view_update_is_an_optimistic_lock_error() -> TestResult {
    let (_server, repo) = server_and_repo().await?;
    let views = SummaryRepo::new(&repo, "summary")?;
    let fresh = || ViewContext::new("acct".to_string(), 0);
    views.update_view(LedgerSummary::default(), fresh()).await?;
    // Creating it again from version 0 loses.
    let again = views.update_view(LedgerSummary::default(), fresh()).await;
    assert!(
        matches!(again, Err(PersistenceError::OptimisticLockError)),
        "{again:?}"
    );

    let (view, first) = views
        .load_with_context("acct")
        .await?
        .ok_or("missing view")?;
    let (_, second) = views
        .load_with_context("acct")
        .await?
        .ok_or("missing view")?;
    assert_eq!(first.version, second.version);
    let winner = LedgerSummary {
        events: 1,
        ..view.clone()
    };
    views.update_view(winner.clone(), first).await?;
    let loser = views
        .update_view(LedgerSummary { events: 99, ..view }, second)
        .await;
    assert!(
        matches!(loser, Err(PersistenceError::OptimisticLockError)),
        "{loser:?}"
    );
    assert_eq!(views.load("acct").await?, Some(winner));

    assert!(views.load("bad.id").await.is_err());
    assert!(SummaryRepo::new(&repo, "bad view").is_err());
    Ok(())
}
