//! The command line: one subcommand per module.

mod add_user;
mod convert;
mod demo;
mod make_certs;
mod record;
mod serve;
mod synth;

use clap::{Parser, Subcommand};

/// Real-time fMRI analysis machine, plus offline tools for scanner data.
#[derive(Debug, Parser)]
#[command(name = "data_analyser", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
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
    /// Serve the analyser's port (TLS): login and the data link streamers dial.
    Serve(serve::ServeArgs),
    /// Serve, and copy one scanner stream from a streamer into a folder as it arrives.
    Record(record::RecordArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Convert(args) => convert::run(args),
        Command::Synth(args) => synth::run(args),
        Command::Demo(args) => demo::run(args),
        Command::MakeCerts(args) => make_certs::run(args),
        Command::AddUser(args) => add_user::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Record(args) => record::run(args),
    }
}
