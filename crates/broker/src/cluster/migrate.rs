//! The in-place upgrade of a single-node data directory to cluster mode:
//! a directory a single-node fjord wrote (its `meta/` files and logs),
//! started with `controller.quorum.voters`, brings its topics, SCRAM
//! users, ACLs, client quotas and the producer ids it handed out into the
//! cluster metadata, so every record, committed group offset and
//! transaction survives the switch. The topics keep their ids and logs:
//! each becomes a topic of the image with this broker as its one replica
//! and leader, at the leader epoch its local partitions have reached (a
//! reassignment then spreads them over the cluster, as a Kafka user
//! raises the replication factor).
//!
//! When: [`prepare`] runs before the quorum starts. A directory holding
//! `meta/cluster.json` (a fjord of any mode ran in it) but no quorum
//! directory yet is a single-node one entering cluster mode: a marker,
//! `meta/cluster-migration.json`, is written durably, saying the
//! migration is pending. [`run`] then proposes the records before the
//! replay or any client sees the image, and marks the migration done. A
//! crash in between leaves the marker pending and the next start resumes:
//! what the image already holds (a topic of the same name and id, a
//! credential, an ACL, a quota value) is not proposed again.
//!
//! A topic whose name the cluster already gives another id (or whose id
//! the cluster gives another name) cannot be migrated: the node refuses
//! to start, saying which, and nothing is deleted (the replay would
//! otherwise delete the local topic as one replaced while away). `_schemas`
//! stays local, as every node's schema registry keeps it in this step.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fjord_metadata::records::{ConfigResourceType, MetadataRecord, Uuid};
use fjord_metadata::{MetadataImage, ProposeError};
use serde::{Deserialize, Serialize};

use super::security_sync::{create_acl_records, quota_records, user_records};
use super::start::QUORUM_DIR;
use super::Cluster;
use crate::config::BrokerConfig;
use crate::quotas::store::Change as QuotaChange;
use crate::security::acls::{AclFilter, PatternFilter};
use crate::security::users::Change as UserChange;
use crate::state::BrokerState;

/// The marker's file name in `meta/`.
pub const MARKER: &str = "cluster-migration.json";

/// The topic the schema registry keeps outside the image in this step.
const SCHEMAS_TOPIC: &str = "_schemas";

/// How long the migration waits for a quorum leader to take its records.
const QUORUM_WAIT: Duration = Duration::from_secs(120);

/// Records per proposal at most (a topic's records are never split).
const RECORDS_PER_PROPOSAL: usize = 4096;

/// The marker's content.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Marker {
    /// `pending` until every record is committed, then `done`.
    state: String,
    /// What was proposed (filled in when done).
    #[serde(default)]
    topics: usize,
    #[serde(default)]
    partitions: usize,
    #[serde(default)]
    records: usize,
}

fn marker_path(data_dir: &Path) -> PathBuf {
    data_dir.join("meta").join(MARKER)
}

fn write_marker(data_dir: &Path, marker: &Marker) -> Result<(), String> {
    let path = marker_path(data_dir);
    let text = serde_json::to_string_pretty(marker).map_err(|e| e.to_string())?;
    crate::meta_store::replace_meta_file(&path, &text)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn read_marker(data_dir: &Path) -> Result<Option<Marker>, String> {
    let path = marker_path(data_dir);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{} is not a migration marker: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Decides, before the quorum starts, whether this start upgrades a
/// single-node directory (see the module doc), recording a pending
/// migration durably; true when one is pending.
pub fn prepare(config: &BrokerConfig) -> Result<bool, String> {
    let dir = &config.data_dir;
    if let Some(marker) = read_marker(dir)? {
        return Ok(marker.state == "pending");
    }
    let was_single_node =
        dir.join("meta").join("cluster.json").exists() && !dir.join(QUORUM_DIR).exists();
    if !was_single_node {
        return Ok(false);
    }
    write_marker(
        dir,
        &Marker {
            state: "pending".into(),
            ..Marker::default()
        },
    )?;
    tracing::info!(data_dir = %dir.display(), "a single-node data directory enters cluster mode: its topics, users, ACLs and quotas will be migrated into the cluster metadata");
    Ok(true)
}

/// What a migration proposes over one image: groups of records, each
/// group committed whole (a topic with its partitions and configs), and
/// the counts for the log.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    pub groups: Vec<Vec<MetadataRecord>>,
    pub topics: usize,
    pub partitions: usize,
}

/// One local topic as the migration sees it.
pub struct LocalTopic {
    pub name: String,
    pub id: Uuid,
    pub configs: BTreeMap<String, String>,
    /// The leader epoch each partition has reached here.
    pub leader_epochs: Vec<i32>,
    /// Whether no partition ever held a record.
    pub empty: bool,
}

/// The records that bring `topics` into `image` with `node` as their one
/// replica, skipping those already there; an error names a topic the
/// image holds under another id (or an id under another name), unless
/// the local one never held a record (typically `__consumer_offsets`,
/// which every node creates at its first start): that one is left out,
/// and the replay replaces it with the cluster's.
pub fn topic_plan(image: &MetadataImage, node: i32, topics: &[LocalTopic]) -> Result<Plan, String> {
    let mut plan = Plan::default();
    for t in topics {
        match image.topic(&t.name) {
            Some(held) if held.id == t.id => continue,
            Some(_) if t.empty => {
                tracing::info!(topic = %t.name, "an empty topic of this data directory is replaced by the cluster's topic of that name");
                continue;
            }
            Some(held) => {
                return Err(format!(
                    "topic {} of this single-node data directory (id {}) cannot join the cluster, which has a topic of that name with id {}: rename or remove one of them first",
                    t.name, t.id, held.id
                ))
            }
            None => {}
        }
        if let Some(other) = image.topics.get(&t.id) {
            if t.empty {
                continue;
            }
            return Err(format!(
                "topic {} of this single-node data directory has id {}, which the cluster gives to topic {}",
                t.name, t.id, other.name
            ));
        }
        let mut group = Vec::with_capacity(1 + t.leader_epochs.len() + t.configs.len());
        group.push(MetadataRecord::Topic {
            name: t.name.clone(),
            topic_id: t.id,
        });
        for (index, epoch) in t.leader_epochs.iter().enumerate() {
            group.push(MetadataRecord::Partition {
                topic_id: t.id,
                partition: index as i32,
                replicas: vec![node],
                isr: vec![node],
                leader: node,
                leader_epoch: *epoch,
                partition_epoch: 0,
            });
        }
        for (key, value) in &t.configs {
            group.push(MetadataRecord::Config {
                resource_type: ConfigResourceType::Topic,
                resource_name: t.name.clone(),
                key: key.clone(),
                value: Some(value.clone()),
            });
        }
        plan.topics += 1;
        plan.partitions += t.leader_epochs.len();
        plan.groups.push(group);
    }
    Ok(plan)
}

/// The local topics to migrate (all but `_schemas`).
fn local_topics(state: &BrokerState) -> Vec<LocalTopic> {
    let mut topics: Vec<LocalTopic> = state
        .all_topics()
        .into_iter()
        .filter(|t| t.name != SCHEMAS_TOPIC)
        .map(|t| LocalTopic {
            name: t.name.clone(),
            id: Uuid(t.id.0),
            configs: t.configs.clone(),
            leader_epochs: t.partitions.iter().map(|p| p.leader_epoch).collect(),
            empty: t.partitions.iter().all(|p| p.log.log_end_offset() == 0),
        })
        .collect();
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    topics
}

/// The records that bring this node's users, ACLs, quotas and used
/// producer ids into `image`, skipping what it holds already.
fn security_records(state: &BrokerState, image: &MetadataImage) -> Vec<MetadataRecord> {
    let held = &image.security;
    let mut users = Vec::new();
    for (user, creds) in state.users.snapshot().iter() {
        for (mechanism, credential) in creds {
            if held
                .scram
                .get(user)
                .is_some_and(|c| c.contains_key(&mechanism.wire()))
            {
                continue;
            }
            users.push(UserChange::Upsert {
                user: user.clone(),
                mechanism: *mechanism,
                credential: credential.clone(),
            });
        }
    }
    let mut records = user_records(&users);
    let everything = AclFilter {
        resource_type: None,
        name: None,
        pattern: PatternFilter::Any,
        principal: None,
        host: None,
        operation: None,
        permission: None,
    };
    records.extend(create_acl_records(
        held,
        &state.authorizer.describe(&everything),
    ));
    let image_quotas = super::security_sync::quotas_of(held);
    let mut quotas = Vec::new();
    for (entity, values) in state.quotas.quotas().iter() {
        for (key, value) in values {
            let same = image_quotas
                .get(entity)
                .and_then(|v| v.get(key))
                .is_some_and(|v| v == value);
            if !same {
                quotas.push(QuotaChange {
                    entity: entity.clone(),
                    key: key.clone(),
                    value: Some(*value),
                });
            }
        }
    }
    records.extend(quota_records(&quotas));
    let used = state.reserved_producer_ids();
    if used > image.next_producer_id {
        records.push(MetadataRecord::ReserveProducerIds {
            next_producer_id: used,
        });
    }
    records
}

/// Packs record groups into proposals of at most
/// [`RECORDS_PER_PROPOSAL`] records (a larger group goes alone).
fn batches(groups: Vec<Vec<MetadataRecord>>) -> Vec<Vec<MetadataRecord>> {
    let mut out: Vec<Vec<MetadataRecord>> = Vec::new();
    for group in groups {
        match out.last_mut() {
            Some(last) if last.len() + group.len() <= RECORDS_PER_PROPOSAL => last.extend(group),
            _ => out.push(group),
        }
    }
    out
}

/// Commits `records`, waiting out elections until `deadline`.
async fn commit(
    cluster: &Cluster,
    records: Vec<MetadataRecord>,
    deadline: tokio::time::Instant,
) -> Result<(), String> {
    match super::catch_up::propose_until(cluster, records, deadline).await {
        Ok(_) => Ok(()),
        Err(ProposeError::Rejected { error, .. }) => Err(format!(
            "the cluster refused the migrated metadata: {error}"
        )),
        Err(e) => Err(format!(
            "the metadata quorum took no records for {} s ({e}): start the other voters",
            QUORUM_WAIT.as_secs()
        )),
    }
}

/// Proposes this single-node directory's metadata (see the module doc)
/// and marks the migration done. Called once the broker state is open in
/// cluster mode, before the users, ACLs and quotas of the image replace
/// the local ones and before the replay starts.
pub async fn run(state: &BrokerState, cluster: &Cluster) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + QUORUM_WAIT;
    let locals = local_topics(state);
    // The image this node knows may lag the quorum's; a stale one makes a
    // proposal the image rejects (TopicExists), and the next attempt
    // plans over the fresher image.
    let mut attempts = 0;
    let (plan, records) = loop {
        super::catch_up::quorum(cluster, deadline).await?;
        let image = cluster.image();
        let plan = topic_plan(&image, cluster.node_id, &locals)?;
        let security = security_records(state, &image);
        let mut records = 0;
        let mut failed = None;
        let mut groups = plan.groups.clone();
        if !security.is_empty() {
            groups.push(security);
        }
        for batch in batches(groups) {
            records += batch.len();
            if let Err(e) = commit(cluster, batch, deadline).await {
                failed = Some(e);
                break;
            }
            crate::crash_point::reached("migration-batch-committed");
        }
        match failed {
            None => break (plan, records),
            Some(e) if attempts < 3 && e.starts_with("the cluster refused") => {
                attempts += 1;
                tracing::warn!(error = %e, "retrying the migration over a newer image");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Some(e) => return Err(e),
        }
    };
    crate::crash_point::reached("migration-before-marker");
    write_marker(
        &state.config().data_dir,
        &Marker {
            state: "done".into(),
            topics: plan.topics,
            partitions: plan.partitions,
            records,
        },
    )?;
    tracing::info!(
        topics = plan.topics,
        partitions = plan.partitions,
        records,
        "migrated the single-node data directory into the cluster metadata"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(name: &str, id: u8, partitions: usize) -> LocalTopic {
        LocalTopic {
            name: name.into(),
            id: Uuid([id; 16]),
            configs: BTreeMap::from([("cleanup.policy".to_string(), "compact".to_string())]),
            leader_epochs: (0..partitions as i32).map(|p| 7 + p).collect(),
            empty: false,
        }
    }

    fn applied(groups: &[Vec<MetadataRecord>]) -> MetadataImage {
        let mut image = MetadataImage::default();
        for (i, r) in groups.iter().flatten().enumerate() {
            image.apply(i as u64, r).unwrap();
        }
        image
    }

    #[test]
    fn topics_keep_their_ids_and_epochs_with_this_node_as_only_replica() {
        let plan = topic_plan(
            &MetadataImage::default(),
            3,
            &[local("a", 1, 2), local("b", 2, 1)],
        )
        .unwrap();
        assert_eq!((plan.topics, plan.partitions), (2, 3));
        let image = applied(&plan.groups);
        let a = image.topic("a").unwrap();
        assert_eq!(a.id, Uuid([1; 16]));
        let p1 = &a.partitions[&1];
        assert_eq!((p1.leader, p1.leader_epoch), (3, 8));
        assert_eq!((p1.replicas.clone(), p1.isr.clone()), (vec![3], vec![3]));
        assert_eq!(
            image
                .configs_of(ConfigResourceType::Topic, "a")
                .and_then(|c| c.get("cleanup.policy"))
                .map(String::as_str),
            Some("compact")
        );
        // Planned again over the image holding them: nothing to do.
        let again = topic_plan(&image, 3, &[local("a", 1, 2), local("b", 2, 1)]).unwrap();
        assert_eq!(again, Plan::default());
    }

    #[test]
    fn a_name_or_id_the_cluster_uses_otherwise_is_refused() {
        let image = applied(
            &topic_plan(&MetadataImage::default(), 1, &[local("a", 1, 1)])
                .unwrap()
                .groups,
        );
        let err = topic_plan(&image, 2, &[local("a", 9, 1)]).unwrap_err();
        assert!(err.contains("which has a topic of that name"), "{err}");
        let err = topic_plan(&image, 2, &[local("z", 1, 1)]).unwrap_err();
        assert!(err.contains("which the cluster gives to topic a"), "{err}");
        // An empty clashing topic is left to the cluster's.
        let empty = LocalTopic {
            empty: true,
            ..local("a", 9, 1)
        };
        assert_eq!(topic_plan(&image, 2, &[empty]).unwrap(), Plan::default());
    }

    #[test]
    fn proposals_are_bounded_and_never_split_a_topic() {
        let groups: Vec<Vec<MetadataRecord>> = (0..5)
            .map(|i| {
                topic_plan(
                    &MetadataImage::default(),
                    1,
                    &[local(&format!("t{i}"), i + 1, 1500)],
                )
                .unwrap()
                .groups
                .remove(0)
            })
            .collect();
        let sizes: Vec<usize> = batches(groups).iter().map(Vec::len).collect();
        // 1,502 records a topic: two fit in 4,096, three do not.
        assert_eq!(sizes, vec![3004, 3004, 1502]);
    }
}
