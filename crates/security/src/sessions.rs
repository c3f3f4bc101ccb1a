//! Login sessions: random bearer tokens handed out by `Auth/Login` and checked on every
//! later call (`authorization: Bearer <token>`), from any tonic service or axum handler.
//!
//! Sessions live in memory only: an analyser restart logs everyone out, and clients
//! simply log in again when they reconnect. Tokens are never logged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::RngCore;
use tonic::metadata::MetadataMap;
use tonic::service::Interceptor;
use tonic::{Request, Status};

/// Who made a call, as established at login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    /// "streamer", "listener", ... as the client said at login.
    pub client_kind: String,
    /// The station (scanner) name of a streamer.
    pub station: String,
}

/// How long a token stays valid: a scanning day. Clients log in again at every
/// (re)connection, and a stream opened with a token is checked when it opens, so a
/// long run is not cut when its token expires; a stolen token is worth less.
pub const DEFAULT_TTL: Duration = Duration::from_secs(8 * 3600);

#[derive(Debug)]
struct Session {
    identity: Identity,
    expires: Instant,
}

/// The table of live tokens; cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct Sessions {
    table: Arc<Mutex<HashMap<String, Session>>>,
    ttl: Duration,
}

impl Default for Sessions {
    fn default() -> Self {
        Self::new(DEFAULT_TTL)
    }
}

impl Sessions {
    /// Tokens expire `ttl` after login.
    pub fn new(ttl: Duration) -> Self {
        Self {
            table: Arc::new(Mutex::new(HashMap::new())),
            ttl,
        }
    }

    /// A fresh token (256 random bits, 64 hex digits) for `identity`, and its lifetime.
    pub fn issue(&self, identity: Identity) -> (String, Duration) {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let token = hex::encode(bytes);
        let now = Instant::now();
        let mut table = self.lock();
        // Drop expired sessions here so the table cannot grow without bound.
        table.retain(|_, s| s.expires > now);
        table.insert(
            token.clone(),
            Session {
                identity,
                expires: now + self.ttl,
            },
        );
        (token, self.ttl)
    }

    /// The identity behind the request's `authorization: Bearer <token>` header, or
    /// UNAUTHENTICATED with a message saying what is wrong.
    #[allow(clippy::result_large_err)] // tonic's Status is the error type of every handler
    pub fn check(&self, metadata: &MetadataMap) -> Result<Identity, Status> {
        let header = metadata.get("authorization").ok_or_else(|| {
            Status::unauthenticated(
                "no session token: log in with Auth/Login and send `authorization: Bearer <token>`",
            )
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or_else(|| {
                Status::unauthenticated("the authorization header must be `Bearer <token>`")
            })?;
        let now = Instant::now();
        let mut table = self.lock();
        match table.get(token) {
            Some(session) if session.expires > now => Ok(session.identity.clone()),
            Some(_) => {
                table.remove(token);
                Err(Status::unauthenticated(
                    "the session has expired: log in again",
                ))
            }
            None => Err(Status::unauthenticated(
                "unknown session token (the analyser may have restarted): log in again",
            )),
        }
    }

    /// Ends every session of `user` (password changed or user removed); returns how many.
    pub fn revoke_user(&self, user: &str) -> usize {
        let mut table = self.lock();
        let before = table.len();
        table.retain(|_, s| s.identity.user != user);
        before - table.len()
    }

    /// Ends a session (logout); unknown tokens are ignored.
    pub fn revoke(&self, token: &str) {
        self.lock().remove(token);
    }

    /// Number of live sessions, for status pages.
    pub fn len(&self) -> usize {
        let now = Instant::now();
        self.lock().values().filter(|s| s.expires > now).count()
    }

    /// True when nobody is logged in.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A tonic interceptor that refuses calls without a valid token and puts the
    /// caller's [`Identity`] into the request extensions for the handler:
    /// `DataLinkServer::with_interceptor(svc, sessions.interceptor())`.
    pub fn interceptor(&self) -> RequireLogin {
        RequireLogin {
            sessions: self.clone(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // A panic while holding the lock cannot leave the map half-updated (single
        // inserts and removes), so a poisoned lock is still safe to use.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Interceptor that admits only logged-in callers (see [`Sessions::interceptor`]).
/// Handlers read the caller with `request.extensions().get::<Identity>()`.
#[derive(Debug, Clone)]
pub struct RequireLogin {
    sessions: Sessions,
}

impl Interceptor for RequireLogin {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let identity = self.sessions.check(request.metadata())?;
        if let Some(peer) = request.extensions().get::<crate::server::Peer>() {
            peer.authenticated.mark();
        }
        request.extensions_mut().insert(identity);
        Ok(request)
    }
}
