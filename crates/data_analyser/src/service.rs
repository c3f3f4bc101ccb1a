//! The analyser's one port: binding it, login, and the data link that streamers dial;
//! each command adds its own gRPC services and web routes (`merge`). Shared by every
//! command that serves (the project mode and `record`).

use std::net::SocketAddr;

use anyhow::{Context, Result};
use clap::Args;
use data_link::analyser::{DataLinkService, Streamers};
use security::{AuthService, Sessions};

use crate::server::{self, ServerArgs};

#[derive(Debug, Args)]
pub struct PortArgs {
    /// Address to listen on (0.0.0.0: every interface).
    #[arg(long, default_value = "0.0.0.0", value_name = "ADDR")]
    pub host: String,
    /// Port to listen on; 0 picks a free one. The address is printed once ready:
    /// `Listening on: https://HOST:PORT`.
    #[arg(long, default_value_t = 8888)]
    pub port: u16,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// A bound, not yet serving analyser.
pub struct Analyser {
    listener: tokio::net::TcpListener,
    app: axum::Router,
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    /// The streamers that dialed in, by station.
    pub streamers: Streamers,
    /// `https://ADDR:PORT` (http in --test mode), as printed.
    pub url: String,
    /// The login checks (users, throttle), for the web page's login.
    pub auth: AuthService,
    /// `--test`: no TLS, user test/test.
    pub test: bool,
}

impl Analyser {
    /// Loads certificates and users, binds the port and prints `Listening on: URL`.
    /// `more` adds the command's own gRPC services (given the login sessions).
    pub async fn bind(
        args: &PortArgs,
        more: impl FnOnce(tonic::service::Routes, &Sessions) -> tonic::service::Routes,
    ) -> Result<Self> {
        if args.server.test {
            tracing::warn!(
                "TEST MODE: no TLS and the single user test/test. Never use this on a real network."
            );
        }
        let tls = args.server.tls_config()?;
        let sessions = Sessions::default();
        let auth = args.server.auth_service(sessions.clone())?;
        // A password change ends the user's sessions even while nobody logs in.
        let _watch = auth.watch_password_file();
        let streamers = Streamers::new();
        let link = DataLinkService::new(streamers.clone()).server(sessions.interceptor());
        let app =
            more(server::routes(auth.clone()).add_service(link), &sessions).into_axum_router();
        let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
            .await
            .with_context(|| format!("listening on {}:{}", args.host, args.port))?;
        let addr: SocketAddr = listener.local_addr().context("the bound address")?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{addr}");
        // Tests and scripts read this line to learn the port.
        println!("Listening on: {url}");
        Ok(Self {
            listener,
            app,
            tls,
            streamers,
            url,
            auth,
            test: args.server.test,
        })
    }

    /// Adds web routes (pages, WebSockets) to the port; they must not set a fallback.
    /// The bound address (the real port when --port was 0).
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.listener.local_addr().context("the bound address")
    }

    pub fn merge(mut self, routes: axum::Router) -> Self {
        self.app = self.app.merge(routes);
        self
    }

    /// Serves until `shutdown` completes.
    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()>) {
        server::serve(self.listener, self.tls, self.app, shutdown).await;
    }
}
