//! `data_analyser convert`: DICOM files or folders to NIfTI (+ BIDS JSON), like dcm2niix.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use imaging::{DicomFile, ImagingError};

use crate::files::{collect_inputs, write_atomic};
use crate::pipeline::{convert_series, ConvertedSeries};

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// DICOM files, or folders searched recursively.
    #[arg(required = true, value_name = "FILE_OR_FOLDER")]
    pub inputs: Vec<PathBuf>,
    /// Output NIfTI file, `.nii` or `.nii.gz`. With several series each gets
    /// `_s<SeriesNumber>` appended to its name.
    #[arg(long, short, value_name = "OUT.nii[.gz]")]
    pub out: PathBuf,
    /// Also write a BIDS JSON sidecar next to each NIfTI file.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ConvertArgs) -> Result<()> {
    let (stem, gz) = split_nifti_name(&args.out)?;
    let paths = collect_inputs(&args.inputs)?;
    let mut files = Vec::new();
    for path in &paths {
        match read_dicom(path) {
            Ok(file) => files.push(file),
            Err(reason) => tracing::warn!("skipped {}: {reason}", path.display()),
        }
    }
    if files.is_empty() {
        bail!(
            "nothing to convert: none of the {} input file(s) is a readable DICOM file",
            paths.len()
        );
    }
    let series = convert_series(files).context("conversion failed")?;
    if series.is_empty() {
        bail!("nothing converted: the DICOM files form no complete series");
    }
    let several = series.len() > 1;
    for (n, s) in series.iter().enumerate() {
        let base = if several {
            let number = s
                .series_number
                .map_or(format!("{}", n + 1), |x| x.to_string());
            format!("{stem}_s{number}")
        } else {
            stem.clone()
        };
        write_series(s, &base, gz, args.json)?;
    }
    Ok(())
}

fn write_series(series: &ConvertedSeries, base: &str, gz: bool, json: bool) -> Result<()> {
    let nii = PathBuf::from(format!("{base}{}", if gz { ".nii.gz" } else { ".nii" }));
    let bytes = series.run.to_nifti(gz).context("building the NIfTI file")?;
    write_atomic(&nii, &bytes)?;
    let shape = series.run.first().voxels.shape();
    tracing::info!(
        "wrote {} ({}x{}x{}x{})",
        nii.display(),
        shape[0],
        shape[1],
        shape[2],
        series.run.len()
    );
    if json {
        let path = PathBuf::from(format!("{base}.json"));
        let mut text = serde_json::to_vec_pretty(&series.run.sidecar())?;
        text.push(b'\n');
        write_atomic(&path, &text)?;
    }
    Ok(())
}

/// Reads and parses one file, or says in words why it cannot be used.
fn read_dicom(path: &Path) -> Result<DicomFile, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read it ({e})"))?;
    imaging::parse(&bytes).map_err(|e| match e {
        ImagingError::Incomplete(detail) => {
            format!("incomplete DICOM file, cut short or still being written ({detail})")
        }
        ImagingError::Invalid(detail) => format!("not a DICOM file we can read ({detail})"),
        ImagingError::Unsupported(detail) => format!("unsupported DICOM ({detail})"),
        other => other.to_string(),
    })
}

/// `out.nii.gz` -> ("out", true); `out.nii` -> ("out", false).
fn split_nifti_name(out: &Path) -> Result<(String, bool)> {
    let text = out.to_string_lossy();
    if let Some(stem) = text.strip_suffix(".nii.gz") {
        Ok((stem.to_string(), true))
    } else if let Some(stem) = text.strip_suffix(".nii") {
        Ok((stem.to_string(), false))
    } else {
        bail!("output {} must end in .nii or .nii.gz", out.display())
    }
}
