//! One member of a classic consumer group (the JoinGroup/SyncGroup
//! protocol, protocol type "consumer", one of the assignors of
//! `assignor.rs`). The caller drives it: `join` until an assignment
//! arrives, `heartbeat_if_due` between fetches, `commit` the positions it
//! has handed out, `join` again when a heartbeat says the group is
//! rebalancing or when [`GroupMember::needs_rejoin`] says so, `leave` at
//! the end.
//!
//! With the eager assignors the member owns nothing when it joins (the
//! caller has given up every partition). With `cooperative-sticky`
//! (KIP-429) it keeps its partitions while it joins and names them in its
//! subscription (ConsumerProtocolSubscription v3: owned partitions and
//! their generation); a SyncGroup answer that leaves some of them out
//! revokes just those, and the member rejoins at once so that the group's
//! second round can hand them to their new owner.
//!
//! A static member (KIP-345, `group.instance.id`) that comes back within
//! the session timeout is given its old assignment and the group's
//! generation unchanged; when it was the leader the coordinator says so
//! with `skip_assignment` and the member sends no new plan.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use fjord_protocol::messages::consumer_protocol_assignment::TopicPartition;
use fjord_protocol::messages::consumer_protocol_subscription::TopicPartition as SubscriptionPartition;
use fjord_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use fjord_protocol::messages::join_group_response::JoinGroupResponseMember;
use fjord_protocol::messages::leave_group_request::MemberIdentity;
use fjord_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use fjord_protocol::messages::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, HeartbeatRequest, JoinGroupRequest,
    LeaveGroupRequest, SyncGroupRequest,
};
use fjord_protocol::{ApiKey, Decode, Encode, ErrorCode, Request, Response};

use crate::admin::{backoff, decode_assignment};
use crate::assignor::{Assignor, MemberSubscription, RebalanceProtocol};
use crate::client::{Client, Target};
use crate::conn::is_coordinator_error;
use crate::error::{ClientError, Result};
use crate::versions;

const PROTOCOL_TYPE: &str = "consumer";
/// The subscription version sent: v3 carries owned partitions (v1), their
/// generation (v2) and the rack (v3), as Kafka's clients send.
const SUBSCRIPTION_VERSION: i16 = 3;
const JOIN_ATTEMPTS: u32 = 30;

#[derive(Clone, Debug)]
pub struct GroupOptions {
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub heartbeat_interval: Duration,
    /// Static membership (KIP-345, Kafka's `group.instance.id`): a member
    /// that comes back under the same instance id within the session
    /// timeout takes its old place without a rebalance, and leaving does
    /// not tell the coordinator (the session timeout removes it).
    pub group_instance_id: Option<String>,
    /// The partition assignor (Kafka's `partition.assignment.strategy`).
    pub assignor: Assignor,
}

impl Default for GroupOptions {
    fn default() -> Self {
        GroupOptions {
            session_timeout_ms: 30_000,
            rebalance_timeout_ms: 60_000,
            heartbeat_interval: Duration::from_secs(3),
            group_instance_id: None,
            assignor: Assignor::Range,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeartbeatOutcome {
    /// Still a member of the current generation (or could not tell yet).
    Ok,
    /// The group is rebalancing or forgot us: commit, then `join` again.
    Rejoin,
}

pub struct GroupMember {
    group: String,
    topics: Vec<String>,
    opts: GroupOptions,
    member_id: String,
    generation: i32,
    coordinator: Option<i32>,
    last_heartbeat: Instant,
    /// The partitions this member owns (its last assignment, less what it
    /// revoked).
    assignment: Vec<(String, Vec<i32>)>,
    /// The generation `assignment` was received in.
    owned_generation: i32,
    /// What the last SyncGroup took away (cooperative: rejoin at once).
    revoked: Vec<(String, i32)>,
}

/// A member's subscription from its JoinGroup metadata.
fn decode_subscription(
    member_id: &str,
    instance: Option<&str>,
    metadata: &Bytes,
) -> Option<MemberSubscription> {
    if metadata.len() < 2 {
        return None;
    }
    let version = i16::from_be_bytes([metadata[0], metadata[1]]);
    if version < 0 {
        return None;
    }
    let mut body = metadata.slice(2..);
    // Later versions only add fields at the end: read them as our newest.
    let s = ConsumerProtocolSubscription::decode(&mut body, version.min(3)).ok()?;
    Some(MemberSubscription {
        member_id: member_id.to_string(),
        group_instance_id: instance.map(str::to_string),
        topics: s.topics,
        owned: s
            .owned_partitions
            .into_iter()
            .flat_map(|tp| {
                let t = tp.topic;
                tp.partitions.into_iter().map(move |p| (t.clone(), p))
            })
            .collect(),
        generation: if version >= 2 { s.generation_id } else { -1 },
    })
}

/// `t-0,t-1,u-3`, for logs.
fn tp_list<'a>(tps: impl Iterator<Item = (&'a str, i32)>) -> String {
    tps.map(|(t, p)| format!("{t}-{p}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn encode_assignment(assigned: &[(String, Vec<i32>)]) -> Result<Bytes> {
    let a = ConsumerProtocolAssignment {
        assigned_partitions: assigned
            .iter()
            .map(|(t, ps)| TopicPartition {
                topic: t.clone(),
                partitions: ps.clone(),
                ..Default::default()
            })
            .collect(),
        user_data: None,
        ..Default::default()
    };
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&0i16.to_be_bytes());
    a.encode(&mut buf, 0).map_err(|e| ClientError::Encode {
        api: "ConsumerProtocolAssignment".into(),
        reason: e.to_string(),
    })?;
    Ok(buf.freeze())
}

impl GroupMember {
    pub fn new(group: &str, topics: Vec<String>, opts: GroupOptions) -> GroupMember {
        GroupMember {
            group: group.to_string(),
            topics,
            opts,
            member_id: String::new(),
            generation: -1,
            coordinator: None,
            last_heartbeat: Instant::now(),
            assignment: Vec::new(),
            owned_generation: -1,
            revoked: Vec::new(),
        }
    }

    pub fn protocol(&self) -> RebalanceProtocol {
        self.opts.assignor.protocol()
    }

    /// Whether the last SyncGroup revoked partitions under the cooperative
    /// protocol: the member must join again (after committing them) so
    /// the group can finish the rebalance.
    pub fn needs_rejoin(&self) -> bool {
        self.protocol() == RebalanceProtocol::Cooperative && !self.revoked.is_empty()
    }

    /// The partitions the last SyncGroup took away from this member.
    pub fn revoked(&self) -> &[(String, i32)] {
        &self.revoked
    }

    /// The membership is gone (fenced, expired): every partition is lost.
    fn lose_membership(&mut self) {
        self.member_id.clear();
        self.generation = -1;
        self.assignment.clear();
        self.owned_generation = -1;
    }

    pub fn group(&self) -> &str {
        &self.group
    }

    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    pub fn generation(&self) -> i32 {
        self.generation
    }

    pub fn assignment(&self) -> &[(String, Vec<i32>)] {
        &self.assignment
    }

    fn context(&self) -> String {
        format!("group {}", self.group)
    }

    async fn coordinator(&mut self, client: &mut Client) -> Result<i32> {
        if let Some(c) = self.coordinator {
            return Ok(c);
        }
        let c = client.find_coordinator(&self.group).await?.node_id;
        self.coordinator = Some(c);
        Ok(c)
    }

    fn subscription(&self) -> Result<Bytes> {
        // Eager members have given up everything before joining.
        let owned = match self.protocol() {
            RebalanceProtocol::Eager => Vec::new(),
            RebalanceProtocol::Cooperative => self
                .assignment
                .iter()
                .map(|(t, ps)| SubscriptionPartition {
                    topic: t.clone(),
                    partitions: ps.clone(),
                    ..Default::default()
                })
                .collect(),
        };
        let s = ConsumerProtocolSubscription {
            topics: self.topics.clone(),
            user_data: None,
            owned_partitions: owned,
            generation_id: self.owned_generation,
            rack_id: None,
            ..Default::default()
        };
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&SUBSCRIPTION_VERSION.to_be_bytes());
        s.encode(&mut buf, SUBSCRIPTION_VERSION)
            .map_err(|e| ClientError::Encode {
                api: "ConsumerProtocolSubscription".into(),
                reason: e.to_string(),
            })?;
        Ok(buf.freeze())
    }

    /// Joins (or rejoins) the group and returns this member's assignment.
    pub async fn join(&mut self, client: &mut Client) -> Result<Vec<(String, Vec<i32>)>> {
        if self.protocol() == RebalanceProtocol::Eager {
            // The caller has given up every partition before joining.
            self.assignment.clear();
        }
        self.revoked.clear();
        let metadata = self.subscription()?;
        let assignor = self.opts.assignor.name();
        let join_timeout =
            Duration::from_millis(u64::try_from(self.opts.rebalance_timeout_ms).unwrap_or(0))
                + client.config().request_timeout;
        let mut last_error = None;
        for attempt in 0..JOIN_ATTEMPTS {
            if attempt > 0 && last_error.is_some() {
                tokio::time::sleep(backoff(attempt.min(5))).await;
            }
            let coordinator = match self.coordinator(client).await {
                Ok(c) => c,
                Err(e) if e.is_retriable() => {
                    last_error = Some(e);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let req = JoinGroupRequest {
                group_id: self.group.clone(),
                session_timeout_ms: self.opts.session_timeout_ms,
                rebalance_timeout_ms: self.opts.rebalance_timeout_ms,
                member_id: self.member_id.clone(),
                group_instance_id: self.opts.group_instance_id.clone(),
                protocol_type: PROTOCOL_TYPE.into(),
                protocols: vec![JoinGroupRequestProtocol {
                    name: assignor.into(),
                    metadata: metadata.clone(),
                    ..Default::default()
                }],
                reason: None,
                ..Default::default()
            };
            let resp = match client
                .send(
                    Target::Node(coordinator),
                    Request::JoinGroup(req),
                    versions::JOIN_GROUP,
                    Some(join_timeout),
                )
                .await
            {
                Ok((_, Response::JoinGroup(r))) => r,
                Ok((_, other)) => {
                    return Err(ClientError::Other(format!(
                        "expected a JoinGroup response, got {:?}",
                        other.api_key()
                    )))
                }
                Err(e) if e.is_retriable() => {
                    self.coordinator = None;
                    last_error = Some(e);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let code = resp.error_code;
            match ErrorCode::from_code(code) {
                Some(ErrorCode::None) => {}
                Some(ErrorCode::MemberIdRequired) => {
                    self.member_id = resp.member_id;
                    last_error = None;
                    continue;
                }
                Some(ErrorCode::UnknownMemberId) | Some(ErrorCode::IllegalGeneration) => {
                    self.lose_membership();
                    last_error = ClientError::from_code(self.context(), code, None);
                    continue;
                }
                Some(ErrorCode::RebalanceInProgress) => {
                    last_error = ClientError::from_code(self.context(), code, None);
                    continue;
                }
                _ if is_coordinator_error(code) => {
                    self.coordinator = None;
                    last_error = ClientError::from_code(self.context(), code, None);
                    continue;
                }
                _ => {
                    return Err(ClientError::from_code(self.context(), code, None)
                        .unwrap_or_else(|| ClientError::Other("join failed".into())))
                }
            }
            self.member_id = resp.member_id.clone();
            self.generation = resp.generation_id;
            let protocol = resp
                .protocol_name
                .clone()
                .unwrap_or_else(|| assignor.into());
            // A static leader that rejoined a stable group is told to keep
            // the current plan (skip_assignment).
            let assignments = if resp.leader == resp.member_id && !resp.skip_assignment {
                self.assign(client, &protocol, &resp.members).await?
            } else {
                Vec::new()
            };
            let req = SyncGroupRequest {
                group_id: self.group.clone(),
                generation_id: self.generation,
                member_id: self.member_id.clone(),
                group_instance_id: self.opts.group_instance_id.clone(),
                protocol_type: Some(PROTOCOL_TYPE.into()),
                protocol_name: Some(protocol),
                assignments,
                ..Default::default()
            };
            let resp = match client
                .send(
                    Target::Node(coordinator),
                    Request::SyncGroup(req),
                    versions::SYNC_GROUP,
                    Some(join_timeout),
                )
                .await
            {
                Ok((_, Response::SyncGroup(r))) => r,
                Ok((_, other)) => {
                    return Err(ClientError::Other(format!(
                        "expected a SyncGroup response, got {:?}",
                        other.api_key()
                    )))
                }
                Err(e) if e.is_retriable() => {
                    self.coordinator = None;
                    last_error = Some(e);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let code = resp.error_code;
            match ErrorCode::from_code(code) {
                Some(ErrorCode::None) => {
                    let assignment = decode_assignment(&resp.assignment).ok_or_else(|| {
                        ClientError::Other(format!(
                            "{}: cannot read the assignment the leader sent",
                            self.context()
                        ))
                    })?;
                    let now: BTreeSet<(&str, i32)> = assignment
                        .iter()
                        .flat_map(|(t, ps)| ps.iter().map(move |p| (t.as_str(), *p)))
                        .collect();
                    self.revoked = self
                        .assignment
                        .iter()
                        .flat_map(|(t, ps)| ps.iter().map(move |p| (t.clone(), *p)))
                        .filter(|(t, p)| !now.contains(&(t.as_str(), *p)))
                        .collect();
                    self.assignment = assignment.clone();
                    self.owned_generation = self.generation;
                    self.last_heartbeat = Instant::now();
                    tracing::info!(
                        group = %self.group,
                        member = %self.member_id,
                        generation = self.generation,
                        protocol = %self.opts.assignor.name(),
                        assignment = %tp_list(assignment.iter().flat_map(|(t, ps)| ps.iter().map(move |p| (t.as_str(), *p)))),
                        revoked = %tp_list(self.revoked.iter().map(|(t, p)| (t.as_str(), *p))),
                        "joined group"
                    );
                    return Ok(assignment);
                }
                Some(ErrorCode::RebalanceInProgress) | Some(ErrorCode::IllegalGeneration) => {
                    last_error = ClientError::from_code(self.context(), code, None);
                }
                Some(ErrorCode::UnknownMemberId) => {
                    self.lose_membership();
                    last_error = ClientError::from_code(self.context(), code, None);
                }
                _ if is_coordinator_error(code) => {
                    self.coordinator = None;
                    last_error = ClientError::from_code(self.context(), code, None);
                }
                _ => {
                    return Err(ClientError::from_code(self.context(), code, None)
                        .unwrap_or_else(|| ClientError::Other("sync failed".into())))
                }
            }
        }
        Err(last_error.unwrap_or_else(|| {
            ClientError::Other(format!(
                "{}: no assignment after {JOIN_ATTEMPTS} attempts to join",
                self.context()
            ))
        }))
    }

    /// As the leader: every member's assignment by the group's assignor.
    async fn assign(
        &self,
        client: &mut Client,
        protocol: &str,
        members: &[JoinGroupResponseMember],
    ) -> Result<Vec<SyncGroupRequestAssignment>> {
        let assignor = Assignor::from_name(protocol).ok_or_else(|| {
            ClientError::Other(format!(
                "{}: the group chose assignor {protocol:?}, which fjord does not have",
                self.context()
            ))
        })?;
        let subscriptions: Vec<MemberSubscription> = members
            .iter()
            .map(|m| {
                decode_subscription(&m.member_id, m.group_instance_id.as_deref(), &m.metadata)
                    .unwrap_or_else(|| MemberSubscription {
                        member_id: m.member_id.clone(),
                        group_instance_id: m.group_instance_id.clone(),
                        generation: -1,
                        ..Default::default()
                    })
            })
            .collect();
        let topics: BTreeSet<String> = subscriptions
            .iter()
            .flat_map(|s| s.topics.iter().cloned())
            .collect();
        let topics: Vec<String> = topics.into_iter().collect();
        let md = client.metadata(Some(&topics), false).await?;
        let counts: BTreeMap<String, i32> = md
            .topics
            .into_iter()
            .filter(|t| t.error_code == 0)
            .filter_map(|t| {
                let n = t.partitions.len() as i32;
                t.name.map(|name| (name, n))
            })
            .collect();
        let plan = assignor.assign(&subscriptions, &counts);
        plan.into_iter()
            .map(|(member_id, assigned)| {
                Ok(SyncGroupRequestAssignment {
                    member_id,
                    assignment: encode_assignment(&assigned)?,
                    ..Default::default()
                })
            })
            .collect()
    }

    /// Heartbeats when the interval has passed since the last one.
    pub async fn heartbeat_if_due(&mut self, client: &mut Client) -> Result<HeartbeatOutcome> {
        if self.last_heartbeat.elapsed() < self.opts.heartbeat_interval {
            return Ok(HeartbeatOutcome::Ok);
        }
        self.heartbeat(client).await
    }

    pub async fn heartbeat(&mut self, client: &mut Client) -> Result<HeartbeatOutcome> {
        self.last_heartbeat = Instant::now();
        let coordinator = match self.coordinator(client).await {
            Ok(c) => c,
            Err(e) if e.is_retriable() => return Ok(HeartbeatOutcome::Ok),
            Err(e) => return Err(e),
        };
        let req = HeartbeatRequest {
            group_id: self.group.clone(),
            generation_id: self.generation,
            member_id: self.member_id.clone(),
            group_instance_id: self.opts.group_instance_id.clone(),
            ..Default::default()
        };
        let code = match client
            .send(
                Target::Node(coordinator),
                Request::Heartbeat(req),
                versions::HEARTBEAT,
                None,
            )
            .await
        {
            Ok((_, Response::Heartbeat(r))) => r.error_code,
            Ok((_, other)) => {
                return Err(ClientError::Other(format!(
                    "expected a Heartbeat response, got {:?}",
                    other.api_key()
                )))
            }
            Err(e) if e.is_retriable() => {
                self.coordinator = None;
                return Ok(HeartbeatOutcome::Ok);
            }
            Err(e) => return Err(e),
        };
        match ErrorCode::from_code(code) {
            Some(ErrorCode::None) => Ok(HeartbeatOutcome::Ok),
            Some(ErrorCode::RebalanceInProgress) | Some(ErrorCode::IllegalGeneration) => {
                Ok(HeartbeatOutcome::Rejoin)
            }
            Some(ErrorCode::UnknownMemberId) => {
                self.lose_membership();
                Ok(HeartbeatOutcome::Rejoin)
            }
            _ if is_coordinator_error(code) => {
                self.coordinator = None;
                Ok(HeartbeatOutcome::Ok)
            }
            _ => Err(ClientError::from_code(self.context(), code, None)
                .unwrap_or_else(|| ClientError::Other("heartbeat failed".into()))),
        }
    }

    /// Commits `offsets` (topic, partition, next offset to read) for the
    /// current generation.
    pub async fn commit(
        &mut self,
        client: &mut Client,
        offsets: &[(String, i32, i64)],
    ) -> Result<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        client
            .commit_offsets(&self.group, self.generation, &self.member_id, offsets)
            .await
    }

    /// Leaves the group so that it rebalances at once rather than after the
    /// session timeout.
    /// A static member only forgets its membership locally, as Kafka's
    /// consumers do: the coordinator keeps its place for the session
    /// timeout so that a restart under the same instance id does not
    /// rebalance the group.
    pub async fn leave(&mut self, client: &mut Client) -> Result<()> {
        if self.member_id.is_empty() {
            return Ok(());
        }
        if self.opts.group_instance_id.is_some() {
            self.member_id.clear();
            self.generation = -1;
            return Ok(());
        }
        let coordinator = self.coordinator(client).await?;
        let target = Target::Node(coordinator);
        let v = client
            .version_for(target, ApiKey::LeaveGroup, versions::LEAVE_GROUP)
            .await?;
        let member_id = std::mem::take(&mut self.member_id);
        self.generation = -1;
        let req = if v >= 3 {
            LeaveGroupRequest {
                group_id: self.group.clone(),
                members: vec![MemberIdentity {
                    member_id,
                    group_instance_id: None,
                    reason: None,
                    ..Default::default()
                }],
                ..Default::default()
            }
        } else {
            LeaveGroupRequest {
                group_id: self.group.clone(),
                member_id,
                ..Default::default()
            }
        };
        let (_, resp) = client
            .send(
                target,
                Request::LeaveGroup(req),
                versions::LEAVE_GROUP,
                None,
            )
            .await?;
        let resp = match resp {
            Response::LeaveGroup(r) => r,
            other => {
                return Err(ClientError::Other(format!(
                    "expected a LeaveGroup response, got {:?}",
                    other.api_key()
                )))
            }
        };
        let code = if resp.error_code != 0 {
            resp.error_code
        } else {
            resp.members.first().map_or(0, |m| m.error_code)
        };
        if code == 0 || code == ErrorCode::UnknownMemberId.code() {
            return Ok(());
        }
        Err(ClientError::from_code(self.context(), code, None)
            .unwrap_or_else(|| ClientError::Other("leave failed".into())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_and_assignments_round_trip() {
        let opts = GroupOptions {
            assignor: Assignor::CooperativeSticky,
            ..GroupOptions::default()
        };
        let mut m = GroupMember::new("g", vec!["t1".into(), "t2".into()], opts);
        m.assignment = vec![("t1".into(), vec![0, 2])];
        m.owned_generation = 7;
        let sub = m.subscription().unwrap();
        let got = decode_subscription("m-1", Some("i-1"), &sub).unwrap();
        assert_eq!(got.topics, vec!["t1".to_string(), "t2".to_string()]);
        assert_eq!(
            got.owned,
            vec![("t1".to_string(), 0), ("t1".to_string(), 2)]
        );
        assert_eq!(got.generation, 7);
        assert_eq!(got.group_instance_id.as_deref(), Some("i-1"));
        // An eager member owns nothing when it joins.
        let mut m = GroupMember::new("g", vec!["t1".into()], GroupOptions::default());
        m.assignment = vec![("t1".into(), vec![0])];
        let got = decode_subscription("m", None, &m.subscription().unwrap()).unwrap();
        assert!(got.owned.is_empty());
        assert_eq!(
            decode_subscription("m", None, &Bytes::from_static(&[0])),
            None
        );
        let a = vec![("t1".to_string(), vec![0, 3])];
        assert_eq!(decode_assignment(&encode_assignment(&a).unwrap()), Some(a));
    }
}
