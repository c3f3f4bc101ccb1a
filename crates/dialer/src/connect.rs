//! Dialing the analyser: TCP, TLS against the analyser's own CA (or plaintext in
//! `--test`), an HTTP/2 channel with keepalive, then `Auth/Login` for a bearer token.
//!
//! The TLS handshake is done here rather than by tonic so that a failure can be told
//! apart (unknown CA, wrong name, client certificate missing, plaintext server) and
//! turned into a [`DialError`] that says what to do. This module never listens.

use std::time::Duration;

use hyper_util::rt::TokioIo;
use protocol::v1::auth_client::AuthClient;
use protocol::v1::LoginRequest;
use rustls::{AlertDescription, CertificateError};
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::io::Io;
use crate::{ConnectArgs, DialError, Token};

/// HTTP/2 pings this often on an idle link, so a dead analyser (or a pulled cable) is
/// noticed within interval + timeout, i.e. about 4 s.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(1);
/// How long a ping may go unanswered before the link counts as dead.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(3);
/// Limit for TCP connect + TLS handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Limit for the login call (argon2 on the analyser takes tens of milliseconds).
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Who is logging in, beyond the user name: kept with the session on the analyser.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// "streamer", "listener", ...
    pub kind: String,
    /// The station (scanner) name of a streamer.
    pub station: String,
}

/// Everything needed to dial again and again: files are read and the password asked
/// for once, in [`Dialer::from_args`], not on every reconnect.
#[derive(Clone)]
pub struct Dialer {
    server: String,
    host: String,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    ca: std::path::PathBuf,
    user: String,
    password: String,
}

impl std::fmt::Debug for Dialer {
    // Never print the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dialer")
            .field("server", &self.server)
            .field("tls", &self.tls.is_some())
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Reads the options, dials once and logs in: the short form of
/// `Dialer::from_args(args)?.connect(client)`.
pub async fn connect(
    args: &ConnectArgs,
    client: &ClientInfo,
) -> Result<(Channel, Token), DialError> {
    Dialer::from_args(args)?.connect(client).await
}

impl Dialer {
    /// Checks `--server`, loads the CA (and client certificate) and gets the password
    /// from `--password-file` or the terminal.
    pub fn from_args(args: &ConnectArgs) -> Result<Self, DialError> {
        let host = parse_host(&args.server)?;
        let (tls, user, password) = if args.test {
            tracing::warn!(
                "TEST MODE: no TLS, user test/test. Everything, including scanner data, travels in plaintext. Never use --test on a real network."
            );
            (None, "test".to_owned(), "test".to_owned())
        } else {
            let identity = args.client_cert.as_deref().zip(args.client_key.as_deref());
            if !args.ca.is_file() {
                return Err(DialError::NoCa {
                    path: args.ca.clone(),
                });
            }
            let config = security::tls::client_config(&args.ca, identity)?;
            let name = ServerName::try_from(host.clone()).map_err(|e| DialError::BadServer {
                server: args.server.clone(),
                detail: e.to_string(),
            })?;
            let user = args.user.clone().ok_or(DialError::NoUser)?;
            let password = read_password(args, &user)?;
            (Some((TlsConnector::from(config), name)), user, password)
        };
        Ok(Self {
            server: args.server.clone(),
            host,
            tls,
            ca: args.ca.clone(),
            user,
            password,
        })
    }

    /// The analyser's address as given (HOST:PORT).
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Dials, then logs in. The channel reconnects by itself through the same TLS
    /// settings, but a new login (new token) needs a new `connect`.
    pub async fn connect(&self, client: &ClientInfo) -> Result<(Channel, Token), DialError> {
        let channel = self.channel().await?;
        let token = self.login(channel.clone(), client).await?;
        Ok((channel, token))
    }

    async fn channel(&self) -> Result<Channel, DialError> {
        let endpoint = Endpoint::from_shared(format!("http://{}", self.server))
            .map_err(|e| DialError::BadServer {
                server: self.server.clone(),
                detail: e.to_string(),
            })?
            .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
            .keep_alive_timeout(KEEPALIVE_TIMEOUT)
            .keep_alive_while_idle(true)
            // Windows large enough that a 1.4 MB volume is not throttled by HTTP/2's
            // default 64 KiB flow control on a link with some latency.
            .initial_stream_window_size(4 * 1024 * 1024)
            .initial_connection_window_size(8 * 1024 * 1024)
            // Large frames for what the analyser sends us (see security::server).
            .max_frame_size(1 << 20)
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true);
        let (server, tls) = (self.server.clone(), self.tls.clone());
        let connector = tower::service_fn(move |_: Uri| {
            let (server, tls) = (server.clone(), tls.clone());
            async move {
                let tcp = TcpStream::connect(&server).await?;
                tcp.set_nodelay(true)?;
                match tls {
                    Some((connector, name)) => {
                        let stream = connector.connect(name, tcp).await?;
                        Ok::<_, std::io::Error>(TokioIo::new(Io::Tls(Box::new(stream))))
                    }
                    None => Ok(TokioIo::new(Io::Plain(tcp))),
                }
            }
        });
        let connecting = endpoint.connect_with_connector(connector);
        match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
            Ok(Ok(channel)) => Ok(channel),
            Ok(Err(e)) => Err(self.explain(&e, e.to_string())),
            Err(_) => Err(DialError::Timeout {
                server: self.server.clone(),
                secs: CONNECT_TIMEOUT.as_secs(),
            }),
        }
    }

    async fn login(&self, channel: Channel, client: &ClientInfo) -> Result<Token, DialError> {
        let mut auth = AuthClient::new(channel)
            .max_decoding_message_size(security::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(security::MAX_MESSAGE_BYTES);
        let request = LoginRequest {
            user: self.user.clone(),
            password: self.password.clone(),
            client_kind: client.kind.clone(),
            station: client.station.clone(),
        };
        let reply = match tokio::time::timeout(LOGIN_TIMEOUT, auth.login(request)).await {
            Ok(reply) => reply,
            Err(_) => {
                return Err(DialError::Timeout {
                    server: self.server.clone(),
                    secs: LOGIN_TIMEOUT.as_secs(),
                })
            }
        };
        match reply {
            Ok(reply) => {
                tracing::info!(server = %self.server, user = %self.user, "logged in");
                Ok(Token::new(reply.into_inner().token))
            }
            // Wrong user or password, or a user not allowed this role or station.
            Err(status)
                if matches!(
                    status.code(),
                    tonic::Code::Unauthenticated | tonic::Code::PermissionDenied
                ) =>
            {
                Err(DialError::Refused {
                    server: self.server.clone(),
                    user: self.user.clone(),
                    message: status.message().to_owned(),
                })
            }
            // The login throttle: wait what it says (`retry-after`, seconds) or longer.
            Err(status) if status.code() == tonic::Code::ResourceExhausted => {
                let retry_after = status
                    .metadata()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map_or(crate::REFUSED_RETRY, std::time::Duration::from_secs);
                Err(DialError::Throttled {
                    server: self.server.clone(),
                    retry_after,
                    message: status.message().to_owned(),
                })
            }
            // In --test, a connection that opened but broke on the first call is a TLS
            // analyser closing on our plaintext (it answers with an HTTP/1.1 400).
            Err(status)
                if self.tls.is_none()
                    && matches!(
                        status.code(),
                        tonic::Code::Unknown | tonic::Code::Unavailable
                    ) =>
            {
                Err(DialError::NotPlaintext {
                    server: self.server.clone(),
                })
            }
            Err(status) => {
                let detail = status.to_string();
                match self.explain(&status, detail) {
                    DialError::Unreachable { .. } => Err(DialError::Login {
                        server: self.server.clone(),
                        status,
                    }),
                    other => Err(other),
                }
            }
        }
    }

    /// Turns a transport error into the most specific [`DialError`] found in its chain.
    fn explain(&self, err: &(dyn std::error::Error + 'static), detail: String) -> DialError {
        let server = self.server.clone();
        if let Some(tls) = find_rustls(err) {
            return match tls {
                rustls::Error::InvalidCertificate(
                    CertificateError::UnknownIssuer | CertificateError::BadSignature,
                ) => DialError::UnknownCa {
                    server,
                    ca: self.ca.clone(),
                },
                rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                    | CertificateError::NotValidForNameContext { .. },
                ) => DialError::WrongName {
                    server,
                    host: self.host.clone(),
                },
                rustls::Error::InvalidCertificate(
                    CertificateError::Expired
                    | CertificateError::ExpiredContext { .. }
                    | CertificateError::NotValidYet
                    | CertificateError::NotValidYetContext { .. },
                ) => DialError::Expired { server },
                rustls::Error::AlertReceived(AlertDescription::CertificateRequired) => {
                    DialError::ClientCertRequired { server }
                }
                rustls::Error::AlertReceived(
                    AlertDescription::BadCertificate
                    | AlertDescription::UnknownCA
                    | AlertDescription::DecryptError,
                ) => DialError::ClientCertRejected { server },
                rustls::Error::InvalidMessage(_) => DialError::NotTls { server },
                other => DialError::Tls {
                    server,
                    detail: other.to_string(),
                },
            };
        }
        // h2 passes TLS alerts on as text only (the rustls error type is lost), so the
        // alerts a server sends about our client certificate are recognised by name.
        let text = chain_text(err);
        if text.contains("received fatal alert: CertificateRequired") {
            return DialError::ClientCertRequired { server };
        }
        if [
            "BadCertificate",
            "UnknownCA",
            "DecryptError",
            "CertificateUnknown",
        ]
        .iter()
        .any(|alert| text.contains(&format!("received fatal alert: {alert}")))
        {
            return DialError::ClientCertRejected { server };
        }
        DialError::Unreachable {
            server,
            detail: if text.is_empty() { detail } else { text },
        }
    }
}

/// HOST out of HOST:PORT (IPv6 as [addr]:port), checking that a port is there.
fn parse_host(server: &str) -> Result<String, DialError> {
    let bad = |detail: &str| DialError::BadServer {
        server: server.to_owned(),
        detail: detail.to_owned(),
    };
    let (host, port) = server.rsplit_once(':').ok_or_else(|| bad("no port"))?;
    port.parse::<u16>()
        .map_err(|_| bad("the port is not a number from 0 to 65535"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad("no host"));
    }
    Ok(host.to_owned())
}

fn read_password(args: &ConnectArgs, user: &str) -> Result<String, DialError> {
    if let Some(path) = &args.password_file {
        let text = std::fs::read_to_string(path).map_err(|source| DialError::PasswordFile {
            path: path.clone(),
            source,
        })?;
        security::warn_if_readable_by_others(path);
        return Ok(text.lines().next().unwrap_or_default().to_owned());
    }
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Err(DialError::NoPassword {
            user: user.to_owned(),
        });
    }
    rpassword::prompt_password(format!("Password for {user} at {}: ", args.server)).map_err(|_| {
        DialError::NoPassword {
            user: user.to_owned(),
        }
    })
}

/// The first rustls error in an error chain; rustls errors reach us wrapped in
/// `io::Error`, whose `source()` skips the wrapped error itself, hence `get_ref`.
fn find_rustls<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            if let Some(tls) = find_rustls(inner) {
                return Some(tls);
            }
        }
        current = e.source();
    }
    None
}

fn chain_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = Vec::new();
    let mut current = Some(err);
    while let Some(e) = current {
        parts.push(e.to_string());
        current = e.source();
    }
    parts.join(": ")
}
