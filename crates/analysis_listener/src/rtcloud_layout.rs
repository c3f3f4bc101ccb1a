//! RT-Cloud's subject-service files (`--rtcloud-layout`), beside the listener's own, for
//! presentation scripts written for RT-Cloud:
//!
//! - a number result: `run<R>/classoutput/vol-<R>-<T>.txt` holding the value as Python's
//!   `str(float)` writes it (what RT-Cloud's subjectService wrote);
//! - a result dict: `<name>.json`, the dict (RT-Cloud's `setResultDict(values, delay,
//!   name)`; the Python client puts `name`, default `defaultname`, into the dict).
//!
//! A name that is not a plain file name is refused (logged), never followed out of
//! the folder.

use std::path::{Path, PathBuf};

use crate::output::Delivered;

/// Where RT-Cloud's layout puts `result` under `dir`, and the bytes to write; None
/// when the result has no such file (a dict without a usable name).
pub fn file_for(dir: &Path, result: &Delivered) -> Option<(PathBuf, Vec<u8>)> {
    match &result.value {
        serde_json::Value::Object(values) => {
            let name = values
                .get("name")
                .and_then(|n| n.as_str())
                .unwrap_or("defaultname");
            if !is_plain_name(name) {
                tracing::warn!(
                    name,
                    "result dict name is not a plain file name; no <name>.json written"
                );
                return None;
            }
            let json = serde_json::to_vec(&result.value).unwrap_or_default();
            Some((dir.join(format!("{name}.json")), json))
        }
        value => {
            let text = match value.as_f64() {
                Some(x) => python_float_str(x),
                None => value.to_string(),
            };
            let (run, tr) = (result.run, result.tr);
            let path = dir
                .join(format!("run{run}"))
                .join("classoutput")
                .join(format!("vol-{run}-{tr}.txt"));
            Some((path, text.into_bytes()))
        }
    }
}

fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\', '\0'])
}

/// `x` as Python's `str(float)` (repr) writes it: the shortest text that reads back as
/// `x`, with `.0` on whole numbers, and exponent form (`1e-05`, `1.5e+16`) below 1e-4
/// and from 1e16 on (Python's float_repr_style 'short', format code 'r').
pub fn python_float_str(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // Rust's `{:e}` gives the same shortest digits; its exponent decides the form.
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..16).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let plain = format!("{x}");
    if plain.contains('.') {
        plain
    } else {
        format!("{plain}.0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_read_as_python_writes_them() {
        // Each pair is Python 3's str(float(x)).
        let cases = [
            (0.5, "0.5"),
            (1.0, "1.0"),
            (-2.0, "-2.0"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1.5e16, "1.5e+16"),
            (1e15, "1000000000000000.0"),
            (123456.789, "123456.789"),
            (-3.25e-7, "-3.25e-07"),
            (1e100, "1e+100"),
            (0.0, "0.0"),
        ];
        for (x, python) in cases {
            assert_eq!(python_float_str(x), python, "{x:?}");
        }
    }

    fn delivered(value: serde_json::Value) -> Delivered {
        Delivered {
            seq: 1,
            run: 2,
            tr: 7,
            value,
            onset_delay_ms: 0.0,
            sent_at: 0.0,
            received_at: 0.0,
            shown_at: 0.0,
        }
    }

    #[test]
    fn numbers_go_to_classoutput_and_dicts_to_their_name() {
        let dir = Path::new("/out");
        let (path, bytes) = file_for(dir, &delivered(serde_json::json!(0.25))).expect("a file");
        assert_eq!(path, Path::new("/out/run2/classoutput/vol-2-7.txt"));
        assert_eq!(bytes, b"0.25");
        let dict = serde_json::json!({"name": "faces", "value": 1});
        let (path, bytes) = file_for(dir, &delivered(dict.clone())).expect("a file");
        assert_eq!(path, Path::new("/out/faces.json"));
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&bytes).expect("json"),
            dict
        );
        let unnamed = file_for(dir, &delivered(serde_json::json!({"value": 1}))).expect("a file");
        assert_eq!(unnamed.0, Path::new("/out/defaultname.json"));
        for bad in ["../escape", "/etc/passwd", ".hidden", ""] {
            assert!(
                file_for(dir, &delivered(serde_json::json!({"name": bad}))).is_none(),
                "{bad}"
            );
        }
    }
}
