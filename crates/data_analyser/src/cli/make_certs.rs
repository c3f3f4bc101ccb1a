//! `data_analyser make-certs`: the private CA, the analyser's server certificate and
//! optional client certificates, written into certs/ (see `security::certs`).

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

#[derive(Debug, Args)]
pub struct MakeCertsArgs {
    /// A DNS name streamers and listeners will dial (repeat for several). The server
    /// certificate is valid only for these names and the --ip addresses.
    #[arg(long = "host", value_name = "NAME")]
    pub hosts: Vec<String>,
    /// An IP address clients will dial (repeat for several), e.g. --ip 192.168.2.5.
    #[arg(long = "ip", value_name = "ADDR")]
    pub ips: Vec<IpAddr>,
    /// Folder to write into.
    #[arg(long, value_name = "DIR", default_value = "certs")]
    pub dir: PathBuf,
    /// Also make client-NAME.crt/.key, for analysers run with --require-client-certs
    /// (repeat for several clients). Alone, reuses the existing CA.
    #[arg(long = "client", value_name = "NAME")]
    pub clients: Vec<String>,
    /// Replace an existing CA. Every streamer and listener then needs the new ca.crt.
    #[arg(long)]
    pub force: bool,
    /// Make a new server certificate (valid 1 year) for the names of the current one,
    /// signed by the existing CA: clients need nothing new. Restart the analyser after.
    #[arg(long, conflicts_with_all = ["hosts", "ips", "force"])]
    pub renew: bool,
}

pub fn run(args: MakeCertsArgs) -> Result<()> {
    if args.renew {
        let (written, names) = security::certs::renew_server_cert(&args.dir)
            .context("renewing the server certificate")?;
        for path in written {
            println!("wrote {}", path.display());
        }
        println!(
            "renewed the server certificate for {} (valid 1 year); restart the analyser to use it",
            names.join(", ")
        );
    } else if args.hosts.is_empty() && args.ips.is_empty() && args.clients.is_empty() {
        bail!("nothing to make: pass --host NAME and/or --ip ADDR (the names clients dial), or --client NAME");
    }
    if !args.renew && (!args.hosts.is_empty() || !args.ips.is_empty()) {
        let written = security::certs::make_certs(&args.dir, &args.hosts, &args.ips, args.force)
            .context("making the server certificate")?;
        for path in written {
            println!("wrote {}", path.display());
        }
    }
    for client in &args.clients {
        let (cert, key) = security::certs::make_client_cert(&args.dir, client)
            .with_context(|| format!("making the client certificate for {client}"))?;
        println!("wrote {} and {}", cert.display(), key.display());
    }
    println!(
        "Copy {} to every streamer and listener machine (pass it with --ca). Never copy ca.key.",
        args.dir.join(security::certs::CA_CERT).display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_server_and_client_certificates() {
        let dir = tempfile::tempdir().expect("temp dir");
        let certs = dir.path().join("certs");
        let args = MakeCertsArgs {
            hosts: vec!["localhost".into()],
            ips: vec!["127.0.0.1".parse().expect("ip")],
            dir: certs.clone(),
            clients: vec!["scanner1".into()],
            force: false,
            renew: false,
        };
        run(args).expect("make-certs");
        for name in [
            "ca.crt",
            "ca.key",
            "server.crt",
            "server.key",
            "client-scanner1.crt",
        ] {
            assert!(certs.join(name).is_file(), "{name}");
        }
        let nothing = MakeCertsArgs {
            hosts: vec![],
            ips: vec![],
            dir: certs,
            clients: vec![],
            force: false,
            renew: false,
        };
        assert!(run(nothing)
            .expect_err("nothing asked")
            .to_string()
            .contains("--host"));
    }
}
