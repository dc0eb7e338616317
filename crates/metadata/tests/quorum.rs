//! The metadata quorum end to end: real nodes over TCP on 127.0.0.1, each
//! with its own directory, driven through the public `Quorum` API.

mod common;

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::time::{Duration, Instant};

use common::{config_record, fast, init_tracing, register, test_dir, Cluster, WAIT};
use fjord_metadata::records::Uuid;
use fjord_metadata::{
    controller, ImageError, MetaError, MetadataRecord, ProposeError, Quorum, QuorumConfig,
    StartError,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_voter_leads_at_once_and_commits() {
    init_tracing();
    let dir = test_dir("single");
    let mut config = QuorumConfig::new(
        1,
        "127.0.0.1:0".parse().unwrap(),
        BTreeMap::from([(1, "127.0.0.1:0".to_string())]),
        dir.clone(),
    );
    fast(&mut config);
    let started = Instant::now();
    let node = Quorum::start(config).await.unwrap();
    assert_ne!(node.local_addr().port(), 0, "the bound port is reported");
    let offset = node.propose(vec![register(1, 1)]).await.unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    assert!(node.is_leader());
    let image = node.image();
    assert_eq!(image.offset, Some(offset));
    assert!(image.brokers.contains_key(&1));
    // openraft publishes its metrics just after answering the write.
    let deadline = Instant::now() + WAIT;
    let info = loop {
        let info = node.describe();
        if info.high_watermark == Some(offset + 1) || Instant::now() > deadline {
            break info;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(info.leader_id, Some(1));
    assert!(info.term >= 1);
    assert_eq!(info.high_watermark, Some(offset + 1));
    assert_eq!(info.voters.len(), 1);
    assert_eq!(info.voters[0].log_end_offset, Some(offset + 1));

    // A proposal the image refuses commits nothing, all or none.
    let before = node.image();
    let bad = node
        .propose(vec![
            config_record("a", "1"),
            MetadataRecord::RemoveTopic {
                topic_id: Uuid([1; 16]),
            },
        ])
        .await;
    assert!(matches!(
        bad,
        Err(ProposeError::Rejected {
            error: ImageError::UnknownTopic(_),
            ..
        })
    ));
    assert_eq!(*node.image(), *before);
    // The cluster id was generated and stored.
    let meta = fs::read_to_string(dir.join("meta.properties")).unwrap();
    assert!(meta.contains("cluster.id="), "{meta}");
    node.shutdown().await;
    assert_eq!(
        node.propose(vec![register(2, 1)]).await,
        Err(ProposeError::Shutdown)
    );
    let _ = fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_voters_elect_one_leader_and_agree_on_the_order() {
    init_tracing();
    let mut cluster = Cluster::new("three", 3, fast);
    cluster.start_all().await;
    let leader = cluster.leader().await;
    let follower = *cluster.nodes.keys().find(|id| **id != leader).unwrap();

    // Register and unfence three brokers through a follower, then create a
    // topic with the controller's records, and interleave proposals from
    // the leader and both followers.
    let mut last = 0;
    for b in 1..=3 {
        cluster
            .node(follower)
            .propose(vec![register(b, 10)])
            .await
            .unwrap();
        last = cluster
            .node(follower)
            .propose(vec![MetadataRecord::UnfenceBroker {
                broker_id: b,
                epoch: 10,
            }])
            .await
            .unwrap();
    }
    let image = cluster
        .node(follower)
        .wait_for_offset(last, WAIT)
        .await
        .unwrap();
    let records =
        controller::create_topic_records(&image, "orders", Uuid([42; 16]), 6, 3, &BTreeMap::new())
            .unwrap();
    let created = cluster.node(follower).propose(records).await.unwrap();
    assert!(created > last);
    let mut offsets = vec![];
    for round in 0..3 {
        for id in [1, 2, 3] {
            let key = format!("k{round}");
            offsets.push(
                cluster
                    .node(id)
                    .propose(vec![config_record(&key, &id.to_string())])
                    .await
                    .unwrap(),
            );
        }
    }
    let mut sorted = offsets.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted, offsets, "each commit lands after the previous one");
    let image = cluster.converge(*offsets.last().unwrap()).await;
    let topic = image.topic("orders").unwrap();
    assert_eq!(topic.partitions.len(), 6);
    assert!(topic.partitions.values().all(|p| p.replicas.len() == 3));
    // Last writer wins per key, in commit order: node 3 wrote last each round.
    let broker_configs = &image.configs[&fjord_metadata::records::ConfigResourceType::Broker][""];
    assert_eq!(broker_configs["k2"], "3");
    let info = cluster.node(leader).describe();
    assert_eq!(info.leader_id, Some(leader));
    assert_eq!(info.voters.len(), 3);
    assert!(info
        .voters
        .iter()
        .all(|v| v.log_end_offset.is_some() && v.last_ack.is_some()));
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_leader_is_replaced_and_catches_up_after_restart() {
    init_tracing();
    let mut cluster = Cluster::new("failover", 3, fast);
    cluster.start_all().await;
    let old = cluster.leader().await;
    let before = cluster
        .node(old)
        .propose(vec![register(1, 1)])
        .await
        .unwrap();
    cluster.converge(before).await;

    let killed = Instant::now();
    cluster.kill(old).await;
    let new = cluster.leader().await;
    let elected = killed.elapsed();
    assert_ne!(new, old);
    assert!(
        elected < Duration::from_secs(5),
        "election took {elapsed:?}",
        elapsed = elected
    );
    let survivor = *cluster.nodes.keys().find(|id| **id != new).unwrap();
    let after = cluster
        .node(survivor)
        .propose(vec![register(2, 1)])
        .await
        .unwrap();
    let mut last = after;
    for i in 0..10 {
        last = cluster
            .node(new)
            .propose(vec![config_record(&format!("while-down-{i}"), "x")])
            .await
            .unwrap();
    }
    cluster.converge(last).await;

    cluster.start(old).await;
    let image = cluster.converge(last).await;
    assert!(image.brokers.contains_key(&1) && image.brokers.contains_key(&2));
    eprintln!("leader {old} killed: node {new} led after {elected:?}");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_keeps_its_image_from_log_and_snapshot() {
    init_tracing();
    let mut cluster = Cluster::new("restart", 1, fast);
    cluster.start(1).await;
    let mut last = 0;
    for i in 0..5 {
        last = cluster
            .node(1)
            .propose(vec![config_record(&format!("before-snapshot-{i}"), "v")])
            .await
            .unwrap();
    }
    cluster.node(1).snapshot().await.unwrap();
    let deadline = Instant::now() + WAIT;
    while !cluster.dir(1).join("snapshot.json").exists() {
        assert!(Instant::now() < deadline, "no snapshot written");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for i in 0..5 {
        last = cluster
            .node(1)
            .propose(vec![config_record(&format!("after-snapshot-{i}"), "v")])
            .await
            .unwrap();
    }
    let image = cluster.node(1).wait_for_offset(last, WAIT).await.unwrap();
    cluster.kill(1).await;
    cluster.start(1).await;
    // Before anything new is committed, the image is back from disk.
    let restored = cluster.node(1).wait_for_offset(last, WAIT).await.unwrap();
    assert_eq!(*restored, *image);
    let next = cluster
        .node(1)
        .propose(vec![config_record("after-restart", "v")])
        .await
        .unwrap();
    assert!(next > last);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_log_tail_is_cut_at_open() {
    init_tracing();
    let mut cluster = Cluster::new("torn", 1, fast);
    cluster.start(1).await;
    let mut offsets = vec![];
    for i in 0..5 {
        offsets.push(
            cluster
                .node(1)
                .propose(vec![config_record(&format!("k{i}"), "v")])
                .await
                .unwrap(),
        );
    }
    cluster.kill(1).await;
    // Tear the last entry: cut its last bytes off the last segment.
    let log_dir = cluster.dir(1).join("log");
    let mut segments: Vec<_> = fs::read_dir(&log_dir)
        .unwrap()
        .map(|d| d.unwrap().path())
        .collect();
    segments.sort();
    let last = segments.last().unwrap();
    let size = fs::metadata(last).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(last)
        .unwrap()
        .set_len(size - 5)
        .unwrap();

    cluster.start(1).await;
    let image = cluster
        .node(1)
        .wait_for_offset(offsets[3], WAIT)
        .await
        .unwrap();
    // The torn entry is gone; everything before it is intact.
    let configs = &image.configs[&fjord_metadata::records::ConfigResourceType::Broker][""];
    assert!(configs.contains_key("k3"));
    assert!(!configs.contains_key("k4"));
    assert!(fs::metadata(last).map(|m| m.len()).unwrap_or(0) < size - 5);
    // And the log goes on.
    let next = cluster
        .node(1)
        .propose(vec![config_record("k5", "v")])
        .await
        .unwrap();
    cluster.node(1).wait_for_offset(next, WAIT).await.unwrap();
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_cluster_id_is_refused() {
    init_tracing();
    let mut cluster = Cluster::new("cluster-id", 3, fast);
    cluster.cluster_ids = BTreeMap::from([
        (1, "clusterA".to_string()),
        (2, "clusterA".to_string()),
        (3, "clusterB".to_string()),
    ]);
    cluster.start_all().await;
    // Nodes 1 and 2 form the quorum; node 3 is refused by both.
    let deadline = Instant::now() + WAIT;
    let offset = loop {
        match cluster.node(1).propose(vec![register(1, 1)]).await {
            Ok(offset) => break offset,
            Err(e) => assert!(Instant::now() < deadline, "no commit: {e}"),
        }
    };
    cluster.node(2).wait_for_offset(offset, WAIT).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(cluster.node(3).image().offset, None, "node 3 got nothing");

    // A node restarted with another cluster id than its directory's refuses
    // to start, saying why.
    cluster.kill(3).await;
    let mut config = cluster.config(3);
    config.cluster_id = Some("clusterA".into());
    let err = match Quorum::start(config).await {
        Ok(_) => panic!("started with the wrong cluster id"),
        Err(e) => e,
    };
    assert!(matches!(
        err,
        StartError::Meta(MetaError::ClusterIdMismatch { .. })
    ));
    let message = err.to_string();
    assert!(
        message.contains("clusterA") && message.contains("clusterB"),
        "{message}"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minority_cannot_commit() {
    init_tracing();
    let mut cluster = Cluster::new("minority", 3, |c| {
        fast(c);
        c.propose_timeout = Duration::from_millis(1500);
    });
    cluster.start_all().await;
    let leader = cluster.leader().await;
    let first = cluster
        .node(leader)
        .propose(vec![register(1, 1)])
        .await
        .unwrap();
    cluster.converge(first).await;

    // The leader alone: it still believes it leads, but nothing commits.
    let followers: Vec<u64> = cluster
        .nodes
        .keys()
        .copied()
        .filter(|id| *id != leader)
        .collect();
    for id in &followers {
        cluster.kill(*id).await;
    }
    let before = cluster.node(leader).image();
    let result = cluster.node(leader).propose(vec![register(2, 1)]).await;
    assert_eq!(result, Err(ProposeError::Timeout));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(*cluster.node(leader).image(), *before);

    // A lone follower has no leader to forward to.
    cluster.kill(leader).await;
    cluster.start(followers[0]).await;
    let result = cluster
        .node(followers[0])
        .propose(vec![register(3, 1)])
        .await;
    assert!(
        matches!(
            result,
            Err(ProposeError::NotLeader { .. }) | Err(ProposeError::Timeout)
        ),
        "{result:?}"
    );
    assert!(!cluster.node(followers[0]).image().brokers.contains_key(&3));
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_voters_survive_two_killed() {
    init_tracing();
    let mut cluster = Cluster::new("five", 5, fast);
    cluster.start_all().await;
    let leader = cluster.leader().await;
    let first = cluster
        .node(leader)
        .propose(vec![register(1, 1)])
        .await
        .unwrap();
    cluster.converge(first).await;
    let other = *cluster.nodes.keys().find(|id| **id != leader).unwrap();
    cluster.kill(leader).await;
    cluster.kill(other).await;
    let new = cluster.leader().await;
    let any = *cluster.nodes.keys().find(|id| **id != new).unwrap();
    let offset = cluster
        .node(any)
        .propose(vec![register(2, 1)])
        .await
        .unwrap();
    let image = cluster.converge(offset).await;
    assert!(image.brokers.contains_key(&2));
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_down_past_the_purge_catches_up_by_snapshot() {
    init_tracing();
    let mut cluster = Cluster::new("snapshot", 3, |c| {
        fast(c);
        c.snapshot_after_entries = 5;
        c.log_entries_behind_snapshot = 0;
        c.segment_bytes = 512;
    });
    cluster.start_all().await;
    let leader = cluster.leader().await;
    let lagging = *cluster.nodes.keys().find(|id| **id != leader).unwrap();
    cluster.kill(lagging).await;
    let _ = fs::remove_file(cluster.dir(lagging).join("snapshot.json"));
    let last = cluster.propose_configs(leader, 0..30).await;
    cluster.converge(last).await;
    // The leader snapshotted and purged its log behind the snapshot: the
    // first segment is gone.
    let deadline = Instant::now() + WAIT;
    loop {
        let first_segment = fs::read_dir(cluster.dir(leader).join("log"))
            .unwrap()
            .filter_map(|d| d.ok())
            .map(|d| d.file_name().to_string_lossy().into_owned())
            .min();
        if first_segment.as_deref() != Some("00000000000000000000.log") {
            break;
        }
        assert!(Instant::now() < deadline, "the leader never purged its log");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(cluster.dir(leader).join("snapshot.json").exists());

    cluster.start(lagging).await;
    let image = cluster.converge(last).await;
    assert_eq!(
        image.configs[&fjord_metadata::records::ConfigResourceType::Broker][""].len(),
        30
    );
    assert!(
        cluster.dir(lagging).join("snapshot.json").exists(),
        "the lagging node installed a snapshot"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_cluster_restart_keeps_the_metadata() {
    init_tracing();
    let mut cluster = Cluster::new("full-restart", 3, fast);
    cluster.start_all().await;
    let leader = cluster.leader().await;
    let last = cluster.propose_configs(leader, 0..5).await;
    let image = cluster.converge(last).await;
    let term = cluster.node(leader).describe().term;
    for id in [1, 2, 3] {
        cluster.kill(id).await;
    }
    // Restart in reverse order: the initialiser (node 1) comes last and
    // must find its membership in the log rather than initialise again.
    for id in [3, 2, 1] {
        cluster.start(id).await;
    }
    let restored = cluster.converge(last).await;
    assert_eq!(*restored, *image);
    let leader = cluster.leader().await;
    // openraft lets a leader whose own vote was committed resume its term
    // after a restart (no other node can lead that term); otherwise a new
    // election raises it.
    assert!(cluster.node(leader).describe().term >= term);
    let next = cluster
        .node(leader)
        .propose(vec![config_record("after", "v")])
        .await
        .unwrap();
    assert!(next > last);
    cluster.converge(next).await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_from_the_network_is_refused_without_harm() {
    use fjord_metadata::raft::wire::{read_frame, write_frame, Request, Response};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    init_tracing();
    let mut cluster = Cluster::new("garbage", 1, fast);
    cluster.cluster_ids.insert(1, "clusterA".into());
    cluster.start(1).await;
    let addr = cluster.node(1).local_addr();

    // A length over the 64 MiB cap: the node hangs up without reading on.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(WAIT, stream.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");

    // Not JSON.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(&[0, 0, 0, 3, b'a', b'b', b'c'])
        .await
        .unwrap();
    let read = tokio::time::timeout(WAIT, stream.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");

    // A Hello meant for another node, then one from another cluster.
    for (to, cluster_id, why) in [
        (7, "clusterA", "this is node 1"),
        (1, "clusterB", "cluster id mismatch"),
    ] {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let hello = Request::Hello {
            cluster_id: Some(cluster_id.into()),
            from: 9,
            to,
        };
        write_frame(&mut stream, &hello).await.unwrap();
        let answer: Response = tokio::time::timeout(WAIT, read_frame(&mut stream))
            .await
            .unwrap()
            .unwrap();
        match answer {
            Response::Hello(Err(message)) => assert!(message.contains(why), "{message}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    // The node still commits.
    let offset = cluster.node(1).propose(vec![register(1, 1)]).await.unwrap();
    cluster.node(1).wait_for_offset(offset, WAIT).await.unwrap();
    cluster.stop().await;
}

/// Waits until every node of `cluster` has written `snapshot.json`.
async fn wait_for_snapshots(cluster: &Cluster, what: &str) {
    let deadline = Instant::now() + WAIT;
    while !cluster
        .nodes
        .keys()
        .all(|id| cluster.dir(*id).join("snapshot.json").exists())
    {
        assert!(
            Instant::now() < deadline,
            "no snapshot on every node: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_follow_the_applied_bytes_and_the_interval() {
    init_tracing();
    // Bytes: the entry-count policy is out of reach; ~40 bytes per record.
    let mut cluster = Cluster::new("snapshot-bytes", 3, |c| {
        fast(c);
        c.snapshot_after_entries = 1_000_000;
        c.snapshot_after_bytes = 600;
        c.snapshot_interval = None;
    });
    cluster.start_all().await;
    let leader = cluster.leader().await;
    let mut last = cluster.propose_configs(leader, 0..3).await;
    cluster.converge(last).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for id in cluster.nodes.keys() {
        assert!(
            !cluster.dir(*id).join("snapshot.json").exists(),
            "a snapshot before 600 bytes of records on node {id}"
        );
    }
    last = cluster.propose_configs(leader, 3..30).await;
    cluster.converge(last).await;
    wait_for_snapshots(&cluster, "after 30 records").await;
    cluster.stop().await;

    // Time: bytes out of reach, a 300 ms interval.
    let mut cluster = Cluster::new("snapshot-time", 3, |c| {
        fast(c);
        c.snapshot_after_entries = 1_000_000;
        c.snapshot_after_bytes = u64::MAX;
        c.snapshot_interval = Some(Duration::from_millis(300));
    });
    cluster.start_all().await;
    let leader = cluster.leader().await;
    let last = cluster
        .node(leader)
        .propose(vec![config_record("k", "v")])
        .await
        .unwrap();
    cluster.converge(last).await;
    wait_for_snapshots(&cluster, "300 ms after one record").await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_records_commit_and_come_back_from_a_snapshot() {
    use fjord_metadata::security::{AclEntry, Bytes, QuotaEntityPart, QuotaValue, ScramCredential};
    init_tracing();
    let mut cluster = Cluster::new("security", 1, fast);
    cluster.start(1).await;
    let acl_id = Uuid([5; 16]);
    let records = vec![
        MetadataRecord::UserScramCredential {
            user: "alice".into(),
            mechanism: 1,
            credential: ScramCredential {
                salt: Bytes(vec![1; 16]),
                iterations: 4096,
                stored_key: Bytes(vec![2; 32]),
                server_key: Bytes(vec![3; 32]),
            },
        },
        MetadataRecord::AccessControlEntry {
            id: acl_id,
            entry: AclEntry {
                resource_type: 2,
                resource_name: "orders".into(),
                pattern_type: 3,
                principal: "User:alice".into(),
                host: "*".into(),
                operation: 3,
                permission_type: 3,
            },
        },
        MetadataRecord::ClientQuota {
            entity: vec![QuotaEntityPart {
                entity_type: "client-id".into(),
                name: Some("app".into()),
            }],
            key: "producer_byte_rate".into(),
            value: Some(QuotaValue(1024.0)),
        },
    ];
    let last = cluster.node(1).propose(records).await.unwrap();
    // Removing an ACL that is not there is refused whole.
    let refused = cluster
        .node(1)
        .propose(vec![MetadataRecord::RemoveAccessControlEntry {
            id: Uuid([6; 16]),
        }])
        .await;
    assert!(matches!(
        refused,
        Err(ProposeError::Rejected {
            error: ImageError::NotFound(_),
            ..
        })
    ));
    let image = cluster.node(1).wait_for_offset(last, WAIT).await.unwrap();
    assert_eq!(image.security.scram["alice"][&1].iterations, 4096);
    assert!(image.security.acls.contains_key(&acl_id));
    assert_eq!(image.security.client_quotas.len(), 1);
    cluster.node(1).snapshot().await.unwrap();
    let snapshot = cluster.dir(1).join("snapshot.json");
    let deadline = Instant::now() + WAIT;
    while !snapshot.exists() {
        assert!(Instant::now() < deadline, "no snapshot written");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let text = fs::read_to_string(&snapshot).unwrap();
    assert!(text.contains("\"security\"") && text.contains(&acl_id.to_string()));
    let image = cluster.node(1).image();
    cluster.kill(1).await;
    cluster.start(1).await;
    let restored = cluster
        .node(1)
        .wait_for_offset(image.offset.unwrap(), WAIT)
        .await
        .unwrap();
    assert_eq!(restored.security, image.security);
    cluster.stop().await;
}
