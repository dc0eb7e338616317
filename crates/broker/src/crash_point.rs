//! Named crash points for fault tests: where `FJORD_CRASH_AT` names a
//! point, the process aborts there (as a kill -9 would, no cleanup), so a
//! test can stop the broker inside a window too narrow to hit with a
//! signal. Unset (always, outside tests) it costs one environment lookup
//! at the few places that call it, none on a hot path.

/// The environment variable naming the crash point.
pub const ENV: &str = "FJORD_CRASH_AT";

/// Aborts the process if `FJORD_CRASH_AT` is `name`.
pub fn reached(name: &str) {
    if std::env::var(ENV).is_ok_and(|v| v == name) {
        tracing::error!(point = name, "crash point reached ({ENV}): aborting");
        std::process::abort();
    }
}
