//! Registry metrics for the broker's `/metrics`: requests by endpoint
//! (the route template, so the label set stays bounded), method and
//! status, counted on the request path; schema, subject and id gauges read
//! from the state at scrape time by [`Collector`].

use std::collections::BTreeMap;
use std::sync::{Mutex, Weak};

use prometheus_client::collector::Collector as PromCollector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::MetricType;

use crate::registry::Registry;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, EncodeLabelSet)]
struct RequestLabels {
    endpoint: String,
    method: String,
    status: String,
}

#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<RequestLabels, u64>>,
}

impl Metrics {
    pub fn observe(&self, endpoint: &str, method: &str, status: u16) {
        let key = RequestLabels {
            endpoint: endpoint.to_string(),
            method: method.to_string(),
            status: status.to_string(),
        };
        if let Ok(mut m) = self.requests.lock() {
            *m.entry(key).or_default() += 1;
        }
    }

    /// (endpoint, method, status, count) rows, for tests and tools.
    pub fn request_counts(&self) -> Vec<(String, String, u16, u64)> {
        self.requests
            .lock()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        (
                            k.endpoint.clone(),
                            k.method.clone(),
                            k.status.parse().unwrap_or(0),
                            *v,
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A prometheus-client collector over a running registry.
#[derive(Debug)]
pub struct Collector {
    pub registry: Weak<Registry>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Registry")
    }
}

impl PromCollector for Collector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(reg) = self.registry.upgrade() else {
            return Ok(());
        };
        let (versions, subjects, max_id) = {
            let st = reg.read();
            let (v, s) = st.counts();
            (v as i64, s as i64, st.max_id)
        };
        for (name, help, v) in [
            (
                "fjord_schema_registry_schemas",
                "Registered schema versions (not deleted).",
                versions,
            ),
            (
                "fjord_schema_registry_subjects",
                "Subjects with a version that is not deleted.",
                subjects,
            ),
            (
                "fjord_schema_registry_max_schema_id",
                "Highest schema id handed out.",
                max_id,
            ),
        ] {
            encoder
                .encode_descriptor(name, help, None, MetricType::Gauge)?
                .encode_gauge(&v)?;
        }
        let rows = reg
            .metrics
            .requests
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default();
        let mut m = encoder.encode_descriptor(
            "fjord_schema_registry_requests",
            "Schema registry HTTP requests by endpoint, method and status.",
            None,
            MetricType::Counter,
        )?;
        for (labels, v) in rows {
            m.encode_family(&labels)?
                .encode_counter::<NoLabelSet, _, u64>(&v, None)?;
        }
        Ok(())
    }
}
