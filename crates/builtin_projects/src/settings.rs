//! Typed access to a project's TOML settings, with errors that name the field and
//! what it should be.

use std::path::{Path, PathBuf};

use toml::{Table, Value};

use crate::BuiltinError;

/// The settings a launch was given (`--config PATH`).
#[derive(Debug)]
pub struct Settings {
    path: PathBuf,
    table: Table,
}

impl Settings {
    pub fn load(path: &Path) -> Result<Settings, BuiltinError> {
        let text = std::fs::read_to_string(path).map_err(|e| BuiltinError::Settings {
            path: path.to_owned(),
            problem: e.to_string(),
        })?;
        let table = text.parse::<Table>().map_err(|e| BuiltinError::Settings {
            path: path.to_owned(),
            problem: e.to_string(),
        })?;
        Ok(Settings {
            path: path.to_owned(),
            table,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn problem(&self, key: &str, what: &str) -> BuiltinError {
        BuiltinError::Settings {
            path: self.path.clone(),
            problem: format!("{key} {what}"),
        }
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.table.get(key)
    }

    pub fn string(&self, key: &str) -> Result<String, BuiltinError> {
        match self.get(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(self.problem(key, "must be a string")),
            None => Err(self.problem(key, "is missing")),
        }
    }

    pub fn string_or(&self, key: &str, default: &str) -> Result<String, BuiltinError> {
        match self.get(key) {
            None => Ok(default.to_owned()),
            Some(_) => self.string(key),
        }
    }

    pub fn int(&self, key: &str) -> Result<i64, BuiltinError> {
        match self.get(key) {
            Some(Value::Integer(n)) => Ok(*n),
            Some(_) => Err(self.problem(key, "must be a whole number")),
            None => Err(self.problem(key, "is missing")),
        }
    }

    pub fn int_or(&self, key: &str, default: i64) -> Result<i64, BuiltinError> {
        match self.get(key) {
            None => Ok(default),
            Some(_) => self.int(key),
        }
    }

    /// An array of whole numbers (runNum, scanNum).
    pub fn int_list(&self, key: &str) -> Result<Vec<i64>, BuiltinError> {
        let bad = || self.problem(key, "must be an array of whole numbers, e.g. [1, 2]");
        match self.get(key) {
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_integer().ok_or_else(bad))
                .collect(),
            Some(_) => Err(bad()),
            None => Err(self.problem(key, "is missing")),
        }
    }

    /// A count: a whole number >= 0 that fits the platform.
    pub fn count(&self, key: &str) -> Result<u32, BuiltinError> {
        u32::try_from(self.int(key)?).map_err(|_| self.problem(key, "must be a number >= 0"))
    }

    pub fn count_or(&self, key: &str, default: u32) -> Result<u32, BuiltinError> {
        match self.get(key) {
            None => Ok(default),
            Some(_) => self.count(key),
        }
    }

    /// A number; whole numbers are accepted too (`1500` for `1500.0`).
    pub fn float(&self, key: &str) -> Result<f64, BuiltinError> {
        match self.get(key) {
            Some(Value::Float(x)) if x.is_finite() => Ok(*x),
            Some(Value::Integer(n)) => Ok(*n as f64),
            Some(_) => Err(self.problem(key, "must be a finite number")),
            None => Err(self.problem(key, "is missing")),
        }
    }

    pub fn float_or(&self, key: &str, default: f64) -> Result<f64, BuiltinError> {
        match self.get(key) {
            None => Ok(default),
            Some(_) => self.float(key),
        }
    }

    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, BuiltinError> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Boolean(b)) => Ok(*b),
            Some(_) => Err(self.problem(key, "must be true or false")),
        }
    }

    /// A list of numbers, or `default` when absent.
    pub fn float_list_or(&self, key: &str, default: &[f64]) -> Result<Vec<f64>, BuiltinError> {
        let Some(value) = self.get(key) else {
            return Ok(default.to_vec());
        };
        let bad = || self.problem(key, "must be a list of finite numbers");
        value
            .as_array()
            .ok_or_else(bad)?
            .iter()
            .map(|v| match v {
                Value::Float(x) if x.is_finite() => Ok(*x),
                Value::Integer(n) => Ok(*n as f64),
                _ => Err(bad()),
            })
            .collect()
    }

    /// `[[i0, j0, k0], [i1, j1, k1]]`, or None when absent.
    pub fn index_box(&self, key: &str) -> Result<Option<[[usize; 3]; 2]>, BuiltinError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let bad = || {
            self.problem(
                key,
                "must be [[i0, j0, k0], [i1, j1, k1]] (voxel indices >= 0)",
            )
        };
        let corners = value.as_array().filter(|a| a.len() == 2).ok_or_else(bad)?;
        let mut out = [[0usize; 3]; 2];
        for (corner, slot) in corners.iter().zip(out.iter_mut()) {
            let numbers = corner.as_array().filter(|a| a.len() == 3).ok_or_else(bad)?;
            for (n, s) in numbers.iter().zip(slot.iter_mut()) {
                *s = n
                    .as_integer()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(bad)?;
            }
        }
        Ok(Some(out))
    }
}

/// Fills `{NAME}` or `{NAME:0Nd}` in `pattern` with `value` (RT-Cloud's
/// `dicomNamePattern.format(SCAN=13)`), leaving other fields such as `{TR:06d}` alone.
pub fn fill_field(pattern: &str, name: &str, value: i64) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    let open = format!("{{{name}");
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find('}') else { break };
        let spec = &after[..end];
        let formatted = match spec.strip_prefix(':') {
            None if spec.is_empty() => Some(value.to_string()),
            Some(width) => width
                .strip_prefix('0')
                .and_then(|w| w.strip_suffix('d'))
                .and_then(|w| w.parse::<usize>().ok())
                .map(|w| format!("{value:0w$}")),
            None => None,
        };
        match formatted {
            Some(text) => {
                out.push_str(&rest[..start]);
                out.push_str(&text);
            }
            // Not this field after all (e.g. {SCANNER}): keep it as written.
            None => out.push_str(&rest[..start + open.len() + end + 1]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::fill_field;

    #[test]
    fn fills_only_the_named_field() {
        assert_eq!(
            fill_field("001_{SCAN:06d}_{TR:06d}.dcm", "SCAN", 13),
            "001_000013_{TR:06d}.dcm"
        );
        assert_eq!(fill_field("run{SCAN}/{TR:03d}", "SCAN", 2), "run2/{TR:03d}");
        assert_eq!(
            fill_field("{SCANNER}_{SCAN:02d}", "SCAN", 7),
            "{SCANNER}_07"
        );
        assert_eq!(fill_field("no fields", "SCAN", 1), "no fields");
    }
}
