//! The analyser's private certificate authority, its server certificate and optional
//! client certificates, made with rcgen. File names are fixed so that every tool finds
//! them in one `certs/` folder:
//!
//! - `ca.crt` (copy this to every streamer and listener) and `ca.key` (never copy),
//! - `server.crt`/`server.key` for the names and addresses clients dial,
//! - `client-NAME.crt`/`.key` for mutual TLS.
//!
//! Keys are written with mode 0600 via temp file + rename. An existing CA is never
//! replaced unless asked (`force`): every client trusts it, so a new one locks them out.
//!
//! Validity: the CA [`CA_VALIDITY`] (10 years), server and client certificates
//! [`LEAF_VALIDITY`] (1 year, as browsers expect), each from a day before it was made
//! (clocks differ). [`renew_server_cert`] (`make-certs --renew`) makes a new server
//! certificate for the names of the current one, signed by the same CA, so clients
//! need nothing new.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};

use x509_parser::extensions::GeneralName;

use crate::fsutil::write_atomic;
use crate::SecurityError;

pub const CA_CERT: &str = "ca.crt";
pub const CA_KEY: &str = "ca.key";
pub const SERVER_CERT: &str = "server.crt";
pub const SERVER_KEY: &str = "server.key";

/// How long the CA is valid.
pub const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// How long server and client certificates are valid (renew with `make-certs --renew`).
pub const LEAF_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
/// Certificates are valid from this long before they are made (clock differences).
const BACKDATE: Duration = Duration::from_secs(24 * 3600);

/// Sets `params` valid from a day ago for `validity`.
fn valid_for(params: &mut CertificateParams, validity: Duration) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - BACKDATE;
    params.not_after = now + validity;
}

/// Writes (or keeps) the CA and writes a fresh server certificate valid for `hosts`
/// (DNS names) and `ips`. An existing CA in `dir` is reused unless `force`, so re-running
/// with more names does not lock out clients. Returns the files written.
pub fn make_certs(
    dir: &Path,
    hosts: &[String],
    ips: &[IpAddr],
    force: bool,
) -> Result<Vec<PathBuf>, SecurityError> {
    if hosts.is_empty() && ips.is_empty() {
        return Err(SecurityError::NoHosts);
    }
    std::fs::create_dir_all(dir).map_err(|e| SecurityError::io("create folder", dir, e))?;
    let mut written = Vec::new();
    let (ca_cert, ca_key) = (dir.join(CA_CERT), dir.join(CA_KEY));
    if force || !(ca_cert.exists() && ca_key.exists()) {
        let key = KeyPair::generate()?;
        let cert = ca_params().self_signed(&key)?;
        write_atomic(&ca_key, key.serialize_pem().as_bytes(), true)?;
        write_atomic(&ca_cert, cert.pem().as_bytes(), false)?;
        written.extend([ca_cert, ca_key]);
    } else {
        tracing::info!(ca = %ca_cert.display(), "keeping the existing certificate authority");
    }
    let issuer = load_issuer(dir)?;

    written.extend(write_server_cert(dir, hosts, ips, &issuer)?);
    Ok(written)
}

/// A new server certificate for the names and addresses of the current
/// `server.crt`, signed by the existing CA (which is kept): `make-certs --renew`.
/// Returns the files written and the names it is valid for.
pub fn renew_server_cert(dir: &Path) -> Result<(Vec<PathBuf>, Vec<String>), SecurityError> {
    let path = dir.join(SERVER_CERT);
    let pem = std::fs::read_to_string(&path).map_err(|e| SecurityError::io("read", &path, e))?;
    let bad = |detail: String| SecurityError::BadPem {
        path: path.clone(),
        what: "server certificate",
        detail,
        fix: "make a new one with `data_analyser make-certs --host NAME --ip ADDR`",
    };
    let (_, block) =
        x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| bad(e.to_string()))?;
    let cert = block.parse_x509().map_err(|e| bad(e.to_string()))?;
    let (mut hosts, mut ips) = (Vec::new(), Vec::new());
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(host) => hosts.push(host.to_string()),
                GeneralName::IPAddress(bytes) => {
                    if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                        ips.push(IpAddr::from(v4));
                    } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                        ips.push(IpAddr::from(v6));
                    }
                }
                _ => {}
            }
        }
    }
    if hosts.is_empty() && ips.is_empty() {
        return Err(SecurityError::NoHosts);
    }
    let issuer = load_issuer(dir)?;
    let written = write_server_cert(dir, &hosts, &ips, &issuer)?;
    let names = hosts
        .into_iter()
        .chain(ips.iter().map(|ip| ip.to_string()))
        .collect();
    Ok((written, names))
}

/// Writes server.crt/.key for `hosts` and `ips`, signed by `issuer`.
fn write_server_cert(
    dir: &Path,
    hosts: &[String],
    ips: &[IpAddr],
    issuer: &Issuer<'static, KeyPair>,
) -> Result<Vec<PathBuf>, SecurityError> {
    let mut params = CertificateParams::new(hosts.to_vec())?;
    params
        .subject_alt_names
        .extend(ips.iter().map(|ip| SanType::IpAddress(*ip)));
    let common_name = hosts
        .first()
        .cloned()
        .or_else(|| ips.first().map(|ip| ip.to_string()))
        .ok_or(SecurityError::NoHosts)?;
    params.distinguished_name = name(&common_name);
    valid_for(&mut params, LEAF_VALIDITY);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, issuer)?;
    let (server_cert, server_key) = (dir.join(SERVER_CERT), dir.join(SERVER_KEY));
    write_atomic(&server_key, key.serialize_pem().as_bytes(), true)?;
    write_atomic(&server_cert, cert.pem().as_bytes(), false)?;
    Ok(vec![server_cert, server_key])
}

/// Writes `client-NAME.crt`/`.key` signed by the CA in `dir`, for `--client-cert` /
/// `--client-key` when the analyser runs with `--require-client-certs`.
pub fn make_client_cert(dir: &Path, client: &str) -> Result<(PathBuf, PathBuf), SecurityError> {
    if client.is_empty()
        || !client
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return Err(SecurityError::BadUserName {
            name: client.to_owned(),
        });
    }
    let issuer = load_issuer(dir)?;
    let mut params = CertificateParams::new(vec![client.to_owned()])?;
    params.distinguished_name = name(client);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    valid_for(&mut params, LEAF_VALIDITY);
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    let cert_path = dir.join(format!("client-{client}.crt"));
    let key_path = dir.join(format!("client-{client}.key"));
    write_atomic(&key_path, key.serialize_pem().as_bytes(), true)?;
    write_atomic(&cert_path, cert.pem().as_bytes(), false)?;
    Ok((cert_path, key_path))
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = name("rtcloud-rs analyser CA");
    // Path length 0: the CA signs server and client certificates, never other CAs.
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    valid_for(&mut params, CA_VALIDITY);
    params
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "rtcloud-rs");
    dn.push(DnType::CommonName, common_name);
    dn
}

/// The CA of `dir` as an rcgen issuer (certificate for its name, key for signing).
fn load_issuer(dir: &Path) -> Result<Issuer<'static, KeyPair>, SecurityError> {
    let (cert_path, key_path) = (dir.join(CA_CERT), dir.join(CA_KEY));
    let cert_pem = std::fs::read_to_string(&cert_path)
        .map_err(|e| SecurityError::io("read", &cert_path, e))?;
    let key_pem =
        std::fs::read_to_string(&key_path).map_err(|e| SecurityError::io("read", &key_path, e))?;
    let key = KeyPair::from_pem(&key_pem).map_err(|e| SecurityError::BadPem {
        path: key_path,
        what: "CA private key",
        detail: e.to_string(),
        fix:
            "make a new CA with `data_analyser make-certs --force` and copy ca.crt to every client",
    })?;
    Issuer::from_ca_cert_pem(&cert_pem, key).map_err(|e| SecurityError::BadPem {
        path: cert_path,
        what: "CA certificate",
        detail: e.to_string(),
        fix:
            "make a new CA with `data_analyser make-certs --force` and copy ca.crt to every client",
    })
}
