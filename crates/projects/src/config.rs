//! A project's settings: `conf/NAME.toml`, as RT-Cloud projects have them. Required:
//! `runNum` and `scanNum` (arrays of integers, or of digit strings such as `"01"`) and
//! `subjectName` (a string); the plot
//! fields (`title`, `plotTitle`, `plotXLabel`, `plotYLabel`, `plotXRangeLow/High`,
//! `plotYRangeLow/High`) are optional; everything else is the project's own.
//!
//! Edits (from the web settings page) keep each field's type: a number stays a number,
//! an array of integers stays one. Key order is kept, so a saved file reads like the
//! original.

use std::path::{Path, PathBuf};

use toml::{Table, Value};

use crate::ProjectError;

/// Settings loaded from a file, with the edits made since.
#[derive(Debug, Clone)]
pub struct ProjectConfig {
    path: PathBuf,
    original: Table,
    current: Table,
}

impl ProjectConfig {
    /// Loads and checks `path`.
    pub fn load(path: &Path) -> Result<Self, ProjectError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProjectError::Io {
            path: path.to_owned(),
            source,
        })?;
        let table: Table = text
            .parse()
            .map_err(|e: toml::de::Error| ProjectError::Config {
                path: path.to_owned(),
                problem: e.to_string(),
            })?;
        check(path, &table)?;
        Ok(Self {
            path: path.to_owned(),
            original: table.clone(),
            current: table,
        })
    }

    /// The settings as they are now (file values plus edits).
    pub fn table(&self) -> &Table {
        &self.current
    }

    pub fn runs(&self) -> Vec<i64> {
        int_list(&self.current, "runNum")
    }

    pub fn scans(&self) -> Vec<i64> {
        int_list(&self.current, "scanNum")
    }

    pub fn subject_name(&self) -> &str {
        self.current
            .get("subjectName")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// Sets `key` from text as typed in a form, keeping the field's type: `3` for a
    /// number, `true` for a boolean, `1, 2, 3` or `[1, 2, 3]` for an array. Nothing
    /// changes when the value does not fit.
    pub fn set_from_text(&mut self, key: &str, text: &str) -> Result<(), ProjectError> {
        let old = self
            .current
            .get(key)
            .ok_or_else(|| self.problem(format!("{key} is not a setting of this project")))?;
        let new = parse_like(old, text.trim()).ok_or_else(|| {
            self.problem(format!("{key} must be {}, not {text:?}", describe(old)))
        })?;
        let mut edited = self.current.clone();
        edited.insert(key.to_owned(), new);
        check(&self.path, &edited)?;
        self.current = edited;
        Ok(())
    }

    /// Back to the file's values.
    pub fn reset(&mut self) {
        self.current = self.original.clone();
    }

    /// Writes the current settings to `path` (temp file + rename): what the script
    /// gets as `--config PATH`, and what is kept with the session.
    /// The settings as they are now, as TOML text.
    pub fn to_text(&self) -> String {
        toml::to_string(&self.current).unwrap_or_default()
    }

    pub fn write_to(&self, path: &Path) -> Result<(), ProjectError> {
        let text = toml::to_string(&self.current).map_err(|e| self.problem(e.to_string()))?;
        filestore::write_atomic(path, text.as_bytes()).map_err(|source| ProjectError::Io {
            path: path.to_owned(),
            source,
        })
    }

    fn problem(&self, problem: String) -> ProjectError {
        ProjectError::Config {
            path: self.path.clone(),
            problem,
        }
    }
}

const PLOT_TEXT: [&str; 4] = ["title", "plotTitle", "plotXLabel", "plotYLabel"];
const PLOT_NUMBERS: [&str; 4] = [
    "plotXRangeLow",
    "plotXRangeHigh",
    "plotYRangeLow",
    "plotYRangeHigh",
];

fn check(path: &Path, table: &Table) -> Result<(), ProjectError> {
    let problem = |problem: String| ProjectError::Config {
        path: path.to_owned(),
        problem,
    };
    for key in ["runNum", "scanNum"] {
        match table.get(key) {
            None => {
                return Err(problem(format!(
                    "{key} is missing (an array of integers, e.g. {key} = [1])"
                )))
            }
            Some(Value::Array(items)) if items.iter().all(|v| as_index(v).is_some()) => {}
            Some(other) => {
                return Err(problem(format!(
                    "{key} must be an array of integers, not {}",
                    other.type_str()
                )))
            }
        }
    }
    match table.get("subjectName") {
        Some(Value::String(_)) => {}
        None => return Err(problem("subjectName is missing (a string)".into())),
        Some(other) => {
            return Err(problem(format!(
                "subjectName must be a string, not {}",
                other.type_str()
            )))
        }
    }
    for key in PLOT_TEXT {
        if let Some(v) = table.get(key).filter(|v| !v.is_str()) {
            return Err(problem(format!(
                "{key} must be a string, not {}",
                v.type_str()
            )));
        }
    }
    for key in PLOT_NUMBERS {
        if let Some(v) = table.get(key).filter(|v| !v.is_integer() && !v.is_float()) {
            return Err(problem(format!(
                "{key} must be a number, not {}",
                v.type_str()
            )));
        }
    }
    Ok(())
}

fn int_list(table: &Table, key: &str) -> Vec<i64> {
    table
        .get(key)
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(as_index).collect())
        .unwrap_or_default()
}

/// A run or scan number: an integer, or a string of digits as RT-Cloud's settings
/// sometimes have it (`runNum = ["01"]` in its openNeuroClient project).
fn as_index(value: &Value) -> Option<i64> {
    value.as_integer().or_else(|| {
        value
            .as_str()
            .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
    })
}

/// `text` read as a value of `like`'s type, or None.
fn parse_like(like: &Value, text: &str) -> Option<Value> {
    match like {
        Value::String(_) => Some(Value::String(text.to_owned())),
        Value::Integer(_) => text.parse().ok().map(Value::Integer),
        // An integer typed into a float field is still a float.
        Value::Float(_) => text.parse().ok().map(Value::Float),
        Value::Boolean(_) => text.parse().ok().map(Value::Boolean),
        Value::Array(items) => {
            let inner = text
                .strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .unwrap_or(text);
            let parts = inner.split(',').map(str::trim).filter(|p| !p.is_empty());
            // An empty array keeps no element type: take any scalar.
            let element = items.first().cloned();
            let parsed: Option<Vec<Value>> = parts
                .map(|p| match &element {
                    Some(first) => parse_like(first, p),
                    None => p.parse().ok().map(Value::Integer),
                })
                .collect();
            parsed.map(Value::Array)
        }
        Value::Datetime(_) | Value::Table(_) => None,
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Array(items) => match items.first() {
            Some(first) => format!("a list of {}s", first.type_str()),
            None => "a list".into(),
        },
        Value::Integer(_) => "an integer".into(),
        other => format!("a {}", other.type_str()),
    }
}
