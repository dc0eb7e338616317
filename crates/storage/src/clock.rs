//! Wall-clock time in milliseconds since the Unix epoch, as Kafka
//! timestamps count it. One function, so every layer reads time the same
//! way (and a clock before 1970 reads as 0 instead of failing).

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
