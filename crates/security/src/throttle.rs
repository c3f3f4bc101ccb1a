//! Failed-login throttling, per account name: at most [`MAX_FAILURES_PER_HOUR`] failed
//! logins per account in any hour, and a growing delay before each refusal after the
//! first few, so guessing a password online is hopeless while a typo costs nothing.
//!
//! Names that are not users are throttled exactly like users, so the answers tell
//! nothing about which accounts exist. Memory is bounded by [`MAX_TRACKED_ACCOUNTS`].

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed logins allowed per account per hour; more are refused without a check.
pub const MAX_FAILURES_PER_HOUR: usize = 100;
/// Accounts whose failures are remembered at once (the oldest are forgotten first).
pub const MAX_TRACKED_ACCOUNTS: usize = 10_000;
/// Consecutive failures answered at once (typos); the delay grows after them.
const FREE_FAILURES: u32 = 3;
const FIRST_DELAY: Duration = Duration::from_millis(250);
const MAX_DELAY: Duration = Duration::from_secs(8);
const WINDOW: Duration = Duration::from_secs(3600);

#[derive(Debug, Default)]
struct Account {
    /// When each failure of the last hour happened, oldest first.
    failures: VecDeque<Instant>,
    /// Failures since the last successful login.
    consecutive: u32,
    last_seen: Option<Instant>,
}

/// The failed-login record of every account; share one between the login paths.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    accounts: Mutex<HashMap<String, Account>>,
}

impl LoginThrottle {
    /// `Err(wait)` when `user` used up its failures for the hour: refuse without
    /// checking the password, and say when to try again.
    pub fn check(&self, user: &str, now: Instant) -> Result<(), Duration> {
        let mut accounts = self.lock();
        let Some(account) = accounts.get_mut(user) else {
            return Ok(());
        };
        forget_old(account, now);
        if account.failures.len() < MAX_FAILURES_PER_HOUR {
            return Ok(());
        }
        let oldest = account.failures.front().copied().unwrap_or(now);
        Err(WINDOW.saturating_sub(now.saturating_duration_since(oldest)))
    }

    /// Records a failed login and returns how long to wait before answering it.
    pub fn failed(&self, user: &str, now: Instant) -> Duration {
        let mut accounts = self.lock();
        if accounts.len() >= MAX_TRACKED_ACCOUNTS && !accounts.contains_key(user) {
            evict_oldest(&mut accounts);
        }
        let account = accounts.entry(user.to_owned()).or_default();
        forget_old(account, now);
        account.failures.push_back(now);
        account.consecutive = account.consecutive.saturating_add(1);
        account.last_seen = Some(now);
        delay_after(account.consecutive)
    }

    /// A successful login: the delay starts afresh (the hourly count stays).
    pub fn succeeded(&self, user: &str) {
        if let Some(account) = self.lock().get_mut(user) {
            account.consecutive = 0;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Account>> {
        // Each update is a few field writes: a panic elsewhere cannot leave it torn.
        self.accounts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn forget_old(account: &mut Account, now: Instant) {
    while account
        .failures
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= WINDOW)
    {
        account.failures.pop_front();
    }
}

fn evict_oldest(accounts: &mut HashMap<String, Account>) {
    if let Some(name) = accounts
        .iter()
        .min_by_key(|(_, a)| a.last_seen)
        .map(|(name, _)| name.clone())
    {
        accounts.remove(&name);
    }
}

/// No delay for the first few failures in a row, then 250 ms doubling up to 8 s.
fn delay_after(consecutive: u32) -> Duration {
    match consecutive.checked_sub(FREE_FAILURES + 1) {
        None => Duration::ZERO,
        Some(doublings) => FIRST_DELAY
            .saturating_mul(2u32.saturating_pow(doublings.min(16)))
            .min(MAX_DELAY),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_after_a_few_typos_and_reset_on_success() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        let delays: Vec<Duration> = (0..10).map(|_| throttle.failed("alice", now)).collect();
        assert_eq!(delays[..3], [Duration::ZERO; 3]);
        assert_eq!(delays[3], Duration::from_millis(250));
        assert_eq!(delays[4], Duration::from_millis(500));
        assert_eq!(delays[9], MAX_DELAY);
        throttle.succeeded("alice");
        assert_eq!(throttle.failed("alice", now), Duration::ZERO);
    }

    #[test]
    fn an_hour_allows_a_hundred_failures_per_account() {
        let throttle = LoginThrottle::default();
        let start = Instant::now();
        for i in 0..MAX_FAILURES_PER_HOUR {
            assert!(throttle.check("bob", start).is_ok(), "attempt {i}");
            throttle.failed("bob", start + Duration::from_secs(i as u64));
        }
        let wait = throttle
            .check("bob", start + Duration::from_secs(600))
            .expect_err("101st attempt within the hour");
        assert_eq!(wait, Duration::from_secs(3000));
        // Other accounts, known or not, are not affected.
        assert!(throttle.check("carol", start).is_ok());
        // An hour after the first failure, one attempt is free again.
        assert!(throttle.check("bob", start + WINDOW).is_ok());
    }

    #[test]
    fn memory_is_bounded() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        for i in 0..MAX_TRACKED_ACCOUNTS + 10 {
            throttle.failed(&format!("user{i}"), now + Duration::from_millis(i as u64));
        }
        assert_eq!(throttle.lock().len(), MAX_TRACKED_ACCOUNTS);
        assert!(
            !throttle.lock().contains_key("user0"),
            "the oldest is forgotten"
        );
    }
}
