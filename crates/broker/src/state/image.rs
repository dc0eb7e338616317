//! Cluster mode's side of the broker state: the handle on the cluster
//! (set once at start) and the two changes the metadata replay makes to
//! local topics — adopting a topic the image holds (with the image's id,
//! partition count and leader epochs) and following a topic's new leader
//! epochs or partitions.

use std::collections::BTreeMap;
use std::sync::Arc;

use fjord_partition::replica::Replication;
use fjord_partition::Partition;
use fjord_protocol::Uuid;
use fjord_storage::Log;

use super::{uuid_hex, BrokerState, StateError, Topic, TopicMeta};
use crate::cluster::Cluster;

impl Topic {
    /// This topic with other partition objects (same name, id, configs
    /// and counters).
    pub(crate) fn with_partitions(&self, partitions: Vec<Arc<Partition>>) -> Topic {
        Topic {
            name: self.name.clone(),
            id: self.id,
            metrics: self.metrics.clone(),
            configs: self.configs.clone(),
            log_config: self.log_config.clone(),
            partitions,
            internal: self.internal,
        }
    }
}

impl BrokerState {
    /// The cluster this broker belongs to; None in single-node mode.
    pub fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.get()
    }

    /// Enters cluster mode (once, at start, before any client is served).
    pub fn set_cluster(&self, cluster: Arc<Cluster>) {
        if self.cluster.set(cluster).is_err() {
            tracing::warn!("the cluster was already set");
        }
    }

    /// Creates the local copy of a topic of the image: its logs, its topic
    /// file and the topic in memory, with the image's id and leader epochs
    /// (one per partition). Caller holds `admin_lock`.
    pub fn adopt_topic(
        &self,
        name: &str,
        id: Uuid,
        configs: BTreeMap<String, String>,
        leader_epochs: Vec<i32>,
    ) -> Result<Arc<Topic>, StateError> {
        let count = leader_epochs.len() as i32;
        let meta = TopicMeta {
            name: name.to_string(),
            id: uuid_hex(&id),
            configs,
            leader_epochs,
            epoch_generation: self.generation,
        };
        let topic = match self.open_topic(&meta) {
            Ok(t) => Arc::new(t),
            Err(e) => {
                self.remove_partition_dirs(name, 0..count);
                return Err(e);
            }
        };
        self.write_topic_meta(&meta)?;
        if let Ok(mut map) = self.topics.write() {
            map.insert(name.to_string(), topic.clone());
        }
        Ok(topic)
    }

    /// Brings a local topic to the image's partition count and leader
    /// epochs: new partitions are opened, and a partition whose epoch
    /// moved is replaced by one over the same log at the new epoch
    /// (producer state is rebuilt from the log). Caller holds `admin_lock`.
    pub fn follow_epochs(&self, t: &Topic, leader_epochs: &[i32]) -> Result<(), StateError> {
        let mut parts = Vec::with_capacity(leader_epochs.len());
        for (i, epoch) in leader_epochs.iter().enumerate() {
            let index = i as i32;
            match t.partitions.get(i) {
                Some(p)
                    if p.leader_epoch == *epoch
                        && (p.is_replicated() || !self.replicates(&t.name)) =>
                {
                    parts.push(p.clone())
                }
                Some(p) => {
                    // The old object stops appending before the new one
                    // loads its producer state from the log (else a
                    // follower append racing the swap is missing from it,
                    // and a retried batch is taken twice).
                    p.retire();
                    parts.push(Arc::new(self.new_partition(
                        &t.name,
                        index,
                        p.log.clone(),
                        *epoch,
                    )))
                }
                None => {
                    let dir = fjord_storage::partition_dir(&self.config().data_dir, &t.name, index);
                    let log = Log::open(&dir, t.log_config.clone())?;
                    parts.push(Arc::new(self.new_partition(
                        &t.name,
                        index,
                        Arc::new(log),
                        *epoch,
                    )));
                }
            }
        }
        self.replace_topic(t.with_partitions(parts))?;
        Ok(())
    }

    /// Empties the local log of partition `index` of `t` (a replica the
    /// image took away from this broker): the partition is retired, its
    /// directory deleted and an empty log opened in its place at the same
    /// leader epoch. Caller is the metadata replay.
    pub fn reset_partition(&self, t: &Topic, index: i32) -> Result<(), StateError> {
        let Some(old) = usize::try_from(index)
            .ok()
            .and_then(|i| t.partitions.get(i))
        else {
            return Ok(());
        };
        old.retire();
        old.log.delete()?;
        let dir = fjord_storage::partition_dir(&self.config().data_dir, &t.name, index);
        let log = Log::open(&dir, t.log_config.clone())?;
        let fresh = Arc::new(self.new_partition(&t.name, index, Arc::new(log), old.leader_epoch));
        let mut parts = t.partitions.clone();
        parts[index as usize] = fresh;
        self.replace_topic(t.with_partitions(parts))?;
        Ok(())
    }

    /// Whether `topic`'s partitions are replicated: cluster mode, a topic
    /// of the image (internal topics included; `_schemas` stays local).
    pub(crate) fn replicates(&self, topic: &str) -> bool {
        self.cluster()
            .is_some_and(|c| c.image().topic(topic).is_some())
    }

    /// A partition over `log`: replicated (with the image's replica set
    /// and ISR) when its topic is, else a single-node one.
    pub(crate) fn new_partition(
        &self,
        topic: &str,
        index: i32,
        log: Arc<Log>,
        leader_epoch: i32,
    ) -> Partition {
        let state = self.cluster().and_then(|c| {
            let image = c.image();
            let p = image.topic(topic)?.partitions.get(&index)?.clone();
            Some((c.node_id, p))
        });
        match state {
            Some((node, p)) => {
                let r = Replication::new(
                    node,
                    p.leader,
                    p.replicas,
                    p.isr,
                    p.partition_epoch,
                    fjord_storage::clock::now_ms(),
                );
                Partition::new_replicated(topic, index, log, leader_epoch, r)
            }
            None => Partition::new(topic, index, log, leader_epoch),
        }
    }
}
