//! One member of a KIP-848 consumer group (`group.protocol=consumer`):
//! no JoinGroup/SyncGroup, no client-side assignor. The member sends
//! ConsumerGroupHeartbeat at the interval the coordinator gives; epoch 0
//! joins, and each answer may carry the member's target assignment (by
//! topic id). The caller reconciles: it commits and drops the partitions
//! the target no longer has, starts the new ones, and reports what it owns
//! with [`ConsumerMember::owned`]; the next heartbeat (sent at once) tells
//! the coordinator, which only then hands revoked partitions to their new
//! owners. FENCED_MEMBER_EPOCH or UNKNOWN_MEMBER_ID mean the member lost
//! its partitions (no commit) and joins again at epoch 0 under the same
//! member id. Leaving sends epoch -1, or -2 for a static member (whose
//! place the coordinator then keeps for the session timeout).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use fjord_protocol::messages::consumer_group_heartbeat_request::TopicPartitions;
use fjord_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};
use fjord_protocol::{ApiKey, ErrorCode, Request, Response, Uuid};

use crate::admin::backoff;
use crate::client::{Client, Target};
use crate::conn::is_coordinator_error;
use crate::error::{ClientError, Result};
use crate::versions;

const JOIN_ATTEMPTS: u32 = 30;
const LEAVE_EPOCH: i32 = -1;
const LEAVE_STATIC_EPOCH: i32 = -2;

#[derive(Clone, Debug)]
pub struct ConsumerMemberOptions {
    pub rebalance_timeout_ms: i32,
    /// Static membership (KIP-345 carried over to KIP-848).
    pub group_instance_id: Option<String>,
    /// The server-side assignor (`uniform`, `range`); `None`: the
    /// group's default.
    pub server_assignor: Option<String>,
}

impl Default for ConsumerMemberOptions {
    fn default() -> Self {
        ConsumerMemberOptions {
            rebalance_timeout_ms: 60_000,
            group_instance_id: None,
            server_assignor: None,
        }
    }
}

pub struct ConsumerMember {
    group: String,
    topics: Vec<String>,
    opts: ConsumerMemberOptions,
    member_id: String,
    epoch: i32,
    coordinator: Option<i32>,
    heartbeat_interval: Duration,
    last_heartbeat: Instant,
    /// Send the next heartbeat at once (owned partitions changed).
    heartbeat_now: bool,
    /// Topic names by id, from metadata.
    names: HashMap<Uuid, String>,
    /// The last target assignment the coordinator sent.
    target: BTreeSet<(String, i32)>,
    /// What the caller reported owning.
    owned: BTreeSet<(String, i32)>,
}

/// What a heartbeat brought.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsumerHeartbeat {
    /// Nothing new.
    Unchanged,
    /// A new target assignment: reconcile to it, then report with
    /// [`ConsumerMember::owned`].
    Assignment(Vec<(String, Vec<i32>)>),
    /// The membership was lost (fenced): drop every partition without
    /// committing; the member has joined again and its assignment follows.
    Lost,
}

/// A member id as Kafka's clients make one (a random UUID in URL-safe
/// base64 without padding).
fn new_member_id() -> String {
    use base64::Engine;
    let bytes: [u8; 16] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn group_by_topic(set: &BTreeSet<(String, i32)>) -> Vec<(String, Vec<i32>)> {
    let mut by: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for (t, p) in set {
        by.entry(t.clone()).or_default().push(*p);
    }
    by.into_iter().collect()
}

impl ConsumerMember {
    pub fn new(group: &str, topics: Vec<String>, opts: ConsumerMemberOptions) -> ConsumerMember {
        ConsumerMember {
            group: group.to_string(),
            topics,
            opts,
            member_id: String::new(),
            epoch: 0,
            coordinator: None,
            heartbeat_interval: Duration::from_secs(5),
            last_heartbeat: Instant::now(),
            heartbeat_now: false,
            names: HashMap::new(),
            target: BTreeSet::new(),
            owned: BTreeSet::new(),
        }
    }

    pub fn group(&self) -> &str {
        &self.group
    }

    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// The member epoch (what OffsetCommit carries as its generation).
    pub fn epoch(&self) -> i32 {
        self.epoch
    }

    fn context(&self) -> String {
        format!("group {}", self.group)
    }

    /// The last target assignment.
    pub fn target(&self) -> Vec<(String, Vec<i32>)> {
        group_by_topic(&self.target)
    }

    /// Reports the partitions the caller now owns; the next heartbeat goes
    /// out at once.
    pub fn owned(&mut self, owned: &[(String, Vec<i32>)]) {
        self.owned = owned
            .iter()
            .flat_map(|(t, ps)| ps.iter().map(move |p| (t.clone(), *p)))
            .collect();
        self.heartbeat_now = true;
    }

    async fn coordinator(&mut self, client: &mut Client) -> Result<i32> {
        if let Some(c) = self.coordinator {
            return Ok(c);
        }
        let c = client.find_coordinator(&self.group).await?.node_id;
        self.coordinator = Some(c);
        Ok(c)
    }

    /// Topic ids → names for the topics in `resp`'s assignment.
    async fn resolve(
        &mut self,
        client: &mut Client,
        resp: &ConsumerGroupHeartbeatResponse,
    ) -> Result<Option<BTreeSet<(String, i32)>>> {
        let Some(a) = &resp.assignment else {
            return Ok(None);
        };
        if a.topic_partitions
            .iter()
            .any(|tp| !self.names.contains_key(&tp.topic_id))
        {
            let md = client.metadata(Some(&self.topics), false).await?;
            for t in md.topics {
                if let Some(name) = t.name {
                    self.names.insert(t.topic_id, name);
                }
            }
        }
        let mut set = BTreeSet::new();
        for tp in &a.topic_partitions {
            // A topic we cannot name yet comes again in a later target.
            if let Some(name) = self.names.get(&tp.topic_id) {
                set.extend(tp.partitions.iter().map(|p| (name.clone(), *p)));
            }
        }
        Ok(Some(set))
    }

    fn request(&self, epoch: i32, full: bool) -> ConsumerGroupHeartbeatRequest {
        let owned: Vec<TopicPartitions> = {
            let ids: HashMap<&str, Uuid> =
                self.names.iter().map(|(id, n)| (n.as_str(), *id)).collect();
            group_by_topic(&self.owned)
                .into_iter()
                .filter_map(|(t, ps)| {
                    ids.get(t.as_str()).map(|id| TopicPartitions {
                        topic_id: *id,
                        partitions: ps,
                        ..Default::default()
                    })
                })
                .collect()
        };
        ConsumerGroupHeartbeatRequest {
            group_id: self.group.clone(),
            member_id: self.member_id.clone(),
            member_epoch: epoch,
            instance_id: self.opts.group_instance_id.clone(),
            rack_id: None,
            rebalance_timeout_ms: if full {
                self.opts.rebalance_timeout_ms
            } else {
                -1
            },
            subscribed_topic_names: full.then(|| self.topics.clone()),
            subscribed_topic_regex: None,
            server_assignor: if full {
                self.opts.server_assignor.clone()
            } else {
                None
            },
            topic_partitions: Some(if epoch == 0 { Vec::new() } else { owned }),
            ..Default::default()
        }
    }

    async fn send(
        &mut self,
        client: &mut Client,
        req: ConsumerGroupHeartbeatRequest,
    ) -> Result<ConsumerGroupHeartbeatResponse> {
        let coordinator = self.coordinator(client).await?;
        let resp = client
            .send(
                Target::Node(coordinator),
                Request::ConsumerGroupHeartbeat(req),
                versions::CONSUMER_GROUP_HEARTBEAT,
                None,
            )
            .await;
        match resp {
            Ok((_, Response::ConsumerGroupHeartbeat(r))) => Ok(r),
            Ok((_, other)) => Err(ClientError::Other(format!(
                "expected a ConsumerGroupHeartbeat response, got {:?}",
                other.api_key()
            ))),
            Err(e) => {
                if e.is_retriable() {
                    self.coordinator = None;
                }
                Err(e)
            }
        }
    }

    /// Joins the group (epoch 0) and returns the first target assignment.
    pub async fn join(&mut self, client: &mut Client) -> Result<Vec<(String, Vec<i32>)>> {
        if self.member_id.is_empty() {
            let target = match self.coordinator(client).await {
                Ok(c) => Target::Node(c),
                Err(_) => Target::Any,
            };
            let v = client
                .version_for(
                    target,
                    ApiKey::ConsumerGroupHeartbeat,
                    versions::CONSUMER_GROUP_HEARTBEAT,
                )
                .await?;
            // v1 (Kafka 4.0): the member makes its id; v0: the coordinator.
            if v >= 1 {
                self.member_id = new_member_id();
            }
        }
        self.owned.clear();
        self.target.clear();
        let mut last_error = None;
        for attempt in 0..JOIN_ATTEMPTS {
            if last_error.is_some() {
                tokio::time::sleep(backoff(attempt.min(5))).await;
            }
            let req = self.request(0, true);
            let resp = match self.send(client, req).await {
                Ok(r) => r,
                Err(e) if e.is_retriable() => {
                    last_error = Some(e);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let code = resp.error_code;
            if code != 0 {
                let e = ClientError::from_code(self.context(), code, resp.error_message.clone());
                if is_coordinator_error(code) {
                    self.coordinator = None;
                    last_error = e;
                    continue;
                }
                if ErrorCode::from_code(code).is_some_and(|c| c.is_retriable()) {
                    last_error = e;
                    continue;
                }
                return Err(e.unwrap_or_else(|| ClientError::Other("join failed".into())));
            }
            self.accept(&resp);
            let target = self.resolve(client, &resp).await?.unwrap_or_default();
            self.target = target;
            self.log_target("joined group");
            return Ok(group_by_topic(&self.target));
        }
        Err(last_error.unwrap_or_else(|| {
            ClientError::Other(format!(
                "{}: no membership after {JOIN_ATTEMPTS} attempts to join",
                self.context()
            ))
        }))
    }

    fn accept(&mut self, resp: &ConsumerGroupHeartbeatResponse) {
        if let Some(id) = resp.member_id.as_ref().filter(|id| !id.is_empty()) {
            self.member_id = id.clone();
        }
        self.epoch = resp.member_epoch;
        if resp.heartbeat_interval_ms > 0 {
            self.heartbeat_interval =
                Duration::from_millis(u64::try_from(resp.heartbeat_interval_ms).unwrap_or(5000));
        }
        self.last_heartbeat = Instant::now();
    }

    fn log_target(&self, what: &'static str) {
        let list = |s: &BTreeSet<(String, i32)>| {
            s.iter()
                .map(|(t, p)| format!("{t}-{p}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        tracing::info!(
            group = %self.group,
            member = %self.member_id,
            generation = self.epoch,
            protocol = "consumer",
            assignment = %list(&self.target),
            revoked = %list(&self.owned.difference(&self.target).cloned().collect()),
            "{what}"
        );
    }

    /// Heartbeats when the interval has passed (or at once after
    /// [`owned`](Self::owned)).
    pub async fn heartbeat_if_due(&mut self, client: &mut Client) -> Result<ConsumerHeartbeat> {
        if !self.heartbeat_now && self.last_heartbeat.elapsed() < self.heartbeat_interval {
            return Ok(ConsumerHeartbeat::Unchanged);
        }
        self.heartbeat_now = false;
        self.last_heartbeat = Instant::now();
        let req = self.request(self.epoch, false);
        let resp = match self.send(client, req).await {
            Ok(r) => r,
            Err(e) if e.is_retriable() => return Ok(ConsumerHeartbeat::Unchanged),
            Err(e) => return Err(e),
        };
        let code = resp.error_code;
        match ErrorCode::from_code(code) {
            Some(ErrorCode::None) => {}
            Some(ErrorCode::FencedMemberEpoch | ErrorCode::UnknownMemberId) => {
                tracing::info!(group = %self.group, member = %self.member_id, error = %crate::error_name(code), "membership lost; joining again");
                self.join(client).await?;
                return Ok(ConsumerHeartbeat::Lost);
            }
            _ if is_coordinator_error(code) => {
                self.coordinator = None;
                return Ok(ConsumerHeartbeat::Unchanged);
            }
            Some(c) if c.is_retriable() => return Ok(ConsumerHeartbeat::Unchanged),
            _ => {
                return Err(ClientError::from_code(
                    self.context(),
                    code,
                    resp.error_message.clone(),
                )
                .unwrap_or_else(|| ClientError::Other("heartbeat failed".into())))
            }
        }
        self.accept(&resp);
        match self.resolve(client, &resp).await? {
            Some(target) if target != self.target || target != self.owned => {
                self.target = target;
                self.log_target("new assignment");
                Ok(ConsumerHeartbeat::Assignment(group_by_topic(&self.target)))
            }
            _ => Ok(ConsumerHeartbeat::Unchanged),
        }
    }

    /// Commits `offsets` (topic, partition, next offset) under the
    /// member's epoch.
    pub async fn commit(
        &mut self,
        client: &mut Client,
        offsets: &[(String, i32, i64)],
    ) -> Result<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        client
            .commit_offsets(&self.group, self.epoch, &self.member_id, offsets)
            .await
    }

    /// Leaves the group: epoch -1, or -2 for a static member (its place is
    /// kept for the session timeout).
    pub async fn leave(&mut self, client: &mut Client) -> Result<()> {
        if self.member_id.is_empty() || self.epoch <= 0 {
            return Ok(());
        }
        let epoch = if self.opts.group_instance_id.is_some() {
            LEAVE_STATIC_EPOCH
        } else {
            LEAVE_EPOCH
        };
        let mut req = self.request(epoch, false);
        req.topic_partitions = None;
        let resp = self.send(client, req).await?;
        self.epoch = 0;
        let code = resp.error_code;
        if code == 0 || code == ErrorCode::UnknownMemberId.code() {
            return Ok(());
        }
        Err(
            ClientError::from_code(self.context(), code, resp.error_message)
                .unwrap_or_else(|| ClientError::Other("leave failed".into())),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_ids_look_like_kafkas() {
        let a = new_member_id();
        assert_eq!(a.len(), 22);
        assert_ne!(a, new_member_id());
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn requests_carry_full_state_on_join_and_owned_partitions_after() {
        let mut m = ConsumerMember::new("g", vec!["t".into()], ConsumerMemberOptions::default());
        m.member_id = "m".into();
        let id = Uuid([7; 16]);
        m.names.insert(id, "t".into());
        let join = m.request(0, true);
        assert_eq!(join.subscribed_topic_names, Some(vec!["t".to_string()]));
        assert_eq!(join.rebalance_timeout_ms, 60_000);
        assert_eq!(join.topic_partitions, Some(Vec::new()));
        m.owned(&[("t".into(), vec![2, 0])]);
        assert!(m.heartbeat_now);
        let hb = m.request(5, false);
        assert_eq!(hb.subscribed_topic_names, None);
        assert_eq!(hb.rebalance_timeout_ms, -1);
        let owned = hb.topic_partitions.unwrap();
        assert_eq!(owned.len(), 1);
        assert_eq!(
            (owned[0].topic_id, owned[0].partitions.clone()),
            (id, vec![0, 2])
        );
    }
}
