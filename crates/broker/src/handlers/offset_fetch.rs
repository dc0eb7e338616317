//! OffsetFetch (key 9): a group's committed offsets (-1 where none), for
//! one group (v0-7) or several (v8+).
//!
//! With an authorizer, as Kafka: DESCRIBE on the group (else
//! GROUP_AUTHORIZATION_FAILED for the group) and DESCRIBE on each topic: a
//! named topic without it gets TOPIC_AUTHORIZATION_FAILED on its
//! partitions (and no offset), and a fetch of all the group's offsets
//! leaves such topics out.

use std::sync::Arc;

use fjord_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use fjord_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse};
use fjord_protocol::ErrorCode;

use super::RequestCtx;
use crate::acl::{AclOperation, ResourceType};
use crate::state::BrokerState;
use fjord_group_coordinator::{CommittedOffset, TopicOffsets};

crate::handler!(OffsetFetch, 0, 9);

/// Whether the principal may fetch the group's offsets at all.
fn group_allowed(state: &BrokerState, ctx: &RequestCtx, group: &str) -> Result<(), ErrorCode> {
    if ctx.allowed(state, AclOperation::Describe, ResourceType::Group, group) {
        crate::cluster::coordinators::check_group(state, group)
    } else {
        Err(ErrorCode::GroupAuthorizationFailed)
    }
}

/// A topic's committed offsets and whether the principal was refused it.
type Seen = (String, Vec<(i32, Option<CommittedOffset>)>, bool);

/// The group's offsets of `topics` (all when `None`) that the principal
/// may see, each topic with whether it was refused.
fn fetch(
    state: &BrokerState,
    ctx: &RequestCtx,
    group: &str,
    topics: Option<Vec<(String, Vec<i32>)>>,
) -> Result<Vec<Seen>, ErrorCode> {
    let named = topics.is_some();
    let found: TopicOffsets = state.groups.fetch_offsets(group, topics.as_deref())?;
    Ok(found
        .into_iter()
        .filter_map(|(name, ps)| {
            let ok = if named {
                ctx.allowed(state, AclOperation::Describe, ResourceType::Topic, &name)
            } else {
                ctx.visible(state, AclOperation::Describe, ResourceType::Topic, &name)
            };
            match (ok, named) {
                (true, _) => Some((name, ps, false)),
                (false, true) => {
                    Some((name, ps.into_iter().map(|(p, _)| (p, None)).collect(), true))
                }
                (false, false) => None,
            }
        })
        .collect())
}

fn refused_or(refused: bool, code: ErrorCode) -> ErrorCode {
    if refused {
        ErrorCode::TopicAuthorizationFailed
    } else {
        code
    }
}

/// v7+ `require_stable`: a partition with offsets of an open transaction
/// answers UNSTABLE_OFFSET_COMMIT (the client retries).
fn stability(state: &BrokerState, stable: bool, group: &str, topic: &str, p: i32) -> ErrorCode {
    if stable && state.groups.has_pending_txn_offset(group, topic, p) {
        ErrorCode::UnstableOffsetCommit
    } else {
        ErrorCode::None
    }
}

fn parts(o: Option<CommittedOffset>) -> (i64, i32, String) {
    match o {
        Some(o) => (o.offset, o.leader_epoch, o.metadata),
        None => (-1, -1, String::new()),
    }
}

async fn handle(
    state: Arc<BrokerState>,
    ctx: RequestCtx,
    req: OffsetFetchRequest,
) -> OffsetFetchResponse {
    if ctx.api_version >= 8 {
        let groups = req
            .groups
            .into_iter()
            .map(|g| {
                let topics = g.topics.map(|ts| {
                    ts.into_iter()
                        .map(|t| (t.name, t.partition_indexes))
                        .collect()
                });
                // v9: a consumer (KIP-848) group member's epoch must be current.
                let member = group_allowed(&state, &ctx, &g.group_id).and_then(|()| {
                    state.groups.consumer_fetch_check(
                        &g.group_id,
                        g.member_id.as_deref(),
                        g.member_epoch,
                    )
                });
                match member.and_then(|()| fetch(&state, &ctx, &g.group_id, topics)) {
                    Ok(found) => OffsetFetchResponseGroup {
                        group_id: g.group_id.clone(),
                        error_code: ErrorCode::None.code(),
                        topics: found
                            .into_iter()
                            .map(|(name, ps, refused)| OffsetFetchResponseTopics {
                                name: name.clone(),
                                partitions: ps
                                    .into_iter()
                                    .map(|(p, o)| {
                                        let (offset, epoch, metadata) = parts(o);
                                        let code = refused_or(
                                            refused,
                                            stability(
                                                &state,
                                                req.require_stable,
                                                &g.group_id,
                                                &name,
                                                p,
                                            ),
                                        );
                                        OffsetFetchResponsePartitions {
                                            partition_index: p,
                                            committed_offset: offset,
                                            committed_leader_epoch: epoch,
                                            metadata: Some(metadata),
                                            error_code: code.code(),
                                            ..Default::default()
                                        }
                                    })
                                    .collect(),
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    },
                    Err(code) => OffsetFetchResponseGroup {
                        group_id: g.group_id,
                        error_code: code.code(),
                        ..Default::default()
                    },
                }
            })
            .collect();
        return OffsetFetchResponse {
            groups,
            ..Default::default()
        };
    }
    // Before v2 a null topic list was not allowed; an empty one fetches none.
    let topics = req.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.name, t.partition_indexes))
            .collect::<Vec<_>>()
    });
    match group_allowed(&state, &ctx, &req.group_id)
        .and_then(|()| fetch(&state, &ctx, &req.group_id, topics))
    {
        Ok(found) => OffsetFetchResponse {
            error_code: ErrorCode::None.code(),
            topics: found
                .into_iter()
                .map(|(name, ps, refused)| OffsetFetchResponseTopic {
                    name: name.clone(),
                    partitions: ps
                        .into_iter()
                        .map(|(p, o)| {
                            let (offset, epoch, metadata) = parts(o);
                            let stable = ctx.api_version >= 7 && req.require_stable;
                            let code = refused_or(
                                refused,
                                stability(&state, stable, &req.group_id, &name, p),
                            );
                            OffsetFetchResponsePartition {
                                partition_index: p,
                                committed_offset: offset,
                                committed_leader_epoch: epoch,
                                metadata: Some(metadata),
                                error_code: code.code(),
                                ..Default::default()
                            }
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        },
        Err(code) => OffsetFetchResponse {
            error_code: code.code(),
            ..Default::default()
        },
    }
}
