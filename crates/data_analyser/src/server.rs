//! The analyser's network front: the options that choose TLS, client certificates and
//! the password file, and the gRPC routes every analyser serves (Auth).
//!
//! The serving itself (TLS, HTTP/1.1 + HTTP/2 on one port, keepalive, refusing
//! plaintext) is `security::server::serve`, re-exported here; it lives in the library
//! so the data link's tests can run the same server in-process. This module never
//! binds a port: `cli/serve.rs` binds and passes the listener.
//!
//! Typical use:
//! ```ignore
//! let tls = args.server.tls_config()?;
//! let auth = args.server.auth_service(Sessions::default())?;
//! let app = server::routes(auth).add_service(data_link).into_axum_router().merge(web);
//! server::serve(listener, tls, app, shutdown).await;
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use security::{AuthService, Sessions};

pub use security::server::serve;

/// How the analyser's port is protected; `#[command(flatten)]` into service commands.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Folder with server.crt, server.key and ca.crt (from `data_analyser make-certs`).
    #[arg(long, value_name = "DIR", default_value = "certs")]
    pub certs_dir: PathBuf,
    /// The password file (from `data_analyser add-user`); default: CERTS_DIR/passwd.
    #[arg(long, value_name = "FILE")]
    pub passwd: Option<PathBuf>,
    /// Accept only clients that present a certificate signed by CERTS_DIR/ca.crt
    /// (make them with `data_analyser make-certs --client NAME`), on top of the login.
    #[arg(long)]
    pub require_client_certs: bool,
    /// Test mode: NO TLS and the single user test/test. Only on a private test machine.
    #[arg(long, conflicts_with = "require_client_certs")]
    pub test: bool,
}

impl ServerArgs {
    /// The TLS config for `serve`, or None in `--test` mode.
    pub fn tls_config(&self) -> Result<Option<Arc<rustls::ServerConfig>>> {
        if self.test {
            return Ok(None);
        }
        let config = security::tls::server_config(&self.certs_dir, self.require_client_certs)
            .context(
            "loading the analyser's certificate (or start with --test for a plaintext test setup)",
        )?;
        Ok(Some(config))
    }

    /// The login service: users from the password file, or test/test in `--test` mode.
    pub fn auth_service(&self, sessions: Sessions) -> Result<AuthService> {
        if self.test {
            return Ok(AuthService::test_mode(sessions)?);
        }
        let passwd = self.passwd_path();
        // Nobody could log in to the web page or the link: a setup mistake to stop for.
        let users = security::users::PasswordFile::load(&passwd).with_context(|| {
            format!(
                "loading the users (add one with `data_analyser add-user -u NAME --passwd {}`)",
                passwd.display()
            )
        })?;
        if users.users().next().is_none() {
            anyhow::bail!(
                "the password file {} has no users: add one with `data_analyser add-user -u NAME --passwd {}` (or start with --test)",
                passwd.display(),
                passwd.display()
            );
        }
        AuthService::new(&passwd, sessions).with_context(|| {
            format!(
                "loading the users (add one with `data_analyser add-user -u NAME --passwd {}`)",
                passwd.display()
            )
        })
    }

    /// Where the password file is.
    pub fn passwd_path(&self) -> PathBuf {
        self.passwd
            .clone()
            .unwrap_or_else(|| self.certs_dir.join("passwd"))
    }
}

/// The gRPC services every analyser serves (login); add the others with
/// `.add_service(..)`, then `.into_axum_router()` and merge the web routes.
pub fn routes(auth: AuthService) -> tonic::service::Routes {
    tonic::service::Routes::new(auth.into_server())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(dir: &std::path::Path, test: bool) -> ServerArgs {
        ServerArgs {
            certs_dir: dir.to_owned(),
            passwd: None,
            require_client_certs: false,
            test,
        }
    }

    #[test]
    fn missing_certs_name_the_fix_and_test_mode_needs_none() {
        let dir = tempfile::tempdir().expect("temp dir");
        let err = args(dir.path(), false)
            .tls_config()
            .expect_err("no certs yet");
        assert!(format!("{err:#}").contains("make-certs"), "{err:#}");
        let err = args(dir.path(), false)
            .auth_service(Sessions::default())
            .expect_err("no passwd yet");
        assert!(format!("{err:#}").contains("add-user"), "{err:#}");
        assert!(args(dir.path(), true)
            .tls_config()
            .expect("test mode")
            .is_none());
    }

    #[test]
    fn a_password_file_without_users_is_refused_unless_test() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("passwd"), "# nobody yet\n").expect("passwd");
        let err = args(dir.path(), false)
            .auth_service(Sessions::default())
            .expect_err("no users");
        assert!(format!("{err:#}").contains("has no users"), "{err:#}");
        args(dir.path(), true)
            .auth_service(Sessions::default())
            .expect("test mode needs no users");
    }

    #[test]
    fn made_certs_and_users_load() {
        let dir = tempfile::tempdir().expect("temp dir");
        security::certs::make_certs(dir.path(), &["localhost".into()], &[], false).expect("certs");
        security::users::add_user(&dir.path().join("passwd"), "alice", "pw").expect("user");
        let a = args(dir.path(), false);
        assert!(a.tls_config().expect("tls").is_some());
        a.auth_service(Sessions::default()).expect("auth");
    }
}
