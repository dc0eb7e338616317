//! Certificate reload without a restart: a task that looks at the
//! keystore and truststore files of TLS listeners every
//! `fjord.ssl.reload.interval.ms` and, when their content changed, builds
//! a new server config from them and swaps it into the `TlsContext`.
//!
//! A change is seen by the files' content (a SHA-256 of each), so a
//! rewrite within the same second as the last one counts, and a file
//! touched without change does not. A new config that cannot be built (a
//! half-written file, a wrong password, a key that does not fit) is logged
//! once per content, naming the file and why, and the current config keeps
//! serving; the next change is tried again. New handshakes use the new
//! certificate; connections already open keep theirs. Inline PEM
//! (`ssl.keystore.key`, ...) is config, not a file, and is not watched.

use std::sync::{Arc, Weak};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::tls::TlsContext;

/// The files a context's stores are read from.
fn watched_files(ctx: &TlsContext) -> Vec<String> {
    let s = ctx.settings();
    s.keystore_location
        .iter()
        .chain(s.truststore_location.iter())
        .cloned()
        .collect()
}

/// A fingerprint of the files' content; a file that cannot be read counts
/// as its error text (so its return is a change too).
fn fingerprint(files: &[String]) -> Vec<[u8; 32]> {
    files
        .iter()
        .map(|f| {
            let mut h = Sha256::new();
            match std::fs::read(f) {
                Ok(bytes) => h.update(&bytes),
                Err(e) => h.update(e.to_string().as_bytes()),
            }
            h.finalize().into()
        })
        .collect()
}

/// Starts the watcher of `ctx`'s files, unless reload is off or no store
/// is a file. The task ends when the context is dropped.
pub fn spawn(ctx: &Arc<TlsContext>) {
    let interval = ctx.settings().reload_interval_ms;
    let files = watched_files(ctx);
    if interval == 0 || files.is_empty() {
        return;
    }
    let weak = Arc::downgrade(ctx);
    tokio::spawn(watch(weak, files, Duration::from_millis(interval)));
}

async fn watch(ctx: Weak<TlsContext>, files: Vec<String>, interval: Duration) {
    let f = files.clone();
    let Ok(mut seen) = tokio::task::spawn_blocking(move || fingerprint(&f)).await else {
        return;
    };
    loop {
        tokio::time::sleep(interval).await;
        let Some(ctx) = ctx.upgrade() else {
            return;
        };
        let f = files.clone();
        let c = ctx.clone();
        let checked = tokio::task::spawn_blocking(move || {
            let now = fingerprint(&f);
            if now == seen {
                return (seen, None);
            }
            let changed: Vec<String> = f
                .iter()
                .zip(now.iter().zip(seen.iter()))
                .filter(|(_, (a, b))| a != b)
                .map(|(name, _)| name.clone())
                .collect();
            (now, Some((changed, c.reload())))
        })
        .await;
        let Ok((now, outcome)) = checked else {
            return;
        };
        seen = now;
        match outcome {
            None => {}
            Some((changed, Ok(cert))) => {
                tracing::info!(files = ?changed, certificate = %cert, "TLS stores changed: new connections use the reloaded certificate");
            }
            Some((changed, Err(error))) => {
                tracing::error!(files = ?changed, %error, "TLS stores changed but cannot be used; the previous certificate keeps serving");
            }
        }
    }
}
