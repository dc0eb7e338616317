//! The cluster part of the broker key table ([`CLUSTER_KEYS`]): how a node
//! joins a multi-node cluster whose metadata flows through the Raft quorum
//! of `fjord-metadata` (issue 12). Without `controller.quorum.voters` none
//! of these change anything: fjord runs as one node on its own metadata
//! files. Joined with the other tables by `keys::broker_keys`.

use fjord_storage::config::{parse_bool, parse_long};
use fjord_storage::ValueType;

use super::keys::{Apply, BrokerKey, Flag, KeyDefault, Mode};

/// The cluster settings of [`BrokerConfig`](super::BrokerConfig).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterSettings {
    /// `controller.quorum.voters`: every voter's id and `host:port`; empty
    /// means single-node mode (no quorum).
    pub voters: Vec<(u64, String)>,
    /// `fjord.controller.listener`: where this node's CONTROLLER listener
    /// binds; None takes this node's address from the voters.
    pub controller_listen: Option<String>,
    /// `process.roles`: whether this node is a broker, a controller, or
    /// both (the default).
    pub broker_role: bool,
    pub controller_role: bool,
    /// `cluster.id`: the id the quorum is formatted with (Kafka's
    /// `kafka-storage format -t`); None takes the stored one, or lets the
    /// lowest voter generate one in a fresh directory.
    pub cluster_id: Option<String>,
    /// `broker.rack`: used by rack-aware replica placement.
    pub rack: Option<String>,
    /// `replica.selector.class`: whether leaders point consumers to an
    /// in-sync replica in their rack (KIP-392, `cluster/follower_reads.rs`).
    pub rack_aware_reads: bool,
    /// `broker.session.timeout.ms`: a broker the active controller has not
    /// heard from for this long is fenced.
    pub session_timeout_ms: u64,
    /// `replica.lag.time.max.ms`: a follower not caught up with its leader
    /// for this long is removed from the ISR by the leader.
    pub replica_lag_time_max_ms: u64,
    /// `controller.quorum.election.timeout.ms`: the lower bound of the
    /// quorum's randomised election timeout.
    pub election_timeout_ms: u64,
    /// `controller.quorum.fetch.timeout.ms`: the upper bound (a voter that
    /// has not heard from the leader for a time drawn between the two
    /// stands for election).
    pub fetch_timeout_ms: u64,
    /// `metadata.log.max.record.bytes.between.snapshots`: bytes of metadata
    /// records applied after which the quorum writes a snapshot.
    pub snapshot_after_bytes: u64,
    /// `metadata.log.max.snapshot.interval.ms`: the longest time between
    /// snapshots while records are applied (0: no time trigger).
    pub snapshot_interval_ms: u64,
    /// `auto.leader.rebalance.enable`: the active controller moves
    /// leadership back to preferred replicas (`cluster/rebalance.rs`).
    pub auto_leader_rebalance: bool,
    /// `leader.imbalance.check.interval.seconds`: how often it looks.
    pub leader_imbalance_check_interval_s: u64,
    /// `leader.imbalance.per.broker.percentage`: the share of a broker's
    /// preferred partitions led elsewhere above which it acts.
    pub leader_imbalance_per_broker_pct: u32,
}

impl ClusterSettings {
    /// Whether this node runs in cluster mode (a quorum is configured).
    pub fn enabled(&self) -> bool {
        !self.voters.is_empty()
    }
}

fn parse_voters(v: &str) -> Result<Vec<(u64, String)>, String> {
    if v.trim().is_empty() {
        return Ok(Vec::new());
    }
    fjord_metadata::parse_voters(v).map(|m| m.into_iter().collect())
}

fn print_voters(voters: &[(u64, String)]) -> String {
    voters
        .iter()
        .map(|(id, addr)| format!("{id}@{addr}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses `process.roles` into (broker, controller).
fn parse_roles(v: &str) -> Result<(bool, bool), String> {
    let mut roles = (false, false);
    for role in v.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        match role {
            "broker" => roles.0 = true,
            "controller" => roles.1 = true,
            other => return Err(format!("unknown role {other:?} (broker, controller)")),
        }
    }
    if roles == (false, false) {
        return Err("at least one of broker, controller".into());
    }
    Ok(roles)
}

fn print_roles(broker: bool, controller: bool) -> String {
    match (broker, controller) {
        (true, true) => "broker,controller",
        (true, false) => "broker",
        _ => "controller",
    }
    .to_string()
}

fn optional(v: &str) -> Option<String> {
    Some(v.trim().to_string()).filter(|s| !s.is_empty())
}

pub static CLUSTER_KEYS: &[BrokerKey] = &[
    BrokerKey {
        name: "broker.rack",
        ty: ValueType::String,
        default: KeyDefault::None,
        mode: Mode::ReadOnly,
        flag: Some(Flag {
            long: "rack",
            env: "FJORD_RACK",
        }),
        doc: "This broker's rack, registered with the controller for rack-aware replica placement (cluster mode).",
        apply: Apply::Field {
            set: |c, v| {
                c.cluster.rack = optional(v);
                Ok(())
            },
            get: |c| c.cluster.rack.clone(),
        },
    },
    BrokerKey {
        name: "replica.selector.class",
        ty: ValueType::String,
        default: KeyDefault::None,
        mode: Mode::ReadOnly,
        flag: None,
        doc: "Fetch from the closest replica (KIP-392, cluster mode): org.apache.kafka.common.replica.RackAwareReplicaSelector \
              (or rack-aware) makes a leader send a consumer that names its client.rack to an in-sync replica of that rack \
              (preferred_read_replica); unset (or LeaderSelector) keeps consumers on the leader. Followers serve consumers' \
              Fetch v11+ either way, up to their high watermark.",
        apply: Apply::Field {
            set: |c, v| {
                c.cluster.rack_aware_reads = crate::cluster::follower_reads::parse_selector(v)?;
                Ok(())
            },
            get: |c| {
                c.cluster
                    .rack_aware_reads
                    .then(|| crate::cluster::follower_reads::RACK_AWARE.to_string())
            },
        },
    },
    BrokerKey {
        name: "broker.session.timeout.ms",
        ty: ValueType::Int,
        default: KeyDefault::Value("9000"),
        mode: Mode::ReadOnly,
        flag: None,
        doc: "How long the active controller waits without hearing from a broker (its quorum replication \
              answers are its heartbeats) before fencing it and moving its partitions' leadership (cluster mode).",
        apply: Apply::Field {
            set: |c, v| {
                c.cluster.session_timeout_ms = parse_long(v, 1, i64::from(i32::MAX))? as u64;
                Ok(())
            },
            get: |c| Some(c.cluster.session_timeout_ms.to_string()),
        },
    },
    BrokerKey {
        name: "cluster.id",
        ty: ValueType::String,
        default: KeyDefault::None,
        mode: Mode::ReadOnly,
        flag: Some(Flag {
            long: "cluster-id",
            env: "FJORD_CLUSTER_ID",
        }),
        doc: "The cluster id the metadata quorum is formatted with (as kafka-storage format -t); a node whose \
              stored cluster id differs refuses to start. Unset: the stored one, or one generated by the \
              lowest voter of a fresh cluster (cluster mode).",
        apply: Apply::Field {
            set: |c, v| {
                c.cluster.cluster_id = optional(v);
                Ok(())
            },
            get: |c| c.cluster.cluster_id.clone(),
        },
    },
    BrokerKey {
        name: "controller.quorum.election.timeout.ms",
        ty: ValueType::Int,
        default: KeyDefault::Value("1000"),
        mode: Mode::ReadOnly,
        flag: None,
        doc: "Lower bound of the metadata quorum's randomised election timeout: a voter that has not heard \
              from the quorum leader for a time drawn between this and controller.quorum.fetch.timeout.ms \
              stands for election (cluster mode). The leader heartbeats every min(250 ms, this / 4).",
        apply: Apply::Field {
            set: |c, v| {
                c.cluster.election_timeout_ms = parse_long(v, 20, i64::from(i32::MAX))? as u64;
                Ok(())
            },
            get: |c| Some(c.cluster.election_timeout_ms.to_string()),
        },
    },
    BrokerKey {
        name: "controller.quorum.fetch.timeout.ms",
        ty: ValueType::Int,
        default: KeyDefault::Value("2000"),
        mode: Mode::ReadOnly,
        flag: None,
        doc: "Upper bound of the metadata quorum's randomised election timeout (see \
              controller.quorum.election.timeout.ms; cluster mode).",
        apply: Apply::Field {
            set: |c, v| {
                c.cluster.fetch_timeout_ms = parse_long(v, 20, i64::from(i32::MAX))? as u64;
                Ok(())
            },
            get: |c| Some(c.cluster.fetch_timeout_ms.to_string()),
        },
    },
    BrokerKey {
        name: "metadata.log.max.record.bytes.between.snapshots",
        ty: ValueType::Long,
        default: KeyDefault::Value("20971520"),
        mode: Mode::ReadOnly,
        flag: None,
        doc: "Bytes of metadata records applied since the last snapshot after which a node writes a new \
              snapshot of the metadata image (<data-dir>/__cluster_metadata/snapshot.json) and can drop the \
              log before it (cluster mode).",
        apply: Apply::Field {
            set: |c, v| {
                c.cluster.snapshot_after_bytes = parse_long(v, 1, i64::MAX)? as u64;
                Ok(())
            },
            get: |c| Some(c.cluster.snapshot_after_bytes.to_string()),
        },
    },
    BrokerKey {
        name: "metadata.log.max.snapshot.interval.ms",
        ty: ValueType::Long,
        default: KeyDefault::Value("3600000"),
        mode: Mode::ReadOnly,
        flag: None,
        doc: "Longest time between two metadata snapshots while new records are applied; 0 turns this trigger \
              off (cluster mode).",
        apply: Apply::Field {
            set: |c, v| {
                c.cluster.snapshot_interval_ms = parse_long(v, 0, i64::MAX)? as u64;
                Ok(())
            },
            get: |c| Some(c.cluster.snapshot_interval_ms.to_string()),
        },
    },
    BrokerKey {
        name: "controller.quorum.voters",
        ty: ValueType::List,
        default: KeyDefault::None,
        mode: Mode::ReadOnly,
        flag: Some(Flag {
            long: "controller-quorum",
            env: "FJORD_CONTROLLER_QUORUM",
        }),
        doc: "The metadata quorum's voters, ID@HOST:PORT,... (their CONTROLLER listeners). Set: cluster mode, \
              metadata flows through Raft under <data-dir>/__cluster_metadata/; unset: one node on its own \
              metadata files.",
        apply: Apply::Field {
            set: |c, v| {
                c.cluster.voters = parse_voters(v)?;
                Ok(())
            },
            get: |c| Some(print_voters(&c.cluster.voters)).filter(|s| !s.is_empty()),
        },
    },
    BrokerKey {
        name: "fjord.controller.listener",
        ty: ValueType::String,
        default: KeyDefault::None,
        mode: Mode::ReadOnly,
        flag: Some(Flag {
            long: "controller-listen",
            env: "FJORD_CONTROLLER_LISTEN",
        }),
        doc: "HOST:PORT of this node's CONTROLLER listener (the quorum's Raft traffic); unset: this node's own \
              address in controller.quorum.voters (cluster mode).",
        apply: Apply::Field {
            set: |c, v| {
                if let Some(addr) = optional(v) {
                    if super::split_host_port(&addr).is_none() {
                        return Err("not HOST:PORT".into());
                    }
                    c.cluster.controller_listen = Some(addr);
                } else {
                    c.cluster.controller_listen = None;
                }
                Ok(())
            },
            get: |c| c.cluster.controller_listen.clone(),
        },
    },
    BrokerKey {
        name: "process.roles",
        ty: ValueType::List,
        default: KeyDefault::Value("broker,controller"),
        mode: Mode::ReadOnly,
        flag: Some(Flag {
            long: "roles",
            env: "FJORD_ROLES",
        }),
        doc: "This node's roles in a cluster: broker, controller, or both (combined, the only mode cluster \
              mode supports so far).",
        apply: Apply::Field {
            set: |c, v| {
                let (broker, controller) = parse_roles(v)?;
                c.cluster.broker_role = broker;
                c.cluster.controller_role = controller;
                Ok(())
            },
            get: |c| Some(print_roles(c.cluster.broker_role, c.cluster.controller_role)),
        },
    },
    BrokerKey {
        name: "replica.lag.time.max.ms",
        ty: ValueType::Long,
        default: KeyDefault::Value("30000"),
        mode: Mode::ReadOnly,
        flag: None,
        doc: "A follower that has not caught up with its leader's log for this long leaves the partition's \
              in-sync replicas (cluster mode; the leader proposes the change).",
        apply: Apply::Field {
            set: |c, v| {
                c.cluster.replica_lag_time_max_ms = parse_long(v, 1, i64::MAX)? as u64;
                Ok(())
            },
            get: |c| Some(c.cluster.replica_lag_time_max_ms.to_string()),
        },
    },
    BrokerKey {
        name: "auto.leader.rebalance.enable",
        ty: ValueType::Boolean,
        default: KeyDefault::Value("true"),
        mode: Mode::ReadOnly,
        flag: None,
        doc: "Whether the active controller moves partition leadership back to each partition's preferred \
              (first) replica when it is alive and in sync and its broker's imbalance is above \
              leader.imbalance.per.broker.percentage, every leader.imbalance.check.interval.seconds (cluster mode).",
        apply: Apply::Field {
            set: |c, v| {
                c.cluster.auto_leader_rebalance = parse_bool(v)?;
                Ok(())
            },
            get: |c| Some(c.cluster.auto_leader_rebalance.to_string()),
        },
    },
    BrokerKey {
        name: "leader.imbalance.check.interval.seconds",
        ty: ValueType::Long,
        default: KeyDefault::Value("300"),
        mode: Mode::ReadOnly,
        flag: None,
        doc: "How often the active controller checks whether partition leadership needs rebalancing \
              (auto.leader.rebalance.enable; cluster mode).",
        apply: Apply::Field {
            set: |c, v| {
                c.cluster.leader_imbalance_check_interval_s = parse_long(v, 1, i64::from(i32::MAX))? as u64;
                Ok(())
            },
            get: |c| Some(c.cluster.leader_imbalance_check_interval_s.to_string()),
        },
    },
    BrokerKey {
        name: "leader.imbalance.per.broker.percentage",
        ty: ValueType::Int,
        default: KeyDefault::Value("10"),
        mode: Mode::ReadOnly,
        flag: None,
        doc: "The share (percent) of a broker's preferred partitions led by other brokers above which the \
              active controller moves their leadership back to it (auto.leader.rebalance.enable; cluster mode).",
        apply: Apply::Field {
            set: |c, v| {
                c.cluster.leader_imbalance_per_broker_pct = parse_long(v, 0, 100)? as u32;
                Ok(())
            },
            get: |c| Some(c.cluster.leader_imbalance_per_broker_pct.to_string()),
        },
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_as_kafkas_process_roles() {
        assert_eq!(parse_roles("broker,controller"), Ok((true, true)));
        assert_eq!(parse_roles(" controller "), Ok((false, true)));
        assert_eq!(parse_roles("broker"), Ok((true, false)));
        assert!(parse_roles("").is_err());
        assert!(parse_roles("broker,voter").is_err());
        assert_eq!(print_roles(true, true), "broker,controller");
    }

    #[test]
    fn voters_round_trip_and_empty_means_single_node() {
        let voters = parse_voters("1@127.0.0.1:9093,2@127.0.0.1:9094").unwrap();
        assert_eq!(print_voters(&voters), "1@127.0.0.1:9093,2@127.0.0.1:9094");
        assert!(parse_voters("").unwrap().is_empty());
        assert!(parse_voters("1@nohost").is_err());
    }
}
