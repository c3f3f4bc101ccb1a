//! Reconnect pacing: exponential backoff with jitter, capped near 5 s, reset after a
//! good connection. Jitter keeps several streamers that lost the analyser at the same
//! moment from all knocking at the same instant when it comes back.

use std::time::Duration;

use rand::Rng;

/// Delays between reconnect attempts: 100 ms, 200 ms, 400 ms, ... up to the cap, each
/// drawn uniformly from [delay/2, delay] so that attempts spread out.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    cap: Duration,
    attempt: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(Duration::from_millis(100), Duration::from_secs(5))
    }
}

impl Backoff {
    /// Starts at `first` and never waits longer than `cap`.
    pub fn new(first: Duration, cap: Duration) -> Self {
        Self {
            first,
            cap: cap.max(first),
            attempt: 0,
        }
    }

    /// The next delay to wait before trying again; each call doubles the ceiling.
    pub fn next_delay(&mut self) -> Duration {
        let factor = 1u32 << self.attempt.min(20);
        let ceiling = self.first.saturating_mul(factor).min(self.cap);
        self.attempt = self.attempt.saturating_add(1);
        let half = ceiling / 2;
        half + rand::thread_rng().gen_range(Duration::ZERO..=half)
    }

    /// Sleeps for [`Backoff::next_delay`].
    pub async fn wait(&mut self) {
        tokio::time::sleep(self.next_delay()).await;
    }

    /// Call after a connection that worked (logged in and served), so that the next
    /// outage starts again with short delays.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// How many delays were handed out since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_the_cap_with_jitter_and_resets() {
        let mut backoff = Backoff::default();
        let first = backoff.next_delay();
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
        let mut last = first;
        for _ in 0..30 {
            last = backoff.next_delay();
            assert!(last <= Duration::from_secs(5), "{last:?} exceeds the cap");
        }
        assert!(
            last >= Duration::from_millis(2500),
            "capped delay {last:?} is at least half the cap"
        );
        backoff.reset();
        assert_eq!(backoff.attempts(), 0);
        assert!(backoff.next_delay() <= Duration::from_millis(100));
    }
}
