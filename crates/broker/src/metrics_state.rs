//! The `/metrics` gauges read from the broker state at scrape time:
//! partition offsets and sizes, replica state, log directory space, and
//! consumer group offsets and lag, under kafka_exporter's names where it
//! has one.
//!
//! Architecture invariant: imports point one way. This module reads
//! [`BrokerState`] and hands the registry a [`ScrapeSource`]; the
//! registry and counters module (`metrics`) never names the broker state,
//! its handlers or this module.

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::{Arc, Weak};

use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::registry::Unit;

use crate::metrics::{gauge_family, gauge_value, Metrics, ScrapeSource};
use crate::state::BrokerState;

/// One partition as the gauges show it.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionRow {
    pub topic: Arc<str>,
    pub partition: i32,
    pub log_start: i64,
    pub log_end: i64,
    pub high_watermark: i64,
    pub size_bytes: u64,
    pub leader: i32,
    pub replicas: usize,
    pub in_sync: usize,
}

/// One committed offset as the gauges show it; `lag` is `None` when the
/// partition is not hosted here (deleted topic) or the offset is unset.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupOffsetRow {
    pub group: Arc<str>,
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
    pub lag: Option<i64>,
}

/// What the state collector reads from the broker, in one pass.
#[derive(Debug, Default)]
pub struct StateSnapshot {
    pub node_id: i32,
    pub data_dir: PathBuf,
    /// (topic, partition count), sorted by topic.
    pub topics: Vec<(Arc<str>, usize)>,
    pub partitions: Vec<PartitionRow>,
    /// (group, members).
    pub groups: Vec<(Arc<str>, usize)>,
    pub group_offsets: Vec<GroupOffsetRow>,
    /// Cluster mode only.
    pub cluster: Option<ClusterRow>,
}

/// The cluster gauges (cluster mode), Kafka's ReplicaManager and
/// KafkaController/raft metrics under fjord names.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ClusterRow {
    /// Partitions led here whose ISR is smaller than their replica set.
    pub under_replicated: i64,
    /// Partitions led here whose ISR is smaller than min.insync.replicas.
    pub under_min_isr: i64,
    /// 1 on the active controller.
    pub controller_active: i64,
    /// Partitions without a leader, as the active controller counts them
    /// (None on other nodes, as Kafka reports it only there).
    pub offline: Option<i64>,
    /// The quorum leader's id (-1: none known), epoch and high watermark.
    pub quorum_leader: i64,
    pub quorum_epoch: i64,
    pub quorum_high_watermark: i64,
}

/// Lag of a committed offset: high watermark − offset, never negative.
pub fn consumer_lag(high_watermark: i64, committed: i64) -> i64 {
    high_watermark.saturating_sub(committed).max(0)
}

impl StateSnapshot {
    pub fn read(state: &BrokerState) -> StateSnapshot {
        let mut snap = StateSnapshot {
            node_id: state.node_id,
            data_dir: state.config().data_dir.clone(),
            ..Default::default()
        };
        if let Some(cluster) = state.cluster() {
            let q = cluster.quorum.describe();
            let active = cluster.quorum.is_leader();
            snap.cluster = Some(ClusterRow {
                controller_active: i64::from(active),
                offline: active.then(|| {
                    let image = cluster.image();
                    image
                        .topics
                        .values()
                        .flat_map(|t| t.partitions.values())
                        .filter(|p| p.leader < 0)
                        .count() as i64
                }),
                quorum_leader: q.leader_id.map_or(-1, |l| l as i64),
                quorum_epoch: q.term as i64,
                quorum_high_watermark: q.high_watermark.map_or(-1, |h| h as i64),
                ..Default::default()
            });
        }
        let mut hw_of = std::collections::HashMap::new();
        for t in state.all_topics() {
            let name: Arc<str> = Arc::from(t.name.as_str());
            snap.topics.push((name.clone(), t.partitions.len()));
            for p in &t.partitions {
                let (replicas, isr) = p.replica_sets(state.node_id);
                let leader = p.replication().map_or(state.node_id, |r| r.leader);
                if let Some(c) = snap.cluster.as_mut().filter(|_| leader == state.node_id) {
                    let min_isr = state.config().min_insync_replicas(&t.configs);
                    c.under_replicated += i64::from(isr.len() < replicas.len());
                    c.under_min_isr += i64::from(isr.len() < min_isr);
                }
                let hw = p.high_watermark();
                hw_of.insert((name.clone(), p.index), hw);
                snap.partitions.push(PartitionRow {
                    topic: name.clone(),
                    partition: p.index,
                    log_start: p.log.log_start_offset(),
                    log_end: p.log.log_end_offset(),
                    high_watermark: hw,
                    size_bytes: p.log.size_bytes(),
                    leader,
                    replicas: replicas.len(),
                    in_sync: isr.iter().filter(|r| replicas.contains(r)).count(),
                });
            }
        }
        for (group, _, _) in state.groups.list() {
            let gname: Arc<str> = Arc::from(group.as_str());
            let members = state.groups.describe(&group).map_or(0, |g| g.members.len());
            snap.groups.push((gname.clone(), members));
            let Ok(offsets) = state.groups.fetch_offsets(&group, None) else {
                continue;
            };
            for (topic, parts) in offsets {
                let tname: Arc<str> = Arc::from(topic.as_str());
                for (partition, committed) in parts {
                    let Some(c) = committed else { continue };
                    let lag = hw_of
                        .get(&(tname.clone(), partition))
                        .filter(|_| c.offset >= 0)
                        .map(|&hw| consumer_lag(hw, c.offset));
                    snap.group_offsets.push(GroupOffsetRow {
                        group: gname.clone(),
                        topic: tname.clone(),
                        partition,
                        offset: c.offset,
                        lag,
                    });
                }
            }
        }
        snap
    }

    /// Encodes the snapshot's gauge families.
    pub fn encode(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        gauge_value(
            encoder,
            "kafka_brokers",
            "Brokers in the cluster.",
            None,
            1i64,
        )?;
        gauge_family(
            encoder,
            "kafka_topic_partitions",
            "Partitions of the topic.",
            None,
            self.topics
                .iter()
                .map(|(t, n)| ([("topic", &**t)], *n as i64)),
        )?;
        gauge_family(
            encoder,
            "kafka_topic_partition_current_offset",
            "High watermark of the partition (the latest offset consumers see).",
            None,
            self.partitions.iter().map(|r| (part(r), r.high_watermark)),
        )?;
        gauge_family(
            encoder,
            "kafka_topic_partition_oldest_offset",
            "Log start offset of the partition.",
            None,
            self.partitions.iter().map(|r| (part(r), r.log_start)),
        )?;
        gauge_family(
            encoder,
            "fjord_partition_log_end_offset",
            "Offset the next appended record gets (may lead the high watermark until the write is durable).",
            None,
            self.partitions.iter().map(|r| (part(r), r.log_end)),
        )?;
        gauge_family(
            encoder,
            "fjord_partition_high_watermark",
            "High watermark of the partition.",
            None,
            self.partitions.iter().map(|r| (part(r), r.high_watermark)),
        )?;
        gauge_family(
            encoder,
            "fjord_partition_log_size",
            "Bytes of the partition's log segments.",
            Some(&Unit::Bytes),
            self.partitions.iter().map(|r| (part(r), r.size_bytes)),
        )?;
        gauge_family(
            encoder,
            "kafka_topic_partition_leader",
            "Node id of the partition's leader.",
            None,
            self.partitions.iter().map(|r| (part(r), r.leader)),
        )?;
        gauge_family(
            encoder,
            "kafka_topic_partition_replicas",
            "Replicas of the partition.",
            None,
            self.partitions.iter().map(|r| (part(r), r.replicas as i64)),
        )?;
        gauge_family(
            encoder,
            "kafka_topic_partition_in_sync_replica",
            "In-sync replicas of the partition.",
            None,
            self.partitions.iter().map(|r| (part(r), r.in_sync as i64)),
        )?;
        gauge_family(
            encoder,
            "kafka_topic_partition_under_replicated_partition",
            "1 if the partition has fewer in-sync replicas than replicas.",
            None,
            self.partitions
                .iter()
                .map(|r| (part(r), i64::from(r.in_sync < r.replicas))),
        )?;
        if let Some(c) = &self.cluster {
            gauge_value(
                encoder,
                "fjord_under_replicated_partitions",
                "Partitions led by this broker with fewer in-sync replicas than replicas (cluster mode).",
                None,
                c.under_replicated,
            )?;
            gauge_value(
                encoder,
                "fjord_under_min_isr_partitions",
                "Partitions led by this broker with fewer in-sync replicas than min.insync.replicas (cluster mode).",
                None,
                c.under_min_isr,
            )?;
            gauge_value(
                encoder,
                "fjord_controller_active",
                "1 if this node is the active controller (the metadata quorum's leader).",
                None,
                c.controller_active,
            )?;
            if let Some(offline) = c.offline {
                gauge_value(
                    encoder,
                    "fjord_offline_partitions",
                    "Partitions without a leader (reported by the active controller only).",
                    None,
                    offline,
                )?;
            }
            gauge_value(
                encoder,
                "fjord_quorum_leader",
                "Node id of the metadata quorum's leader as this node knows it (-1: none).",
                None,
                c.quorum_leader,
            )?;
            gauge_value(
                encoder,
                "fjord_quorum_epoch",
                "The metadata quorum's epoch (Raft term).",
                None,
                c.quorum_epoch,
            )?;
            gauge_value(
                encoder,
                "fjord_quorum_high_watermark",
                "Offset after the last metadata record applied on this node.",
                None,
                c.quorum_high_watermark,
            )?;
        }
        let dir = self.data_dir.display().to_string();
        let total: u64 = self.partitions.iter().map(|r| r.size_bytes).sum();
        gauge_family(
            encoder,
            "fjord_log_dir_size",
            "Bytes of log segments in the log directory.",
            Some(&Unit::Bytes),
            std::iter::once(([("dir", dir.as_str())], total)),
        )?;
        if let Some((size, avail)) = filesystem_space(&self.data_dir) {
            gauge_family(
                encoder,
                "fjord_log_dir_filesystem_size",
                "Size of the filesystem holding the log directory.",
                Some(&Unit::Bytes),
                std::iter::once(([("dir", dir.as_str())], size)),
            )?;
            gauge_family(
                encoder,
                "fjord_log_dir_filesystem_available",
                "Bytes available to the broker on the filesystem holding the log directory.",
                Some(&Unit::Bytes),
                std::iter::once(([("dir", dir.as_str())], avail)),
            )?;
        }
        gauge_family(
            encoder,
            "kafka_consumergroup_members",
            "Members of the consumer group.",
            None,
            self.groups
                .iter()
                .map(|(g, n)| ([("consumergroup", &**g)], *n as i64)),
        )?;
        gauge_family(
            encoder,
            "kafka_consumergroup_current_offset",
            "Committed offset of the consumer group for the partition.",
            None,
            self.group_offsets.iter().map(|r| (gpart(r), r.offset)),
        )?;
        gauge_family(
            encoder,
            "kafka_consumergroup_lag",
            "High watermark minus the committed offset (never negative).",
            None,
            self.group_offsets
                .iter()
                .filter_map(|r| Some((gpart(r), r.lag?))),
        )?;
        // Per (group, topic) sums, as kafka_exporter adds them.
        let mut sums: std::collections::BTreeMap<(&str, &str), (i64, i64)> = Default::default();
        for r in &self.group_offsets {
            let e = sums.entry((&*r.group, &*r.topic)).or_default();
            e.0 = e.0.saturating_add(r.offset.max(0));
            e.1 = e.1.saturating_add(r.lag.unwrap_or(0));
        }
        gauge_family(
            encoder,
            "kafka_consumergroup_current_offset_sum",
            "Sum of the consumer group's committed offsets over the topic's partitions.",
            None,
            sums.iter()
                .map(|((g, t), v)| ([("consumergroup", *g), ("topic", *t)], v.0)),
        )?;
        gauge_family(
            encoder,
            "kafka_consumergroup_lag_sum",
            "Sum of the consumer group's lag over the topic's partitions.",
            None,
            sums.iter()
                .map(|((g, t), v)| ([("consumergroup", *g), ("topic", *t)], v.1)),
        )?;
        Ok(())
    }
}

type PartLabels<'a> = ([(&'static str, &'a str); 1], [(&'static str, i32); 1]);

fn part(r: &PartitionRow) -> PartLabels<'_> {
    ([("topic", &*r.topic)], [("partition", r.partition)])
}

type GroupLabels<'a> = ([(&'static str, &'a str); 2], [(&'static str, i32); 1]);

fn gpart(r: &GroupOffsetRow) -> GroupLabels<'_> {
    (
        [("consumergroup", &*r.group), ("topic", &*r.topic)],
        [("partition", r.partition)],
    )
}

/// (size, available) bytes of the filesystem holding `path`.
// statvfs field types differ between platforms (u64 here, u32 elsewhere).
#[allow(clippy::unnecessary_cast)]
fn filesystem_space(path: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a valid NUL-terminated path and `st` is a writable
    // statvfs buffer; it is read only if the call succeeded.
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it filled the buffer.
    let st = unsafe { st.assume_init() };
    let frsize = st.f_frsize as u64;
    Some((
        (st.f_blocks as u64).saturating_mul(frsize),
        (st.f_bavail as u64).saturating_mul(frsize),
    ))
}

/// Partition, topic and consumer group gauges, read at scrape time.
#[derive(Debug)]
struct StateCollector {
    state: Weak<BrokerState>,
}

impl ScrapeSource for StateCollector {
    fn encode(&self, encoder: &mut DescriptorEncoder<'_>) -> std::fmt::Result {
        let Some(state) = self.state.upgrade() else {
            return Ok(());
        };
        StateSnapshot::read(&state).encode(encoder)
    }
}

/// Points the state gauges of `metrics` at the broker (once, after log
/// recovery); they stay empty before, and after the broker is dropped.
pub fn attach(metrics: &Metrics, state: &Arc<BrokerState>) {
    metrics.attach(Box::new(StateCollector {
        state: Arc::downgrade(state),
    }));
}
