//! The metadata image: the deterministic result of applying the committed
//! metadata records in order, as Kafka's `MetadataImage`.
//!
//! [`MetadataImage::apply`] validates a record against the image before
//! changing anything: a record that does not fit (a change to an unknown
//! partition, a stale broker epoch, an ISR outside the replicas) is returned
//! as an [`ImageError`] and leaves the image exactly as it was. The quorum's
//! state machine relies on that to apply a proposal's records all or none.
//!
//! A serialised image is the quorum's snapshot, so everything here is plain
//! serde data with maps keyed by strings or integers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::records::{ConfigResourceType, Endpoint, MetadataRecord, Uuid};

/// Why a record could not be applied to the image.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum ImageError {
    #[error("broker {0} is not registered")]
    UnknownBroker(i32),
    #[error("broker {broker_id} has epoch {current}, the record names {given}")]
    StaleBrokerEpoch {
        broker_id: i32,
        current: i64,
        given: i64,
    },
    #[error("topic {0} already exists")]
    TopicExists(String),
    #[error("topic id {0} already exists")]
    TopicIdExists(Uuid),
    #[error("unknown topic id {0}")]
    UnknownTopic(Uuid),
    #[error("partition {partition} of topic {topic_id} already exists")]
    PartitionExists { topic_id: Uuid, partition: i32 },
    #[error("unknown partition {partition} of topic {topic_id}")]
    UnknownPartition { topic_id: Uuid, partition: i32 },
    #[error("partition epoch is {current}, the record names {given}")]
    StalePartitionEpoch { current: i32, given: i32 },
    #[error("invalid partition state: {0}")]
    InvalidPartition(String),
    #[error("producer ids must move forward: next is {current}, the record gives {given}")]
    ProducerIdsBackwards { current: i64, given: i64 },
    #[error("invalid record: {0}")]
    Invalid(String),
    /// A removal of a security entry (SCRAM credential, ACL) that is not
    /// there.
    #[error("{0} does not exist")]
    NotFound(String),
}

/// A registered broker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerRegistration {
    pub broker_id: i32,
    pub incarnation_id: String,
    pub epoch: i64,
    pub endpoints: Vec<Endpoint>,
    pub rack: Option<String>,
    /// A fenced broker leads nothing and gets no new replicas; brokers
    /// register fenced and are unfenced once caught up.
    pub fenced: bool,
}

/// One partition's replica assignment and leadership.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionImage {
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    /// -1 when the partition has no leader (offline).
    pub leader: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    /// Replicas a reassignment in progress adds (KIP-455); empty when none
    /// is in progress.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adding_replicas: Vec<i32>,
    /// Replicas a reassignment in progress removes once the added ones
    /// are in sync.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removing_replicas: Vec<i32>,
}

/// A topic and its partitions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicImage {
    pub name: String,
    pub id: Uuid,
    pub partitions: BTreeMap<i32, PartitionImage>,
}

/// The whole cluster metadata as of one committed offset.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataImage {
    /// The offset of the last record applied (None for an empty log).
    pub offset: Option<u64>,
    pub brokers: BTreeMap<i32, BrokerRegistration>,
    /// Topics by id.
    pub topics: BTreeMap<Uuid, TopicImage>,
    /// Topic ids by name.
    pub topic_ids: BTreeMap<String, Uuid>,
    /// Dynamic configs: resource type → resource name → key → value.
    pub configs: BTreeMap<ConfigResourceType, BTreeMap<String, BTreeMap<String, String>>>,
    /// The first producer id not yet handed out to any broker.
    pub next_producer_id: i64,
    /// SCRAM users, ACLs and client quotas (absent in snapshots written
    /// before they were kept here).
    #[serde(default)]
    pub security: crate::security::SecurityImage,
}

impl MetadataImage {
    /// The topic named `name`.
    pub fn topic(&self, name: &str) -> Option<&TopicImage> {
        self.topic_ids.get(name).and_then(|id| self.topics.get(id))
    }

    /// One partition of the topic with id `topic_id`.
    pub fn partition(&self, topic_id: Uuid, partition: i32) -> Option<&PartitionImage> {
        self.topics.get(&topic_id)?.partitions.get(&partition)
    }

    /// The dynamic configs of one resource (empty if none).
    pub fn configs_of(
        &self,
        resource_type: ConfigResourceType,
        name: &str,
    ) -> Option<&BTreeMap<String, String>> {
        self.configs.get(&resource_type)?.get(name)
    }

    /// One partition, to change it; UnknownPartition if there is none.
    pub(crate) fn partition_mut(
        &mut self,
        topic_id: Uuid,
        partition: i32,
    ) -> Result<&mut PartitionImage, ImageError> {
        self.topics
            .get_mut(&topic_id)
            .and_then(|t| t.partitions.get_mut(&partition))
            .ok_or(ImageError::UnknownPartition {
                topic_id,
                partition,
            })
    }

    /// Whether broker `id` is registered and unfenced.
    pub fn is_alive(&self, id: i32) -> bool {
        self.brokers.get(&id).is_some_and(|b| !b.fenced)
    }

    /// Applies one committed record found at `offset`. On error the image is
    /// unchanged.
    pub fn apply(&mut self, offset: u64, record: &MetadataRecord) -> Result<(), ImageError> {
        match record {
            MetadataRecord::RegisterBroker {
                broker_id,
                incarnation_id,
                broker_epoch,
                endpoints,
                rack,
            } => {
                if let Some(old) = self.brokers.get(broker_id) {
                    if *broker_epoch <= old.epoch {
                        return Err(ImageError::StaleBrokerEpoch {
                            broker_id: *broker_id,
                            current: old.epoch,
                            given: *broker_epoch,
                        });
                    }
                }
                self.brokers.insert(
                    *broker_id,
                    BrokerRegistration {
                        broker_id: *broker_id,
                        incarnation_id: incarnation_id.clone(),
                        epoch: *broker_epoch,
                        endpoints: endpoints.clone(),
                        rack: rack.clone(),
                        fenced: true,
                    },
                );
            }
            MetadataRecord::UnregisterBroker {
                broker_id,
                broker_epoch,
            } => {
                self.broker_at_epoch(*broker_id, *broker_epoch)?;
                self.brokers.remove(broker_id);
            }
            MetadataRecord::FenceBroker { broker_id, epoch } => {
                self.broker_at_epoch(*broker_id, *epoch)?;
                if let Some(b) = self.brokers.get_mut(broker_id) {
                    b.fenced = true;
                }
            }
            MetadataRecord::UnfenceBroker { broker_id, epoch } => {
                self.broker_at_epoch(*broker_id, *epoch)?;
                if let Some(b) = self.brokers.get_mut(broker_id) {
                    b.fenced = false;
                }
            }
            MetadataRecord::Topic { name, topic_id } => {
                if name.is_empty() {
                    return Err(ImageError::Invalid("empty topic name".into()));
                }
                if *topic_id == Uuid::ZERO {
                    return Err(ImageError::Invalid("the zero topic id".into()));
                }
                if self.topic_ids.contains_key(name) {
                    return Err(ImageError::TopicExists(name.clone()));
                }
                if self.topics.contains_key(topic_id) {
                    return Err(ImageError::TopicIdExists(*topic_id));
                }
                self.topic_ids.insert(name.clone(), *topic_id);
                self.topics.insert(
                    *topic_id,
                    TopicImage {
                        name: name.clone(),
                        id: *topic_id,
                        partitions: BTreeMap::new(),
                    },
                );
            }
            MetadataRecord::Partition {
                topic_id,
                partition,
                replicas,
                isr,
                leader,
                leader_epoch,
                partition_epoch,
            } => {
                let topic = self
                    .topics
                    .get_mut(topic_id)
                    .ok_or(ImageError::UnknownTopic(*topic_id))?;
                if *partition < 0 {
                    return Err(ImageError::InvalidPartition(format!(
                        "negative partition index {partition}"
                    )));
                }
                if topic.partitions.contains_key(partition) {
                    return Err(ImageError::PartitionExists {
                        topic_id: *topic_id,
                        partition: *partition,
                    });
                }
                let state = PartitionImage {
                    replicas: replicas.clone(),
                    isr: isr.clone(),
                    leader: *leader,
                    leader_epoch: *leader_epoch,
                    partition_epoch: *partition_epoch,
                    adding_replicas: Vec::new(),
                    removing_replicas: Vec::new(),
                };
                check_partition(&state)?;
                topic.partitions.insert(*partition, state);
            }
            MetadataRecord::PartitionChange {
                topic_id,
                partition,
                isr,
                leader,
                replicas,
            } => {
                let current = self.partition_mut(*topic_id, *partition)?;
                let mut next = current.clone();
                if let Some(replicas) = replicas {
                    next.replicas = replicas.clone();
                }
                if let Some(isr) = isr {
                    next.isr = isr.clone();
                }
                if let Some(leader) = leader {
                    if *leader != next.leader {
                        next.leader_epoch = next.leader_epoch.saturating_add(1);
                    }
                    next.leader = *leader;
                }
                next.partition_epoch = next.partition_epoch.saturating_add(1);
                check_partition(&next)?;
                *current = next;
            }
            MetadataRecord::AlterPartition {
                topic_id,
                partition,
                leader_epoch,
                partition_epoch,
                isr,
            } => {
                let brokers = &self.brokers;
                let current = self
                    .topics
                    .get_mut(topic_id)
                    .and_then(|t| t.partitions.get_mut(partition))
                    .ok_or(ImageError::UnknownPartition {
                        topic_id: *topic_id,
                        partition: *partition,
                    })?;
                if current.partition_epoch != *partition_epoch
                    || current.leader_epoch != *leader_epoch
                {
                    return Err(ImageError::StalePartitionEpoch {
                        current: current.partition_epoch,
                        given: *partition_epoch,
                    });
                }
                let fenced = |b: &i32| brokers.get(b).map_or(true, |r| r.fenced);
                if let Some(b) = isr.iter().find(|b| !current.isr.contains(b) && fenced(b)) {
                    return Err(ImageError::InvalidPartition(format!(
                        "broker {b} is fenced and cannot join the ISR"
                    )));
                }
                if !isr.contains(&current.leader) {
                    return Err(ImageError::InvalidPartition(
                        "the leader must stay in the ISR".into(),
                    ));
                }
                let mut next = current.clone();
                next.isr = isr.clone();
                next.partition_epoch = next.partition_epoch.saturating_add(1);
                check_partition(&next)?;
                *current = next;
            }
            MetadataRecord::RemoveTopic { topic_id } => {
                let topic = self
                    .topics
                    .remove(topic_id)
                    .ok_or(ImageError::UnknownTopic(*topic_id))?;
                self.topic_ids.remove(&topic.name);
                if let Some(topic_configs) = self.configs.get_mut(&ConfigResourceType::Topic) {
                    topic_configs.remove(&topic.name);
                    if topic_configs.is_empty() {
                        self.configs.remove(&ConfigResourceType::Topic);
                    }
                }
            }
            MetadataRecord::Config {
                resource_type,
                resource_name,
                key,
                value,
            } => {
                if key.is_empty() {
                    return Err(ImageError::Invalid("empty config key".into()));
                }
                match value {
                    Some(value) => {
                        self.configs
                            .entry(*resource_type)
                            .or_default()
                            .entry(resource_name.clone())
                            .or_default()
                            .insert(key.clone(), value.clone());
                    }
                    None => {
                        if let Some(by_name) = self.configs.get_mut(resource_type) {
                            if let Some(keys) = by_name.get_mut(resource_name) {
                                keys.remove(key);
                                if keys.is_empty() {
                                    by_name.remove(resource_name);
                                }
                            }
                            if by_name.is_empty() {
                                self.configs.remove(resource_type);
                            }
                        }
                    }
                }
            }
            MetadataRecord::ProducerIds {
                broker_id,
                broker_epoch,
                next_producer_id,
            } => {
                self.broker_at_epoch(*broker_id, *broker_epoch)?;
                if *next_producer_id <= self.next_producer_id {
                    return Err(ImageError::ProducerIdsBackwards {
                        current: self.next_producer_id,
                        given: *next_producer_id,
                    });
                }
                self.next_producer_id = *next_producer_id;
            }
            security @ (MetadataRecord::UserScramCredential { .. }
            | MetadataRecord::RemoveUserScramCredential { .. }
            | MetadataRecord::AccessControlEntry { .. }
            | MetadataRecord::RemoveAccessControlEntry { .. }
            | MetadataRecord::ClientQuota { .. }) => self.security.apply(security)?,
            MetadataRecord::ReassignPartition { .. } => crate::reassign::apply(self, record)?,
            MetadataRecord::ReserveProducerIds { next_producer_id } => {
                if *next_producer_id < 0 {
                    return Err(ImageError::Invalid(format!(
                        "negative next producer id {next_producer_id}"
                    )));
                }
                self.next_producer_id = self.next_producer_id.max(*next_producer_id);
            }
        }
        self.offset = Some(offset);
        Ok(())
    }

    /// The registration of `broker_id` if its epoch is `epoch`.
    fn broker_at_epoch(&self, broker_id: i32, epoch: i64) -> Result<(), ImageError> {
        let broker = self
            .brokers
            .get(&broker_id)
            .ok_or(ImageError::UnknownBroker(broker_id))?;
        if broker.epoch != epoch {
            return Err(ImageError::StaleBrokerEpoch {
                broker_id,
                current: broker.epoch,
                given: epoch,
            });
        }
        Ok(())
    }
}

/// The invariants of one partition's state.
pub(crate) fn check_partition(p: &PartitionImage) -> Result<(), ImageError> {
    let invalid = |why: String| Err(ImageError::InvalidPartition(why));
    if p.replicas.is_empty() {
        return invalid("no replicas".into());
    }
    let mut seen = p.replicas.clone();
    seen.sort_unstable();
    seen.dedup();
    if seen.len() != p.replicas.len() {
        return invalid(format!("duplicate replicas {:?}", p.replicas));
    }
    if p.replicas.iter().any(|r| *r < 0) {
        return invalid(format!("negative replica id in {:?}", p.replicas));
    }
    if let Some(outside) = p.isr.iter().find(|b| !p.replicas.contains(b)) {
        return invalid(format!(
            "ISR member {outside} is not a replica ({:?})",
            p.replicas
        ));
    }
    let mut isr = p.isr.clone();
    isr.sort_unstable();
    isr.dedup();
    if isr.len() != p.isr.len() {
        return invalid(format!("duplicate ISR members {:?}", p.isr));
    }
    if p.leader != -1 && !p.isr.contains(&p.leader) {
        return invalid(format!("leader {} is not in the ISR {:?}", p.leader, p.isr));
    }
    if p.leader_epoch < 0 || p.partition_epoch < 0 {
        return invalid("negative epoch".into());
    }
    Ok(())
}

#[cfg(test)]
#[path = "image_tests.rs"]
mod tests;
