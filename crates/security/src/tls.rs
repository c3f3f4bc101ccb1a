//! rustls configurations for both ends of a connection, built from the files that
//! `certs::make_certs` writes. The analyser presents `server.crt` and may demand client
//! certificates signed by `ca.crt`; clients trust only the CA file they were given (never
//! the system roots: the analyser's CA is private).
//!
//! This module reads files and builds configs; it never opens a socket.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::certs::{CA_CERT, SERVER_CERT, SERVER_KEY};
use crate::SecurityError;

/// ALPN protocols offered by the analyser: gRPC needs h2, browsers may use either.
const SERVER_ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// One crypto provider for the whole process, chosen explicitly so that no other
/// dependency's rustls feature can change it behind our back.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads every certificate of a PEM file (a chain: leaf first).
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, SecurityError> {
    let bytes = std::fs::read(path).map_err(|e| SecurityError::io("read", path, e))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SecurityError::BadPem {
            path: path.to_owned(),
            what: "PEM certificate file",
            detail: e.to_string(),
            fix: "copy it again from the analyser's certs/ folder",
        })?;
    if certs.is_empty() {
        return Err(SecurityError::MissingPem {
            path: path.to_owned(),
            what: "certificate",
            fix: "pass a .crt file written by `data_analyser make-certs`",
        });
    }
    Ok(certs)
}

/// Reads the private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, SecurityError> {
    let bytes = std::fs::read(path).map_err(|e| SecurityError::io("read", path, e))?;
    crate::fsutil::warn_if_readable_by_others(path);
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => SecurityError::MissingPem {
            path: path.to_owned(),
            what: "private key",
            fix: "pass the .key file written next to the certificate by `data_analyser make-certs`",
        },
        other => SecurityError::BadPem {
            path: path.to_owned(),
            what: "PEM private key",
            detail: other.to_string(),
            fix: "make the key again with `data_analyser make-certs`",
        },
    })
}

/// A root store holding only the certificates of `ca_file`.
pub fn load_roots(ca_file: &Path) -> Result<RootCertStore, SecurityError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(ca_file)? {
        roots.add(cert).map_err(|source| SecurityError::Tls {
            path: ca_file.to_owned(),
            source,
        })?;
    }
    Ok(roots)
}

/// The analyser's TLS config from `certs_dir` (server.crt, server.key and, when
/// `require_client_certs`, ca.crt to check client certificates against).
pub fn server_config(
    certs_dir: &Path,
    require_client_certs: bool,
) -> Result<Arc<ServerConfig>, SecurityError> {
    let cert_path = certs_dir.join(SERVER_CERT);
    let certs = load_certs(&cert_path)?;
    let key = load_key(&certs_dir.join(SERVER_KEY))?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|source| SecurityError::Tls {
            path: cert_path.clone(),
            source,
        })?;
    let builder = if require_client_certs {
        let ca_path = certs_dir.join(CA_CERT);
        let roots = Arc::new(load_roots(&ca_path)?);
        let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider())
            .build()
            .map_err(|e| SecurityError::ClientVerifier {
                path: ca_path,
                detail: e.to_string(),
            })?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|source| SecurityError::Tls {
            path: cert_path,
            source,
        })?;
    config.alpn_protocols = SERVER_ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// A client's TLS config: trust only `ca_file`; present `identity` = (cert, key) when
/// the analyser requires client certificates. Offers only h2 (gRPC).
pub fn client_config(
    ca_file: &Path,
    identity: Option<(&Path, &Path)>,
) -> Result<Arc<ClientConfig>, SecurityError> {
    let roots = load_roots(ca_file)?;
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|source| SecurityError::Tls {
            path: ca_file.to_owned(),
            source,
        })?
        .with_root_certificates(roots);
    let mut config = match identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(load_certs(cert)?, load_key(key)?)
            .map_err(|source| SecurityError::Tls {
                path: cert.to_owned(),
                source,
            })?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}
