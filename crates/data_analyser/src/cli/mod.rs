//! The command line: with no subcommand the analyser's service (a project), otherwise
//! one tool per subcommand.

mod add_user;
mod builtin;
mod convert;
mod demo;
mod make_certs;
mod project;
mod qa;
mod record;
mod synth;

use clap::{Parser, Subcommand};

/// Real-time fMRI analysis machine: runs a project on volumes as the scanner writes
/// them, plus tools for certificates, users and scanner data.
///
/// Service: data_analyser --projects DIR --project NAME [--data-remote] [--subject-remote]
///
/// It serves one port (default 8888, TLS): the web page for the experimenter and the
/// link that data_streamer and analysis_listener dial. The project's script runs on Run
/// (or at once with --run-on-start) and reaches the analyser through the project API on
/// 127.0.0.1 (RTCLOUD_API and RTCLOUD_TOKEN in its environment).
///
/// Example: data_analyser --projects projects --project sample_py --data-remote
#[derive(Debug, Parser)]
#[command(
    name = "data_analyser",
    version,
    about,
    long_about,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    project: project::ProjectArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Convert scanner DICOM files or folders to NIfTI (+ BIDS JSON sidecar), like dcm2niix.
    Convert(convert::ConvertArgs),
    /// Write a synthetic Siemens mosaic fMRI run and its ground truth.
    Synth(synth::SynthArgs),
    /// Run the whole pipeline locally on synthetic data, volume by volume as in real time.
    Demo(demo::DemoArgs),
    /// Make the private CA and the server certificate (and client certificates) in certs/.
    MakeCerts(make_certs::MakeCertsArgs),
    /// Add a user, or change a password, in certs/passwd (argon2id).
    AddUser(add_user::AddUserArgs),
    /// Serve, and copy one scanner stream from a streamer into a folder as it arrives.
    Record(record::RecordArgs),
    /// Protocol QA: learn, show and edit reference templates, check series offline.
    Qa(qa::QaArgs),
    /// Run a built-in project (the analyser starts this itself).
    #[command(hide = true)]
    Builtin(builtin::BuiltinArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    let done = match cli.command {
        None => project::run(cli.project),
        Some(Command::Convert(args)) => convert::run(args),
        Some(Command::Synth(args)) => synth::run(args),
        Some(Command::Demo(args)) => demo::run(args),
        Some(Command::MakeCerts(args)) => make_certs::run(args),
        Some(Command::AddUser(args)) => add_user::run(args),
        Some(Command::Record(args)) => record::run(args),
        // `qa check` exits 1 on deviations, like a failing test.
        Some(Command::Qa(args)) => return qa::run(args),
        Some(Command::Builtin(args)) => builtin::run(args),
    };
    done.map(|()| std::process::ExitCode::SUCCESS)
}
