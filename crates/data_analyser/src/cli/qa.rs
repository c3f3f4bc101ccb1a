//! `data_analyser qa`: protocol QA templates (learn, show, set) and the offline check.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use protocol_qa::{Check, Parameter, Template, TemplateKey, Tolerance, Value, Verdict};

use crate::files::collect_inputs;
use crate::qa::store::Store;
use crate::qa::{first_record, series_in};

#[derive(Debug, Args)]
pub struct QaArgs {
    #[command(subcommand)]
    command: QaCommand,
    /// The analyser's sessions folder; the templates are in protocol-qa.sqlite there.
    #[arg(long, value_name = "DIR", default_value = "sessions", global = true)]
    sessions_dir: PathBuf,
}

#[derive(Debug, Subcommand)]
enum QaCommand {
    /// Learn reference templates from known-good series: per study and series
    /// description, the most common value of each parameter (first file of each series).
    Learn {
        /// DICOM folders or session folders, searched recursively.
        #[arg(required = true, value_name = "FOLDER")]
        folders: Vec<PathBuf>,
    },
    /// Print every template: each parameter's expected value and tolerance.
    Show,
    /// Edit one parameter of a template by hand.
    Set {
        /// The template's study description.
        #[arg(long, value_name = "TEXT")]
        study: String,
        /// The template's series description.
        #[arg(long, value_name = "TEXT")]
        series: String,
        /// The parameter (tr_ms, te_ms, flip_angle_deg, matrix, ... as `qa show` lists).
        parameter: Parameter,
        /// The expected value: a number, numbers separated by ',' or text.
        #[arg(long, value_name = "VALUE", conflicts_with = "unknown")]
        value: Option<String>,
        /// Make the expected value unknown (the parameter is then amber).
        #[arg(long)]
        unknown: bool,
        /// exact, shown (never judged), ±N (or +-N) or overlap±N (multi-echo TE).
        #[arg(long, value_name = "TOLERANCE", allow_hyphen_values = true)]
        tolerance: Option<Tolerance>,
    },
    /// Check each series of a folder against its template: a table per series on stdout,
    /// exit status 1 when any parameter deviates (red).
    Check {
        /// A DICOM folder or session folder, searched recursively.
        #[arg(value_name = "FOLDER")]
        folder: PathBuf,
        /// Check against this study description's template instead of the series' own.
        #[arg(long, value_name = "TEXT", requires = "series")]
        study: Option<String>,
        /// Check against this series description's template instead of the series' own.
        #[arg(long, value_name = "TEXT", requires = "study")]
        series: Option<String>,
    },
}

pub fn run(args: QaArgs) -> Result<ExitCode> {
    let mut store = Store::open(&args.sessions_dir)?;
    match args.command {
        QaCommand::Learn { folders } => learn(&mut store, &folders),
        QaCommand::Show => show(&store),
        QaCommand::Set {
            study,
            series,
            parameter,
            value,
            unknown,
            tolerance,
        } => {
            let key = TemplateKey {
                study_description: study,
                series_description: series,
            };
            let value = match (value, unknown) {
                (Some(text), _) => Some(Some(
                    Value::parse_for(parameter, &text).map_err(anyhow::Error::msg)?,
                )),
                (None, true) => Some(None),
                (None, false) => None,
            };
            if value.is_none() && tolerance.is_none() {
                bail!("qa set changes nothing: give --value, --unknown or --tolerance");
            }
            store.set(&key, parameter, value, tolerance)?;
            println!("template {key}: {parameter} updated");
            Ok(ExitCode::SUCCESS)
        }
        QaCommand::Check {
            folder,
            study,
            series,
        } => {
            let forced = study.zip(series).map(|(s, d)| TemplateKey {
                study_description: s,
                series_description: d,
            });
            check(&store, &folder, forced)
        }
    }
}

fn learn(store: &mut Store, folders: &[PathBuf]) -> Result<ExitCode> {
    let files = collect_inputs(folders)?;
    let mut records = Vec::new();
    for (id, files) in series_in(&files) {
        match first_record(&files) {
            Ok(first) => {
                report_skipped(&first.skipped);
                records.push(first.record);
            }
            Err(reasons) => {
                report_skipped(&reasons);
                eprintln!("series {id}: no readable DICOM file, not learned");
            }
        }
    }
    if records.is_empty() {
        bail!("no series with a readable DICOM file under the given folders");
    }
    let templates = Template::learn(&records);
    store.save_learned(&templates)?;
    for t in &templates {
        println!("template {}: learned from {} series", t.key, t.learned_from);
    }
    println!(
        "{} template(s) from {} series saved in {}",
        templates.len(),
        records.len(),
        store.path().display()
    );
    Ok(ExitCode::SUCCESS)
}

fn show(store: &Store) -> Result<ExitCode> {
    let templates = store.list()?;
    if templates.is_empty() {
        println!(
            "no templates in {} (qa learn makes them)",
            store.path().display()
        );
    }
    for t in templates {
        println!(
            "template {} (learned from {} series)",
            t.key, t.learned_from
        );
        for p in Parameter::ALL {
            let value = t
                .values
                .get(&p)
                .map_or("unknown".to_string(), Value::to_string);
            println!("  {:20} {:40} {}", p.key(), value, t.tolerance(p));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn check(store: &Store, folder: &std::path::Path, forced: Option<TemplateKey>) -> Result<ExitCode> {
    let files = collect_inputs(std::slice::from_ref(&folder.to_path_buf()))?;
    let series = series_in(&files);
    if series.is_empty() {
        bail!("no DICOM files under {}", folder.display());
    }
    if let Some(key) = &forced {
        store
            .get(key)?
            .with_context(|| format!("no template {key} (qa show lists them)"))?;
    }
    let mut worst = Verdict::Green;
    for (id, files) in series {
        let first = match first_record(&files) {
            Ok(first) => first,
            Err(reasons) => {
                report_skipped(&reasons);
                println!("series {id}: no readable DICOM file\n");
                worst = Verdict::Red;
                continue;
            }
        };
        report_skipped(&first.skipped);
        let key = forced
            .clone()
            .unwrap_or_else(|| TemplateKey::of(&first.record));
        let check = match store.get(&key)? {
            Some(template) => template.check(&first.record),
            None => Check::without_template(&first.record),
        };
        let verdict = check.verdict();
        let against = check
            .template
            .as_ref()
            .map_or(format!("no template {key}"), |k| format!("template {k}"));
        println!(
            "series {id} (first file {}) against {against}: {}",
            first.file.display(),
            verdict.as_str()
        );
        print!("{}", check.table());
        println!();
        worst = worst.max(verdict);
    }
    Ok(if worst == Verdict::Red {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn report_skipped(reasons: &[String]) {
    for r in reasons {
        eprintln!("unreadable, the next file of the series is used: {r}");
    }
}
