//! `data_analyser add-user`: adds a user (or changes a password) in certs/passwd, as an
//! argon2id hash (see `security::users`). The running analyser picks it up at once.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

#[derive(Debug, Args)]
pub struct AddUserArgs {
    /// The user name (letters, digits, '.', '_', '-', '@').
    #[arg(long = "user", short = 'u', value_name = "NAME")]
    pub user: String,
    /// Read the password from the first line of standard input instead of asking on
    /// the terminal (for scripts: `echo "$PW" | data_analyser add-user -u NAME --password-stdin`).
    #[arg(long)]
    pub password_stdin: bool,
    /// The password file.
    #[arg(long, value_name = "FILE", default_value = "certs/passwd")]
    pub passwd: PathBuf,
    /// What the user may log in as: streamer, listener, experimenter (the web page),
    /// comma separated. Not given: a new user may be all three, an existing one keeps
    /// what it had.
    #[arg(long, value_name = "ROLES")]
    pub roles: Option<String>,
    /// The station names this user's data_streamer may claim (--station), comma
    /// separated. Not given: any station (new users), or what it had (existing ones).
    #[arg(long, value_name = "NAMES")]
    pub stations: Option<String>,
}

pub fn run(args: AddUserArgs) -> Result<()> {
    run_with(args, std::io::stdin().lock())
}

/// `run`, reading `--password-stdin` from `input` (tests pass a byte slice).
fn run_with(args: AddUserArgs, mut input: impl BufRead) -> Result<()> {
    security::users::check_user_name(&args.user)?;
    let grants = grants(&args)?;
    let password = if args.password_stdin {
        let mut line = String::new();
        input
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("New password for {}: ", args.user))?;
        let again = rpassword::prompt_password("Same password again: ")?;
        if first != again {
            bail!("the two passwords differ; nothing was changed");
        }
        first
    } else {
        bail!(
            "standard input is not a terminal: pass --password-stdin to read the password from it"
        );
    };
    let existed = security::users::add_user_with(&args.passwd, &args.user, &password, grants)
        .with_context(|| format!("updating {}", args.passwd.display()))?;
    let what = if existed {
        "changed the password of"
    } else {
        "added"
    };
    println!("{what} user {} in {}", args.user, args.passwd.display());
    Ok(())
}

/// The `roles=`/`stations=` asked for, if any (checked like the file's own fields).
fn grants(args: &AddUserArgs) -> Result<Option<security::users::Grants>> {
    if args.roles.is_none() && args.stations.is_none() {
        return Ok(None);
    }
    let mut fields = String::new();
    if let Some(roles) = &args.roles {
        fields.push_str(&format!("roles={roles} "));
    }
    if let Some(stations) = &args.stations {
        fields.push_str(&format!("stations={stations}"));
    }
    security::users::Grants::parse(&fields)
        .map(Some)
        .map_err(|e| anyhow::anyhow!("--roles/--stations: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_from_stdin_is_stored_hashed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let passwd = dir.path().join("certs/passwd");
        let args = |user: &str| AddUserArgs {
            user: user.into(),
            password_stdin: true,
            passwd: passwd.clone(),
            roles: None,
            stations: None,
        };
        run_with(args("alice"), &b"s3cret\n"[..]).expect("add");
        let file = security::users::PasswordFile::load(&passwd).expect("load");
        assert!(
            file.verify("alice", "s3cret"),
            "the newline is not part of the password"
        );
        let err = run_with(args("al:ice"), &b"x\n"[..]).expect_err("bad name");
        assert!(err.to_string().contains("al:ice"), "{err}");
        let err = run_with(args("bob"), &b"\n"[..]).expect_err("empty password");
        assert!(format!("{err:#}").contains("empty"), "{err:#}");
    }
}
