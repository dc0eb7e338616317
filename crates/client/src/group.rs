//! One member of a classic consumer group (the JoinGroup/SyncGroup
//! protocol, protocol type "consumer", the "range" assignor). The caller
//! drives it: `join` until an assignment arrives, `heartbeat_if_due`
//! between fetches, `commit` the positions it has handed out, `join` again
//! when a heartbeat says the group is rebalancing, `leave` at the end.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use fjord_protocol::messages::consumer_protocol_assignment::TopicPartition;
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
use crate::client::{Client, Target};
use crate::conn::is_coordinator_error;
use crate::error::{ClientError, Result};
use crate::versions;

const PROTOCOL_TYPE: &str = "consumer";
const ASSIGNOR: &str = "range";
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
}

impl Default for GroupOptions {
    fn default() -> Self {
        GroupOptions {
            session_timeout_ms: 30_000,
            rebalance_timeout_ms: 60_000,
            heartbeat_interval: Duration::from_secs(3),
            group_instance_id: None,
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
    assignment: Vec<(String, Vec<i32>)>,
}

/// The range assignor: per topic, the members subscribed to it in member
/// id order each take a contiguous run of partitions, the first ones one
/// more when the count does not divide evenly. Every member gets an entry.
pub fn range_assign(
    subscriptions: &[(String, Vec<String>)],
    partitions: &BTreeMap<String, i32>,
) -> BTreeMap<String, Vec<(String, Vec<i32>)>> {
    let mut plan: BTreeMap<String, Vec<(String, Vec<i32>)>> = subscriptions
        .iter()
        .map(|(m, _)| (m.clone(), Vec::new()))
        .collect();
    for (topic, &count) in partitions {
        let mut members: Vec<&str> = subscriptions
            .iter()
            .filter(|(_, topics)| topics.iter().any(|t| t == topic))
            .map(|(m, _)| m.as_str())
            .collect();
        members.sort_unstable();
        members.dedup();
        if members.is_empty() || count <= 0 {
            continue;
        }
        let n = members.len() as i32;
        let (each, extra) = (count / n, count % n);
        let mut next = 0;
        for (i, m) in members.iter().enumerate() {
            let take = each + i32::from((i as i32) < extra);
            if take > 0 {
                if let Some(list) = plan.get_mut(*m) {
                    list.push((topic.clone(), (next..next + take).collect()));
                }
            }
            next += take;
        }
    }
    plan
}

/// A member's subscribed topics from its JoinGroup metadata.
fn decode_subscription(metadata: &Bytes) -> Option<Vec<String>> {
    if metadata.len() < 2 {
        return None;
    }
    let version = i16::from_be_bytes([metadata[0], metadata[1]]);
    if version < 0 {
        return None;
    }
    let mut body = metadata.slice(2..);
    ConsumerProtocolSubscription::decode(&mut body, version.min(3))
        .ok()
        .map(|s| s.topics)
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
        }
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
        let s = ConsumerProtocolSubscription {
            topics: self.topics.clone(),
            user_data: None,
            ..Default::default()
        };
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&0i16.to_be_bytes());
        s.encode(&mut buf, 0).map_err(|e| ClientError::Encode {
            api: "ConsumerProtocolSubscription".into(),
            reason: e.to_string(),
        })?;
        Ok(buf.freeze())
    }

    /// Joins (or rejoins) the group and returns this member's assignment.
    pub async fn join(&mut self, client: &mut Client) -> Result<Vec<(String, Vec<i32>)>> {
        let metadata = self.subscription()?;
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
                    name: ASSIGNOR.into(),
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
                    self.member_id.clear();
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
                .unwrap_or_else(|| ASSIGNOR.into());
            let assignments = if resp.leader == resp.member_id {
                self.assign(client, &resp.members).await?
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
                    self.assignment = assignment.clone();
                    self.last_heartbeat = Instant::now();
                    tracing::debug!(group = %self.group, member = %self.member_id, generation = self.generation, ?assignment, "joined");
                    return Ok(assignment);
                }
                Some(ErrorCode::RebalanceInProgress) | Some(ErrorCode::IllegalGeneration) => {
                    last_error = ClientError::from_code(self.context(), code, None);
                }
                Some(ErrorCode::UnknownMemberId) => {
                    self.member_id.clear();
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

    /// As the leader: the range assignment for every member.
    async fn assign(
        &self,
        client: &mut Client,
        members: &[JoinGroupResponseMember],
    ) -> Result<Vec<SyncGroupRequestAssignment>> {
        // Static members are ordered by their instance id, as Kafka's range
        // assignor does, so one that rejoins under a new member id keeps
        // its partitions.
        let mut member_of: BTreeMap<String, String> = BTreeMap::new();
        let subscriptions: Vec<(String, Vec<String>)> = members
            .iter()
            .map(|m| {
                let key = match &m.group_instance_id {
                    Some(instance) => format!("0:{instance}"),
                    None => format!("1:{}", m.member_id),
                };
                member_of.insert(key.clone(), m.member_id.clone());
                (key, decode_subscription(&m.metadata).unwrap_or_default())
            })
            .collect();
        let topics: BTreeSet<String> = subscriptions
            .iter()
            .flat_map(|(_, ts)| ts.iter().cloned())
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
        let plan = range_assign(&subscriptions, &counts);
        plan.into_iter()
            .map(|(key, assigned)| {
                Ok(SyncGroupRequestAssignment {
                    member_id: member_of.get(&key).cloned().unwrap_or(key),
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
                self.member_id.clear();
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

    fn subs(list: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
        list.iter()
            .map(|(m, ts)| (m.to_string(), ts.iter().map(|t| t.to_string()).collect()))
            .collect()
    }

    #[test]
    fn range_assignor_splits_contiguously_with_the_remainder_first() {
        let counts: BTreeMap<String, i32> = [("a".to_string(), 5), ("b".to_string(), 1)].into();
        let plan = range_assign(&subs(&[("m2", &["a", "b"]), ("m1", &["a", "b"])]), &counts);
        assert_eq!(
            plan["m1"],
            vec![("a".into(), vec![0, 1, 2]), ("b".into(), vec![0])]
        );
        assert_eq!(plan["m2"], vec![("a".into(), vec![3, 4])]);
        // A member subscribed to nothing known still gets an (empty) entry.
        let plan = range_assign(&subs(&[("m1", &["a"]), ("m3", &["zzz"])]), &counts);
        assert_eq!(plan["m1"], vec![("a".into(), vec![0, 1, 2, 3, 4])]);
        assert!(plan["m3"].is_empty());
    }

    #[test]
    fn subscriptions_and_assignments_round_trip() {
        let m = GroupMember::new("g", vec!["t1".into(), "t2".into()], GroupOptions::default());
        let sub = m.subscription().unwrap();
        assert_eq!(
            decode_subscription(&sub),
            Some(vec!["t1".into(), "t2".into()])
        );
        assert_eq!(decode_subscription(&Bytes::from_static(&[0])), None);
        let a = vec![("t1".to_string(), vec![0, 3])];
        assert_eq!(decode_assignment(&encode_assignment(&a).unwrap()), Some(a));
    }
}
