//! The `Auth` gRPC service: user name + password in, session token out.
//!
//! Password checks run argon2 on a blocking thread (they take tens of milliseconds
//! and 19 MiB each), at most [`MAX_CONCURRENT_CHECKS`] at a time so a flood of logins
//! cannot exhaust the analyser's memory. Wrong user and wrong password get the same
//! answer and the same delay, and failures are throttled per account name
//! ([`LoginThrottle`]). The password file is re-read when it changes, so
//! `data_analyser add-user` takes effect without a restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use protocol::v1::auth_server::{Auth, AuthServer};
use protocol::v1::{LoginReply, LoginRequest};
use tokio::sync::Semaphore;
use tonic::{Request, Response, Status};

use crate::sessions::{Identity, Sessions};
use crate::throttle::LoginThrottle;
use crate::users::PasswordFile;
use crate::SecurityError;

/// Argon2 checks allowed at once.
pub const MAX_CONCURRENT_CHECKS: usize = 2;
/// Longest user name a login may carry.
pub const MAX_USER_NAME_BYTES: usize = 256;

/// Why [`AuthService::check_password`] refused a login; the text is what the user sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoginRefused {
    #[error("wrong user name or password (users are added on the analyser with `data_analyser add-user -u NAME`)")]
    Wrong,
    #[error(
        "too many failed logins for this user in the last hour; try again in {minutes} minutes"
    )]
    Throttled { minutes: u64 },
    #[error("user names are at most {MAX_USER_NAME_BYTES} bytes")]
    NameTooLong,
    #[error("the analyser is shutting down")]
    Unavailable,
}

/// Where the users come from.
#[derive(Debug)]
enum Users {
    /// certs/passwd, with the modification time it was loaded at.
    File {
        path: PathBuf,
        loaded: Mutex<(Option<SystemTime>, Arc<PasswordFile>)>,
    },
    /// `--test`: only test/test.
    Test(Arc<PasswordFile>),
}

/// Implements `rtcloud.v1.Auth`; serve it with [`AuthService::into_server`].
#[derive(Debug, Clone)]
pub struct AuthService {
    users: Arc<Users>,
    sessions: Sessions,
    checks: Arc<Semaphore>,
    throttle: Arc<LoginThrottle>,
}

impl AuthService {
    /// Logins checked against the password file at `passwd` (must exist: an analyser
    /// nobody can log in to is a setup mistake worth stopping for).
    pub fn new(passwd: &Path, sessions: Sessions) -> Result<Self, SecurityError> {
        let file = PasswordFile::load(passwd)?;
        if file.users().next().is_none() {
            tracing::warn!(passwd = %passwd.display(), "the password file has no users: add one with `data_analyser add-user -u NAME`");
        }
        let mtime = modified(passwd);
        Ok(Self::with_users(
            Users::File {
                path: passwd.to_owned(),
                loaded: Mutex::new((mtime, Arc::new(file))),
            },
            sessions,
        ))
    }

    /// `--test` mode: accepts only user test with password test, and says so loudly.
    pub fn test_mode(sessions: Sessions) -> Result<Self, SecurityError> {
        tracing::warn!("TEST MODE: logins are test/test only and the password file is ignored. Never use --test on a real network.");
        Ok(Self::with_users(
            Users::Test(Arc::new(PasswordFile::test_only()?)),
            sessions,
        ))
    }

    fn with_users(users: Users, sessions: Sessions) -> Self {
        Self {
            users: Arc::new(users),
            sessions,
            checks: Arc::new(Semaphore::new(MAX_CONCURRENT_CHECKS)),
            throttle: Arc::default(),
        }
    }

    /// The sessions this service issues tokens into (share with the other services).
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// Checks a user's password the way every login path must: names bounded, failures
    /// throttled per account (shared by gRPC and web logins), argon2 on a blocking
    /// thread with at most [`MAX_CONCURRENT_CHECKS`] at once, and a wrong password
    /// answered only after the throttle's delay. Unknown users cost the same time.
    pub async fn check_password(&self, user: &str, password: String) -> Result<(), LoginRefused> {
        // User names are remembered by the throttle: bound what a stranger can make us keep.
        if user.len() > MAX_USER_NAME_BYTES {
            return Err(LoginRefused::NameTooLong);
        }
        if let Err(wait) = self.throttle.check(user, Instant::now()) {
            return Err(LoginRefused::Throttled {
                minutes: wait.as_secs().div_ceil(60),
            });
        }
        let users = self.current_users();
        let permit = self
            .checks
            .acquire()
            .await
            .map_err(|_| LoginRefused::Unavailable)?;
        let name = user.to_owned();
        let ok = tokio::task::spawn_blocking(move || users.verify(&name, &password))
            .await
            .map_err(|_| LoginRefused::Unavailable)?;
        drop(permit);
        if ok {
            self.throttle.succeeded(user);
            Ok(())
        } else {
            // Slows guessing down without holding a check slot.
            tokio::time::sleep(self.throttle.failed(user, Instant::now())).await;
            Err(LoginRefused::Wrong)
        }
    }

    /// The tonic service, with explicit message limits.
    pub fn into_server(self) -> AuthServer<Self> {
        AuthServer::new(self)
            .max_decoding_message_size(crate::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(crate::MAX_MESSAGE_BYTES)
    }

    /// The current users, re-reading the password file if it changed on disk. A file
    /// that became unreadable keeps the last good users (and logs why).
    fn current_users(&self) -> Arc<PasswordFile> {
        match self.users.as_ref() {
            Users::Test(file) => file.clone(),
            Users::File { path, loaded } => {
                let mut loaded = loaded.lock().unwrap_or_else(|e| e.into_inner());
                let now = modified(path);
                if now != loaded.0 {
                    match PasswordFile::load(path) {
                        Ok(file) => {
                            tracing::info!(passwd = %path.display(), "password file reloaded");
                            *loaded = (now, Arc::new(file));
                        }
                        Err(e) => tracing::error!("{e}; keeping the users loaded before"),
                    }
                }
                loaded.1.clone()
            }
        }
    }
}

/// Station names and client kinds end up in logs and the UI: keep them plain.
fn is_label(value: &str) -> bool {
    value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

#[tonic::async_trait]
impl Auth for AuthService {
    #[tracing::instrument(skip_all, fields(user = %request.get_ref().user, kind = %request.get_ref().client_kind, station = %request.get_ref().station))]
    async fn login(&self, request: Request<LoginRequest>) -> Result<Response<LoginReply>, Status> {
        let peer = request.remote_addr();
        let LoginRequest {
            user,
            password,
            client_kind,
            station,
        } = request.into_inner();
        for (field, value) in [("client_kind", &client_kind), ("station", &station)] {
            if !is_label(value) {
                return Err(Status::invalid_argument(format!(
                    "{field} must be at most 64 letters, digits, '.', '_' or '-'"
                )));
            }
        }
        match self.check_password(&user, password).await {
            Ok(()) => {}
            Err(LoginRefused::Unavailable) => {
                return Err(Status::unavailable("the analyser is shutting down"))
            }
            Err(refused) => {
                tracing::warn!(?peer, "login refused: {refused}");
                let message = refused.to_string();
                return Err(match refused {
                    LoginRefused::Throttled { .. } => Status::resource_exhausted(message),
                    LoginRefused::NameTooLong => Status::invalid_argument(message),
                    _ => Status::unauthenticated(message),
                });
            }
        }
        let (token, ttl) = self.sessions.issue(Identity {
            user,
            client_kind,
            station,
        });
        tracing::info!(?peer, "logged in");
        Ok(Response::new(LoginReply {
            token,
            expires_in_secs: ttl.as_secs(),
        }))
    }
}
