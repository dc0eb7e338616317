//! Producer ids in cluster mode (KIP-730's shape): each broker takes
//! blocks of `PRODUCER_ID_BLOCK_SIZE` ids through the quorum (a
//! `ProducerIds` record, which the image accepts only if it moves the
//! cluster's next id forward) and hands them out one by one. Two brokers
//! racing for a block: one record commits, the other is rejected and its
//! broker asks again over the newer image, so no id is ever handed out
//! twice. A block not used up when a broker stops is lost, as in Kafka.

use std::sync::Mutex;
use std::time::Duration;

use fjord_metadata::controller::allocate_producer_ids;
use fjord_metadata::ProposeError;

use super::Cluster;

/// How many times a rejected (raced) proposal is tried again.
const ATTEMPTS: usize = 20;

/// The block this broker hands ids from: (next id, end), empty at start.
#[derive(Default)]
pub struct ProducerIdBlock(Mutex<(i64, i64)>);

/// Takes a new block through the quorum: its (first id, end).
async fn take_block(cluster: &Cluster) -> Result<(i64, i64), String> {
    for _ in 0..ATTEMPTS {
        let image = cluster.image();
        let Some((record, first, count)) =
            allocate_producer_ids(&image, cluster.node_id, cluster.epoch())
        else {
            return Err("this broker is not registered at its epoch".into());
        };
        match cluster.quorum.propose(vec![record]).await {
            Ok(offset) => {
                // Wait until the image here holds the record, so the next
                // block is computed past it.
                let _ = cluster
                    .quorum
                    .wait_for_offset(offset, Duration::from_secs(5))
                    .await;
                return Ok((first, first + count));
            }
            Err(ProposeError::Rejected { offset, .. }) => {
                // Another broker took that block: ask again over an image
                // that includes its record.
                let _ = cluster
                    .quorum
                    .wait_for_offset(offset, Duration::from_secs(5))
                    .await;
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Err("too many concurrent producer id allocations".into())
}

impl Cluster {
    /// Hands out a producer id no other broker of the cluster hands out.
    /// Blocking (it may wait for the quorum): call it from a blocking
    /// thread of the runtime.
    pub fn allocate_producer_id(&self) -> Result<i64, String> {
        let mut block = self
            .producer_ids
            .0
            .lock()
            .map_err(|_| "producer id lock poisoned".to_string())?;
        if block.0 >= block.1 {
            let handle = tokio::runtime::Handle::try_current()
                .map_err(|_| "no runtime to reach the quorum from".to_string())?;
            *block = handle.block_on(take_block(self))?;
            tracing::info!(
                first = block.0,
                end = block.1,
                "took a block of producer ids"
            );
        }
        let id = block.0;
        block.0 += 1;
        Ok(id)
    }
}
