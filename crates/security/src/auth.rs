//! The `Auth` gRPC service: user name + password in, session token out.
//!
//! Password checks run argon2 on a blocking thread (they take tens of milliseconds
//! and 19 MiB each), at most [`MAX_CONCURRENT_CHECKS`] at a time so a flood of logins
//! cannot exhaust the analyser's memory. Wrong user and wrong password get the same
//! answer and the same delay, and failures are throttled per source address and per
//! account ([`LoginThrottle`]). The password file is re-read when it changes, so
//! `data_analyser add-user` takes effect without a restart; a user whose password
//! changed (or who was removed) loses every token issued before.
//!
//! What the client sees (gRPC status of `Auth/Login`), so it can tell a fix-your-config
//! refusal from a wait:
//! - UNAUTHENTICATED: wrong user name or password (retrying will not help);
//! - PERMISSION_DENIED: the password is right but the user may not be this client
//!   kind or station (the `roles=`/`stations=` of the password file);
//! - RESOURCE_EXHAUSTED: throttled; the message says when to try again and the
//!   `retry-after` metadata holds the seconds;
//! - INVALID_ARGUMENT: a malformed name, station or client kind.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use protocol::v1::auth_server::{Auth, AuthServer};
use protocol::v1::{LoginReply, LoginRequest};
use tokio::sync::Semaphore;
use tonic::{Request, Response, Status};

use crate::server::Peer;
use crate::sessions::{Identity, Sessions};
use crate::throttle::{LoginThrottle, Source, Throttled};
use crate::users::{PasswordFile, Role};
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
    #[error("too many failed logins from this address; try again in {} minutes", retry_after.as_secs().div_ceil(60))]
    AddressThrottled { retry_after: Duration },
    #[error("someone is guessing this user's password: the next try is checked in {} s (logins from an address that logged in before, or with a client certificate, are not slowed)", retry_after.as_secs().max(1))]
    Throttled { retry_after: Duration },
    #[error("{0}")]
    NotAllowed(String),
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
        let open: Vec<&str> = file
            .users()
            .filter(|u| file.grants(u).unrestricted())
            .collect();
        if !open.is_empty() {
            tracing::warn!(
                users = %open.join(","),
                "these users may log in as streamer, listener and experimenter, and claim any station: restrict them with `data_analyser add-user -u NAME --roles ... --stations ...`"
            );
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
    pub async fn check_password(
        &self,
        user: &str,
        password: String,
        source: Source,
    ) -> Result<(), LoginRefused> {
        // User names are remembered by the throttle: bound what a stranger can make us keep.
        if user.len() > MAX_USER_NAME_BYTES {
            return Err(LoginRefused::NameTooLong);
        }
        match self.throttle.check(user, source, Instant::now()) {
            Ok(()) => {}
            Err(Throttled::Address { retry_after }) => {
                return Err(LoginRefused::AddressThrottled { retry_after })
            }
            Err(Throttled::Account { retry_after }) => {
                return Err(LoginRefused::Throttled { retry_after })
            }
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
            self.throttle.succeeded(user, source, Instant::now());
            Ok(())
        } else {
            // Slows guessing down without holding a check slot.
            tokio::time::sleep(self.throttle.failed(user, source, Instant::now())).await;
            Err(LoginRefused::Wrong)
        }
    }

    /// Checks the password and that `user` may log in as `role` (and, for a streamer,
    /// as `station`), as the password file's `roles=`/`stations=` say.
    pub async fn check_login(
        &self,
        user: &str,
        password: String,
        source: Source,
        role: Role,
        station: &str,
    ) -> Result<(), LoginRefused> {
        self.check_password(user, password, source).await?;
        match self.current_users().grants(user).refuse(role, station) {
            Some(why) => Err(LoginRefused::NotAllowed(why)),
            None => Ok(()),
        }
    }

    /// Where a request comes from, for the throttle (address, client certificate).
    pub fn source_of(extensions: &axum::http::Extensions) -> Source {
        extensions
            .get::<Peer>()
            .map(|peer| Source {
                addr: Some(peer.addr.ip()),
                client_cert: peer.client_cert.is_some(),
            })
            .unwrap_or_default()
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
                            self.revoke_changed(&loaded.1, &file);
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

impl AuthService {
    /// The user's current password hash (re-reading a changed password file), or None
    /// for an unknown user. Sessions kept outside [`Sessions`] (the web page's cookies)
    /// keep the stamp they logged in with and end when it changes, as tokens do.
    pub fn credential_stamp(&self, user: &str) -> Option<String> {
        self.current_users().hash_of(user).map(str::to_owned)
    }

    /// Ends the sessions of users whose password changed or who were removed.
    fn revoke_changed(&self, before: &PasswordFile, after: &PasswordFile) {
        for user in before.users() {
            if before.hash_of(user) != after.hash_of(user) {
                let ended = self.sessions.revoke_user(user);
                tracing::info!(%user, ended, "password changed or user removed: the user's sessions ended");
            }
        }
    }

    /// Re-reads the password file if it changed, so a password change revokes the
    /// old tokens within a second or two even when nobody logs in.
    pub fn watch_password_file(&self) -> Option<tokio::task::JoinHandle<()>> {
        if !matches!(self.users.as_ref(), Users::File { .. }) {
            return None;
        }
        let me = self.clone();
        let handle = tokio::runtime::Handle::try_current().ok()?;
        Some(handle.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                me.current_users();
            }
        }))
    }
}

/// Station names and client kinds end up in logs and the UI: keep them plain (empty
/// is allowed here: a client that is no station says none).
fn is_label(value: &str) -> bool {
    value.is_empty() || crate::users::check_station_name(value).is_ok()
}

impl LoginRefused {
    /// The gRPC status a client sees (see the module documentation).
    pub fn into_status(self) -> Status {
        let message = self.to_string();
        match self {
            LoginRefused::AddressThrottled { retry_after }
            | LoginRefused::Throttled { retry_after } => {
                let mut status = Status::resource_exhausted(message);
                if let Ok(secs) = retry_after.as_secs().max(1).to_string().parse() {
                    status.metadata_mut().insert("retry-after", secs);
                }
                status
            }
            LoginRefused::NameTooLong => Status::invalid_argument(message),
            LoginRefused::NotAllowed(_) => Status::permission_denied(message),
            LoginRefused::Unavailable => Status::unavailable(message),
            LoginRefused::Wrong => Status::unauthenticated(message),
        }
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

#[tonic::async_trait]
impl Auth for AuthService {
    #[tracing::instrument(skip_all, fields(user = %request.get_ref().user, kind = %request.get_ref().client_kind, station = %request.get_ref().station))]
    async fn login(&self, request: Request<LoginRequest>) -> Result<Response<LoginReply>, Status> {
        let peer = request.remote_addr();
        let source = Self::source_of(request.extensions());
        let connection = request.extensions().get::<Peer>().cloned();
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
        let role = Role::of_client_kind(&client_kind);
        match self
            .check_login(&user, password, source, role, &station)
            .await
        {
            Ok(()) => {}
            Err(refused) => {
                tracing::warn!(?peer, "login refused: {refused}");
                return Err(refused.into_status());
            }
        }
        if let Some(connection) = connection {
            connection.authenticated.mark();
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
