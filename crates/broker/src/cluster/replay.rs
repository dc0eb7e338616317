//! The metadata replay: every committed image is applied to the local
//! topics, as a Kafka broker replays `__cluster_metadata`. A topic of the
//! image is opened here with the image's id, partition count and leader
//! epochs; one an image drops is closed and deleted (see [`apply`] for
//! topics the cluster never had); a moved leader epoch replaces the
//! partition's local state. The internal topics are image topics like the
//! others once created; `_schemas`, which lives outside the image in this
//! step, is left alone. Around each image the group and transaction
//! coordinators resign and take over the internal partitions whose
//! leadership moved (`coordinators.rs`).
//!
//! Every image is applied whole, in order, by this one task (the only
//! writer of non-internal local topics in cluster mode, so it does not take
//! `admin_lock`, which admin requests hold while they wait for it), and the
//! offset reached is published so admin requests can answer once their
//! records are applied here.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use fjord_metadata::records::ConfigResourceType;
use fjord_metadata::MetadataImage;
use tokio::sync::watch;

use super::Cluster;
use crate::state::{is_internal_topic, BrokerState};

/// The topic the schema registry keeps outside the image in this step.
const SCHEMAS_TOPIC: &str = "_schemas";

/// Applies images until `stop`; publishes each applied offset (see
/// [`Cluster::wait_applied`]).
pub async fn run(state: Arc<BrokerState>, cluster: Arc<Cluster>, mut stop: watch::Receiver<bool>) {
    let mut images = cluster.quorum.subscribe();
    let mut previous: Option<Arc<MetadataImage>> = None;
    loop {
        let image = images.borrow_and_update().clone();
        let offset = image.offset;
        let st = state.clone();
        let (prev, next) = (previous.clone(), image.clone());
        let cl = cluster.clone();
        let ok = tokio::task::spawn_blocking(move || {
            // Coordinators first give up what this image takes away, and
            // load what it gives once the local partitions follow it.
            super::coordinators::resign(&st, &cl, &next);
            // Users, ACLs and quotas are in force before the offset is
            // published (their proposers answer once it is).
            super::security_sync::apply(&st, &next, prev.as_deref());
            let ok = apply(&st, &next, prev.as_deref());
            if ok {
                super::coordinators::elect(&st, &cl, &next);
            }
            ok
        })
        .await
        .unwrap_or(false);
        if ok {
            previous = Some(image);
            cluster.applied.send_replace(offset);
        } else {
            // A local failure (disk): try the same image again shortly.
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => continue,
                _ = stop.changed() => return,
            }
        }
        tokio::select! {
            changed = images.changed() => if changed.is_err() { return },
            _ = stop.changed() => return,
        }
    }
}

/// The leader epoch of each partition of a topic, by index.
fn epochs(topic: &fjord_metadata::image::TopicImage) -> Vec<i32> {
    topic.partitions.values().map(|p| p.leader_epoch).collect()
}

/// Gives each local partition of `topic` the image's replica set and
/// ISR; wakes waiting fetches and produces where the high watermark moved
/// (a member that held it back left the ISR).
fn follow_isr(state: &BrokerState, topic: &fjord_metadata::image::TopicImage) {
    let Some(local) = state.topic(&topic.name) else {
        return;
    };
    let mut moved = false;
    for (index, p) in &topic.partitions {
        let Some(part) = usize::try_from(*index)
            .ok()
            .and_then(|i| local.partitions.get(i))
        else {
            continue;
        };
        moved |= part.update_replication(p.replicas.clone(), p.isr.clone(), p.partition_epoch);
    }
    if moved {
        state.notify_data();
    }
}

/// Applies one image to the local topics; false if a local change failed
/// (logged), so the caller retries. A local topic is deleted only when
/// `previous` (the image applied before, by this process) held it and
/// `image` does not: a topic found on disk that the cluster never had in
/// this process's sight (a topic deleted while this broker was down; a
/// single-node directory's topics are migrated into the image before the
/// replay starts, `migrate.rs`) is left on disk, unserved, with a
/// warning, never deleted on a guess.
pub fn apply(state: &BrokerState, image: &MetadataImage, previous: Option<&MetadataImage>) -> bool {
    let mut ok = true;
    let node = state.cluster().map_or(-1, |c| c.node_id);
    for topic in image.topics.values() {
        let id = fjord_protocol::Uuid(topic.id.0);
        let epochs = epochs(topic);
        let local = state.topic(&topic.name);
        if let Some(local) = &local {
            if local.id == id {
                let same = local.partitions.len() == epochs.len()
                    && local
                        .partitions
                        .iter()
                        .zip(&epochs)
                        .all(|(p, e)| p.leader_epoch == *e && p.is_replicated());
                if !same {
                    if let Err(e) = state.follow_epochs(local, &epochs) {
                        tracing::error!(topic = %topic.name, error = %e, "following the metadata image failed");
                        ok = false;
                    }
                }
                follow_isr(state, topic);
                ok &= super::reassign::drop_removed_replicas(state, node, topic, image, previous);
                continue;
            }
            // Same name, another id: the old topic was deleted and
            // re-created while this broker was away.
            if let Err(e) = state.delete_topic(&topic.name) {
                tracing::error!(topic = %topic.name, error = %e, "deleting a replaced topic failed");
                ok = false;
                continue;
            }
        }
        let configs: BTreeMap<String, String> = image
            .configs_of(ConfigResourceType::Topic, &topic.name)
            .cloned()
            .unwrap_or_default();
        match state.adopt_topic(&topic.name, id, configs, epochs) {
            Ok(t) => {
                follow_isr(state, topic);
                tracing::info!(topic = %topic.name, partitions = t.partitions.len(), "opened topic from the metadata image")
            }
            Err(e) => {
                tracing::error!(topic = %topic.name, error = %e, "opening a topic of the metadata image failed");
                ok = false;
            }
        }
    }
    for local in state.all_topics() {
        if is_internal_topic(&local.name) || local.name == SCHEMAS_TOPIC {
            continue;
        }
        if image.topic(&local.name).is_some() {
            continue;
        }
        let id = fjord_metadata::records::Uuid(local.id.0);
        let dropped = previous.is_some_and(|p| p.topics.contains_key(&id));
        if !dropped {
            if previous.is_none() {
                tracing::warn!(topic = %local.name, "topic on disk is not in the cluster metadata: left alone and not served");
            }
            continue;
        }
        match state.delete_topic(&local.name) {
            Ok(_) => {
                tracing::info!(topic = %local.name, "deleted topic (dropped from the metadata image)")
            }
            Err(e) => {
                tracing::error!(topic = %local.name, error = %e, "deleting a topic failed");
                ok = false;
            }
        }
    }
    ok
}
