//! Dynamic broker configs: the per-broker and cluster-default layers set
//! by AlterConfigs / IncrementalAlterConfigs on broker resources,
//! persisted in `<data-dir>/meta/dynamic-configs.json` so they survive a
//! restart. Each save replaces the file atomically (a uniquely named temp
//! file, fsynced, renamed over it, then the directory fsynced), so a crash
//! leaves either the old or the new file, never a torn one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::state::StateError;

const FILE: &str = "dynamic-configs.json";

/// Distinguishes temp files of one process (with its id in the name, no
/// two saves ever share one).

#[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DynamicConfigs {
    /// DYNAMIC_DEFAULT_BROKER_CONFIG (the `<default>` resource).
    #[serde(default)]
    pub cluster_default: BTreeMap<String, String>,
    /// DYNAMIC_BROKER_CONFIG for this node.
    #[serde(default)]
    pub per_broker: BTreeMap<String, String>,
}

/// Where the dynamic configs of the broker with data in `data_dir` live.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("meta").join(FILE)
}

/// Whether `name` is a temp file a crash mid-save left behind.
pub fn is_stale_temp(name: &str) -> bool {
    crate::meta_store::is_meta_temp(name, FILE)
}

/// Reads the saved dynamic configs; none saved yet is empty.
pub fn load(data_dir: &Path) -> Result<DynamicConfigs, StateError> {
    let p = path(data_dir);
    let Some(text) = crate::meta_store::read_meta_file(&p)? else {
        return Ok(DynamicConfigs::default());
    };
    serde_json::from_str(&text)
        .map_err(|e| StateError::Corrupt(p.display().to_string(), e.to_string()))
}

/// Replaces the saved dynamic configs; returns once they are on disk.
pub fn save(data_dir: &Path, configs: &DynamicConfigs) -> Result<(), StateError> {
    let p = path(data_dir);
    let text = serde_json::to_string_pretty(configs)
        .map_err(|e| StateError::Corrupt(p.display().to_string(), e.to_string()))?;
    crate::meta_store::replace_meta_file(&p, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Cleanup(PathBuf);
    impl Cleanup {
        fn path(&self) -> &Path {
            &self.0
        }
    }
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn save_and_load() {
        let dir = std::env::temp_dir().join(format!("fjord-dyn-{}", rand::random::<u64>()));
        std::fs::create_dir_all(dir.join("meta")).unwrap();
        let d = Cleanup(dir);
        assert_eq!(load(d.path()).unwrap(), DynamicConfigs::default());
        let mut c = DynamicConfigs::default();
        c.cluster_default
            .insert("log.retention.ms".into(), "1000".into());
        c.per_broker
            .insert("message.max.bytes".into(), "2000".into());
        save(d.path(), &c).unwrap();
        save(d.path(), &c).unwrap();
        assert_eq!(load(d.path()).unwrap(), c);
        let leftovers: Vec<_> = std::fs::read_dir(d.path().join("meta"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect();
        assert_eq!(leftovers, vec![FILE.to_string()]);
        assert!(is_stale_temp("dynamic-configs.json.12.3.tmp"));
        assert!(!is_stale_temp(FILE));
        std::fs::write(path(d.path()), "{not json").unwrap();
        assert!(load(d.path()).is_err());
    }
}
