//! Reconnect pacing: exponential backoff with jitter, capped near 5 s, reset after a
//! good connection. Jitter keeps several streamers that lost the analyser at the same
//! moment from all knocking at the same instant when it comes back. A refusal that
//! needs someone to change a setting (wrong password, foreign CA, protocol version) is
//! retried only every [`REFUSED_RETRY`], slower than the analyser's login throttle
//! lets anyone guess, so a client never locks its own account.

use std::time::Duration;

use rand::Rng;

/// How often a refused client tries again (someone may have fixed the setting). The
/// analyser's login throttle waits at most 30 s between checks of an account under
/// attack (security::throttle::MAX_DELAY), so this never trips it.
pub const REFUSED_RETRY: Duration = Duration::from_secs(60);

/// What kind of failure a reconnect loop waits after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// An outage (unreachable, timeout, link lost): retried soon, with backoff.
    Outage,
    /// Refused until someone changes a setting: retried every [`REFUSED_RETRY`].
    Refused,
    /// The analyser's login throttle asked to wait this long.
    Throttled(Duration),
}

/// Errors that say how to pace the next attempt.
pub trait Paced {
    fn pace(&self) -> Pace;
}

/// Logs a failed connection and when the next try comes, so the state is visible in
/// the log: a refusal as an error that says it needs fixing, a throttle and an outage
/// as warnings.
pub fn report_retry(pace: Pace, why: &str, delay: Duration, attempt: u32) {
    let secs = delay.as_secs_f64();
    match pace {
        Pace::Refused => tracing::error!(
            state = "refused",
            "the analyser refuses this client until a setting is fixed: {why}; trying again in {secs:.0} s"
        ),
        Pace::Throttled(_) => tracing::warn!(
            state = "throttled",
            "{why}; trying again in {secs:.0} s"
        ),
        Pace::Outage => tracing::warn!(
            state = "reconnecting",
            attempt,
            "no link to the analyser: {why}; trying again in {secs:.1} s"
        ),
    }
}

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

    /// The delay before the next attempt after a failure of kind `pace`: the backoff
    /// for an outage, [`REFUSED_RETRY`] (up to a quarter more, jittered) after a
    /// refusal, and at least what the throttle asked for.
    pub fn delay_after(&mut self, pace: Pace) -> Duration {
        let outage = self.next_delay();
        let jitter = |d: Duration| d + rand::thread_rng().gen_range(Duration::ZERO..=d / 4);
        match pace {
            Pace::Outage => outage,
            Pace::Refused => jitter(REFUSED_RETRY),
            Pace::Throttled(wait) => jitter(wait.max(outage)),
        }
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

    #[test]
    fn a_refusal_waits_long_and_a_throttle_at_least_its_time() {
        let mut backoff = Backoff::default();
        for _ in 0..10 {
            let d = backoff.delay_after(Pace::Refused);
            assert!(d >= REFUSED_RETRY && d <= REFUSED_RETRY * 5 / 4, "{d:?}");
            let t = backoff.delay_after(Pace::Throttled(Duration::from_secs(30)));
            assert!(t >= Duration::from_secs(30), "{t:?}");
        }
        backoff.reset();
        assert!(backoff.delay_after(Pace::Outage) <= Duration::from_millis(100));
    }
}
