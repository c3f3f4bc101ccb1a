//! Failed-login throttling, per source address and per account, made so that a
//! stranger can slow guessing down but never lock the rightful owner out.
//!
//! - Per address: at most [`MAX_FAILURES_PER_ADDRESS`] failed logins an hour; more are
//!   refused at once, without a password check. A stranger flooding from one address
//!   stops there, whatever names it tries.
//! - Per account: after a few typos each further failure makes the account wait longer
//!   before the next check ([`delay_after`]: 250 ms doubling up to [`MAX_DELAY`]). An
//!   attempt that comes too early is answered "wait" without a check. So a guesser
//!   gets at most about one try per [`MAX_DELAY`], and there is no hour-long lockout.
//! - Owners are not slowed: a login from an address that logged in successfully
//!   within [`TRUST_FOR`], or over a connection with a valid client certificate,
//!   skips the account delay (the address limit still counts its failures).
//!
//! Memory is bounded ([`MAX_TRACKED`] records of each kind). Under pressure the record
//! with the fewest failures in the last hour goes first, so flooding random names
//! evicts the flood's own one-failure records, never an account under attack.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed logins allowed per source address per hour; more are refused unchecked.
pub const MAX_FAILURES_PER_ADDRESS: usize = 100;
/// Records kept at once for accounts, and (separately) for addresses.
pub const MAX_TRACKED: usize = 10_000;
/// Addresses remembered as "logged in recently" at once (oldest forgotten first).
pub const MAX_TRUSTED: usize = 1024;
/// An address that logged in successfully is trusted this long.
pub const TRUST_FOR: Duration = Duration::from_secs(24 * 3600);
/// Consecutive failures of an account answered without a wait (typos).
const FREE_FAILURES: u32 = 3;
const FIRST_DELAY: Duration = Duration::from_millis(250);
/// The longest an account waits between checks while someone guesses at it.
pub const MAX_DELAY: Duration = Duration::from_secs(30);
const WINDOW: Duration = Duration::from_secs(3600);

/// Where a login attempt comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Source {
    /// The client's address (None: unknown, e.g. in-process tests).
    pub addr: Option<IpAddr>,
    /// The connection presented a client certificate our CA signed (mTLS).
    pub client_cert: bool,
}

/// Why an attempt is not checked now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttled {
    /// Too many failures from this address in the last hour.
    Address { retry_after: Duration },
    /// The account is being guessed at: the next check is allowed after this wait.
    Account { retry_after: Duration },
}

#[derive(Debug)]
struct Record {
    /// When each failure of the last hour happened, oldest first (at most the limit).
    failures: VecDeque<Instant>,
    /// Failures since the last successful login.
    consecutive: u32,
    /// No check of this account before this instant (owners excepted).
    next_check: Instant,
    last_seen: Instant,
}

impl Record {
    fn new(now: Instant) -> Self {
        Record {
            failures: VecDeque::new(),
            consecutive: 0,
            next_check: now,
            last_seen: now,
        }
    }

    fn forget_old(&mut self, now: Instant) {
        while self
            .failures
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= WINDOW)
        {
            self.failures.pop_front();
        }
    }
}

#[derive(Debug, Default)]
struct State {
    accounts: HashMap<String, Record>,
    addresses: HashMap<IpAddr, Record>,
    /// Addresses that logged in successfully, and when they last did.
    trusted: HashMap<IpAddr, Instant>,
}

/// The failed-login records; share one between the login paths (gRPC and web).
#[derive(Debug, Default)]
pub struct LoginThrottle {
    state: Mutex<State>,
}

impl LoginThrottle {
    /// Whether an attempt for `user` from `source` may be checked now.
    pub fn check(&self, user: &str, source: Source, now: Instant) -> Result<(), Throttled> {
        let mut state = self.lock();
        if let Some(addr) = source.addr {
            if let Some(record) = state.addresses.get_mut(&addr) {
                record.forget_old(now);
                if record.failures.len() >= MAX_FAILURES_PER_ADDRESS {
                    let oldest = record.failures.front().copied().unwrap_or(now);
                    return Err(Throttled::Address {
                        retry_after: WINDOW.saturating_sub(now.saturating_duration_since(oldest)),
                    });
                }
            }
        }
        if owner_like(&state, source, now) {
            return Ok(());
        }
        match state.accounts.get_mut(user) {
            Some(record) if record.next_check > now => Err(Throttled::Account {
                retry_after: record.next_check - now,
            }),
            Some(record) if record.consecutive >= FREE_FAILURES => {
                // Reserve the wait now: guesses sent in parallel are checked one by one.
                record.next_check = now + delay_after(record.consecutive + 1);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Records a failed login; returns how long to wait before answering it (the
    /// account's new delay, so an impatient guesser gains nothing by asking again).
    pub fn failed(&self, user: &str, source: Source, now: Instant) -> Duration {
        let mut state = self.lock();
        if let Some(addr) = source.addr {
            bump(&mut state.addresses, addr, now);
        }
        let owner = owner_like(&state, source, now);
        let record = bump(&mut state.accounts, user.to_owned(), now);
        record.consecutive = record.consecutive.saturating_add(1);
        let delay = delay_after(record.consecutive);
        if owner {
            // The owner's own typos neither wait nor make the guesser wait less.
            return Duration::ZERO;
        }
        record.next_check = record.next_check.max(now + delay);
        delay
    }

    /// A successful login: the account's delay starts afresh and the address is
    /// trusted for [`TRUST_FOR`] (its owner is not slowed by a guesser's failures).
    pub fn succeeded(&self, user: &str, source: Source, now: Instant) {
        let mut state = self.lock();
        if let Some(record) = state.accounts.get_mut(user) {
            record.consecutive = 0;
            record.next_check = now;
        }
        if let Some(addr) = source.addr {
            if state.trusted.len() >= MAX_TRUSTED && !state.trusted.contains_key(&addr) {
                if let Some(oldest) = state
                    .trusted
                    .iter()
                    .min_by_key(|(_, t)| **t)
                    .map(|(a, _)| *a)
                {
                    state.trusted.remove(&oldest);
                }
            }
            state.trusted.insert(addr, now);
        }
    }

    /// True when `addr` logged in successfully within [`TRUST_FOR`].
    pub fn is_trusted(&self, addr: IpAddr, now: Instant) -> bool {
        trusted(&self.lock(), addr, now)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Each update is a few field writes: a panic elsewhere cannot leave it torn.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn trusted(state: &State, addr: IpAddr, now: Instant) -> bool {
    state
        .trusted
        .get(&addr)
        .is_some_and(|t| now.saturating_duration_since(*t) < TRUST_FOR)
}

fn owner_like(state: &State, source: Source, now: Instant) -> bool {
    source.client_cert || source.addr.is_some_and(|a| trusted(state, a, now))
}

/// Adds a failure to `key`'s record (made if new, evicting under pressure).
fn bump<K: Hash + Eq + Clone>(
    records: &mut HashMap<K, Record>,
    key: K,
    now: Instant,
) -> &mut Record {
    if records.len() >= MAX_TRACKED && !records.contains_key(&key) {
        evict_least_failed(records, now);
    }
    let record = records.entry(key).or_insert_with(|| Record::new(now));
    record.forget_old(now);
    if record.failures.len() >= MAX_FAILURES_PER_ADDRESS {
        record.failures.pop_front(); // bounded; the count stays at the limit
    }
    record.failures.push_back(now);
    record.last_seen = now;
    record
}

/// Forgets the record with the fewest failures in the last hour (oldest first among
/// equals): a flood of new names evicts itself, not an account being guessed at.
fn evict_least_failed<K: Hash + Eq + Clone>(records: &mut HashMap<K, Record>, now: Instant) {
    let victim = records
        .iter_mut()
        .map(|(k, r)| {
            r.forget_old(now);
            let waiting = r.next_check > now;
            ((waiting, r.failures.len(), r.last_seen), k.clone())
        })
        .min_by_key(|(rank, _)| *rank)
        .map(|(_, k)| k);
    if let Some(key) = victim {
        records.remove(&key);
    }
}

/// No delay for the first few failures in a row, then 250 ms doubling up to
/// [`MAX_DELAY`].
pub fn delay_after(consecutive: u32) -> Duration {
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

    fn from(ip: &str) -> Source {
        Source {
            addr: Some(ip.parse().expect("ip")),
            client_cert: false,
        }
    }

    #[test]
    fn delays_grow_after_a_few_typos_and_reset_on_success() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        let src = from("10.0.0.1");
        let delays: Vec<Duration> = (0..12)
            .map(|_| throttle.failed("alice", src, now))
            .collect();
        assert_eq!(delays[..3], [Duration::ZERO; 3]);
        assert_eq!(delays[3], Duration::from_millis(250));
        assert_eq!(delays[4], Duration::from_millis(500));
        assert_eq!(delays[11], MAX_DELAY);
        assert_eq!(
            throttle.check("alice", src, now),
            Err(Throttled::Account {
                retry_after: MAX_DELAY
            })
        );
        assert!(throttle.check("alice", src, now + MAX_DELAY).is_ok());
        throttle.succeeded("alice", src, now);
        assert_eq!(
            throttle.failed("alice", from("10.0.0.9"), now),
            Duration::ZERO
        );
    }

    #[test]
    fn a_guesser_slows_the_account_but_not_its_owner() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        let (owner, guesser) = (from("10.0.0.1"), from("10.0.0.66"));
        throttle.succeeded("scanner", owner, now);
        for _ in 0..20 {
            throttle.failed("scanner", guesser, now);
        }
        assert!(throttle.check("scanner", guesser, now).is_err());
        assert!(
            throttle.check("scanner", owner, now).is_ok(),
            "owner's address"
        );
        let cert = Source {
            addr: Some("10.0.0.2".parse().expect("ip")),
            client_cert: true,
        };
        assert!(throttle.check("scanner", cert, now).is_ok(), "client cert");
    }

    #[test]
    fn an_address_has_a_hundred_failures_an_hour_whatever_the_names() {
        let throttle = LoginThrottle::default();
        let start = Instant::now();
        let src = from("10.0.0.66");
        for i in 0..MAX_FAILURES_PER_ADDRESS {
            let name = format!("name{i}");
            assert!(throttle.check(&name, src, start).is_ok(), "attempt {i}");
            throttle.failed(&name, src, start + Duration::from_secs(i as u64));
        }
        let refused = throttle.check("fresh", src, start + Duration::from_secs(600));
        assert_eq!(
            refused,
            Err(Throttled::Address {
                retry_after: Duration::from_secs(3000)
            })
        );
        assert!(throttle.check("fresh", from("10.0.0.1"), start).is_ok());
        assert!(throttle.check("fresh", src, start + WINDOW).is_ok());
    }

    #[test]
    fn flooding_random_names_does_not_reset_a_guessed_account() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..10 {
            throttle.failed("scanner", from("10.0.0.66"), now);
        }
        // A flood of new names from many addresses fills both tables past their limit.
        for i in 0..MAX_TRACKED + 50 {
            let src = Source {
                addr: Some(IpAddr::from([10, 1, (i >> 8) as u8, i as u8])),
                client_cert: false,
            };
            throttle.failed(&format!("random{i}"), src, now);
        }
        let state = throttle.lock();
        assert_eq!(state.accounts.len(), MAX_TRACKED);
        assert!(state.addresses.len() <= MAX_TRACKED);
        assert!(
            state.accounts.contains_key("scanner"),
            "the guessed account stays"
        );
        assert!(state
            .addresses
            .contains_key(&"10.0.0.66".parse().expect("ip")));
        drop(state);
        assert!(throttle.check("scanner", from("10.0.0.77"), now).is_err());
    }
}
