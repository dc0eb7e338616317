//! The two measures quotas are checked against, with Kafka's arithmetic so
//! a client is throttled as much as it would be by Kafka:
//!
//! - [`SampledRate`]: a rate over `samples` windows of `window_ms` each
//!   (`quota.window.num` = 11 × `quota.window.size.seconds` = 1 s). While
//!   fewer than `samples - 1` whole windows have passed, the elapsed time
//!   counts as `samples - 1` windows, so a fresh client is not throttled for
//!   a first burst. The throttle time for a rate `O` over quota `T` measured
//!   over a window `W` is `(O - T) / T × W`: the delay that brings the rate
//!   back to the quota if nothing more is recorded.
//! - [`TokenBucket`]: for `controller_mutation_rate` (KIP-599): tokens refill
//!   at the quota per second up to a burst of `quota × samples × window`;
//!   a mutation takes its partitions' worth of tokens and may drive the
//!   bucket negative; the throttle time is the time to refill to zero.
//!
//! Times are milliseconds from any fixed origin; nothing here reads a clock.

/// One window of a [`SampledRate`].
#[derive(Clone, Copy, Debug)]
struct Sample {
    start_ms: u64,
    value: f64,
}

/// A rate over a ring of time windows.
#[derive(Clone, Debug)]
pub struct SampledRate {
    samples: Vec<Sample>,
    current: usize,
    max_samples: usize,
    window_ms: u64,
}

impl SampledRate {
    pub fn new(samples: u32, window_ms: u64) -> SampledRate {
        SampledRate {
            samples: Vec::new(),
            current: 0,
            max_samples: samples.max(2) as usize,
            window_ms: window_ms.max(1),
        }
    }

    /// Adds `value` (bytes, or percent-seconds of handler time) at `now_ms`.
    /// A negative value takes back what an earlier call recorded (a fetch
    /// answered empty because it was throttled).
    pub fn record(&mut self, value: f64, now_ms: u64) {
        if self.samples.is_empty() {
            self.samples.push(Sample {
                start_ms: now_ms,
                value: 0.0,
            });
            self.current = 0;
        }
        let complete = now_ms.saturating_sub(self.samples[self.current].start_ms) >= self.window_ms;
        if complete {
            self.current = (self.current + 1) % self.max_samples;
            let fresh = Sample {
                start_ms: now_ms,
                value: 0.0,
            };
            if self.current >= self.samples.len() {
                self.samples.push(fresh);
            } else {
                self.samples[self.current] = fresh;
            }
        }
        self.samples[self.current].value += value;
    }

    /// Forgets windows older than the whole ring (they restart empty now).
    fn purge(&mut self, now_ms: u64) {
        let expire = self.max_samples as u64 * self.window_ms;
        for s in &mut self.samples {
            if now_ms.saturating_sub(s.start_ms) >= expire {
                *s = Sample {
                    start_ms: now_ms,
                    value: 0.0,
                };
            }
        }
    }

    /// The time the rate is measured over, in milliseconds: from the oldest
    /// window's start, at least `samples - 1` whole windows.
    pub fn window_size_ms(&mut self, now_ms: u64) -> u64 {
        self.purge(now_ms);
        let oldest = self
            .samples
            .iter()
            .map(|s| s.start_ms)
            .min()
            .unwrap_or(now_ms);
        let mut elapsed = now_ms.saturating_sub(oldest);
        let full = elapsed / self.window_ms;
        let min_full = self.max_samples as u64 - 1;
        if full < min_full {
            elapsed += (min_full - full) * self.window_ms;
        }
        elapsed.max(1)
    }

    /// The rate per second at `now_ms`.
    pub fn rate(&mut self, now_ms: u64) -> f64 {
        let window = self.window_size_ms(now_ms);
        let total: f64 = self.samples.iter().map(|s| s.value).sum();
        total / (window as f64 / 1000.0)
    }

    /// How long a client over `quota` must wait, in milliseconds (0 when
    /// within it).
    pub fn throttle_ms(&mut self, quota: f64, now_ms: u64) -> u64 {
        if quota <= 0.0 {
            return 0;
        }
        let rate = self.rate(now_ms);
        if rate <= quota {
            return 0;
        }
        let window = self.window_size_ms(now_ms) as f64;
        ((rate - quota) / quota * window).round() as u64
    }

    /// The most one request can bring within the quota when nothing was
    /// recorded in the window: `quota × (samples - 1) × window`. Fetch caps
    /// its response size by it.
    pub fn max_in_window(&self, quota: f64) -> f64 {
        quota * (self.max_samples as f64 - 1.0) * (self.window_ms as f64 / 1000.0)
    }
}

/// A token bucket refilled at the quota per second.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    tokens: f64,
    last_ms: Option<u64>,
    samples: u32,
    window_ms: u64,
}

impl TokenBucket {
    pub fn new(samples: u32, window_ms: u64) -> TokenBucket {
        TokenBucket {
            tokens: 0.0,
            last_ms: None,
            samples: samples.max(1),
            window_ms: window_ms.max(1),
        }
    }

    fn burst(&self, quota: f64) -> f64 {
        self.samples as f64 * (self.window_ms as f64 / 1000.0) * quota
    }

    fn refill(&mut self, quota: f64, now_ms: u64) {
        let burst = self.burst(quota);
        self.tokens = match self.last_ms {
            // A new bucket starts full.
            None => burst,
            Some(last) => {
                (self.tokens + quota * now_ms.saturating_sub(last) as f64 / 1000.0).min(burst)
            }
        };
        self.last_ms = Some(now_ms);
    }

    /// The tokens left at `now_ms` (negative: in debt).
    pub fn tokens(&mut self, quota: f64, now_ms: u64) -> f64 {
        self.refill(quota, now_ms);
        self.tokens
    }

    /// Takes `permits` tokens (may leave the bucket negative).
    pub fn take(&mut self, permits: f64, quota: f64, now_ms: u64) {
        self.refill(quota, now_ms);
        self.tokens = (self.tokens - permits).min(self.burst(quota));
    }

    /// Time to refill to zero, in milliseconds (0 when not in debt).
    pub fn throttle_ms(&mut self, quota: f64, now_ms: u64) -> u64 {
        let t = self.tokens(quota, now_ms);
        if t >= 0.0 || quota <= 0.0 {
            0
        } else {
            (-t / quota * 1000.0).round() as u64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_burst_counts_over_ten_windows() {
        // 11 windows of 1 s: a fresh rate is measured over at least 10 s.
        let mut r = SampledRate::new(11, 1000);
        r.record(5_000_000.0, 0);
        assert_eq!(r.window_size_ms(0), 10_000);
        assert!((r.rate(0) - 500_000.0).abs() < 1e-6);
        // 1 MB/s quota: 5 MB in the first instant is within it.
        assert_eq!(r.throttle_ms(1_000_000.0, 0), 0);
        // Another 10 MB: 15 MB over 10 s = 1.5 MB/s, 50% over: wait 5 s.
        r.record(10_000_000.0, 0);
        assert_eq!(r.throttle_ms(1_000_000.0, 0), 5_000);
    }

    #[test]
    fn old_windows_age_out() {
        let mut r = SampledRate::new(11, 1000);
        r.record(20_000_000.0, 0);
        assert!(r.throttle_ms(1_000_000.0, 0) > 0);
        // After the whole ring (11 s) the burst no longer counts.
        assert_eq!(r.throttle_ms(1_000_000.0, 11_000), 0);
        assert_eq!(r.rate(11_000), 0.0);
    }

    #[test]
    fn steady_rate_at_the_quota_is_not_throttled() {
        let mut r = SampledRate::new(11, 1000);
        let mut t = 0;
        while t < 30_000 {
            r.record(100_000.0, t);
            t += 100;
        }
        // 1 MB/s exactly: within a 1.01 MB/s quota, over a 0.9 MB/s one.
        assert_eq!(r.throttle_ms(1_010_000.0, t), 0);
        assert!(r.throttle_ms(900_000.0, t) > 0);
    }

    #[test]
    fn unrecording_takes_a_value_back() {
        let mut r = SampledRate::new(11, 1000);
        r.record(30_000_000.0, 0);
        r.record(-30_000_000.0, 1);
        assert_eq!(r.throttle_ms(1_000_000.0, 1), 0);
    }

    #[test]
    fn the_fetch_cap_is_the_quota_over_ten_windows() {
        let r = SampledRate::new(11, 1000);
        assert_eq!(r.max_in_window(1_000_000.0), 10_000_000.0);
    }

    #[test]
    fn token_bucket_starts_full_and_refills() {
        // quota 2/s, 11 × 1 s: burst 22.
        let mut b = TokenBucket::new(11, 1000);
        assert_eq!(b.tokens(2.0, 1_000), 22.0);
        b.take(30.0, 2.0, 1_000);
        assert_eq!(b.tokens(2.0, 1_000), -8.0);
        // 8 tokens in debt at 2/s: 4 s.
        assert_eq!(b.throttle_ms(2.0, 1_000), 4_000);
        assert_eq!(b.throttle_ms(2.0, 3_000), 2_000);
        assert_eq!(b.throttle_ms(2.0, 5_000), 0);
        // Never above the burst.
        assert_eq!(b.tokens(2.0, 1_000_000), 22.0);
    }
}
