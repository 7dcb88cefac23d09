//! The test harness itself: processes come and go as asked, on stable ports and stores.

use cim_jetstream::testing::{HarnessError, NatsCluster, NatsServer};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[tokio::test]
async fn a_server_stops_restarts_on_its_port_and_dies_with_its_handle() -> TestResult {
    let mut server = NatsServer::start().await?;
    let url = server.url();
    assert!(server.is_running());
    assert!(server.store_dir().is_dir());
    server.client().await?.flush().await?;

    server.stop();
    assert!(!server.is_running());
    assert!(server.client().await.is_err(), "nothing listens after stop");

    server.restart().await?;
    assert_eq!(server.url(), url);
    server.client().await?.flush().await?;

    let store = server.store_dir();
    drop(server);
    assert!(!store.exists(), "the store directory goes with the server");
    let port = url.rsplit(':').next().unwrap_or_default().parse::<u16>()?;
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err(),
        "the process is killed on drop"
    );
    Ok(())
}

#[tokio::test]
async fn a_cluster_names_its_nodes_and_rejects_unknown_ones() -> TestResult {
    let mut cluster = NatsCluster::start(3).await?;
    assert_eq!(cluster.len(), 3);
    assert_eq!(cluster.urls().len(), 3);
    let names: Vec<String> = (0..3)
        .map(|i| cluster.node(i).map(|n| n.name().to_string()))
        .collect::<Result<_, _>>()?;
    assert_eq!(names, ["cim-test-n1", "cim-test-n2", "cim-test-n3"]);
    assert!(matches!(
        cluster.kill(3),
        Err(HarnessError::NoSuchNode { index: 3, size: 3 })
    ));
    cluster.kill(2)?;
    assert!(!cluster.node_mut(2)?.is_running());
    // The survivors elect a meta leader if they lost it, and keep serving JetStream.
    let js = async_nats::jetstream::new(cluster.node(0)?.client().await?);
    let mut served = false;
    for _ in 0..20 {
        if js.query_account().await.is_ok() {
            served = true;
            break;
        }
    }
    assert!(served, "two of three nodes keep a JetStream quorum");
    cluster.restart(2).await?;
    assert!(cluster.node_mut(2)?.is_running());
    Ok(())
}
