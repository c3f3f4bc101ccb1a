//! What the page shows, as JSON: the settings as typed form fields, the plot's titles
//! and ranges from the settings, and who is connected.

use serde_json::{json, Value};
use toml::Table;

use crate::WebState;

/// One form field per setting: its key, its type (integer, float, string, boolean,
/// array, other) and its value as the form shows it. Nested tables and dates are
/// `other` and shown read-only.
pub(crate) fn settings(table: &Table) -> Vec<Value> {
    table
        .iter()
        .map(|(key, value)| {
            let kind = match value {
                toml::Value::Integer(_) => "integer",
                toml::Value::Float(_) => "float",
                toml::Value::String(_) => "string",
                toml::Value::Boolean(_) => "boolean",
                toml::Value::Array(items) if items.iter().all(is_scalar) => "array",
                _ => "other",
            };
            json!({ "key": key, "kind": kind, "text": text(value) })
        })
        .collect()
}

fn is_scalar(v: &toml::Value) -> bool {
    matches!(
        v,
        toml::Value::Integer(_)
            | toml::Value::Float(_)
            | toml::Value::String(_)
            | toml::Value::Boolean(_)
    )
}

/// A value as typed into the form (`ProjectConfig::set_from_text` reads it back).
fn text(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(items) if items.iter().all(is_scalar) => {
            items.iter().map(text).collect::<Vec<_>>().join(", ")
        }
        other => other.to_string(),
    }
}

/// The plot's title, axis labels and fixed ranges (None: fit the data).
pub(crate) fn plot(table: &Table) -> Value {
    let text = |key: &str| table.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    let number = |key: &str| {
        table
            .get(key)
            .and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
    };
    let range = |low: &str, high: &str| match (number(low), number(high)) {
        (Some(lo), Some(hi)) if hi > lo => json!([lo, hi]),
        _ => Value::Null,
    };
    json!({
        "title": text("plotTitle").or_else(|| text("title")).unwrap_or_default(),
        "x_label": text("plotXLabel").unwrap_or_else(|| "TR".into()),
        "y_label": text("plotYLabel").unwrap_or_default(),
        "x_range": range("plotXRangeLow", "plotXRangeHigh"),
        "y_range": range("plotYRangeLow", "plotYRangeHigh"),
    })
}

/// The settings and plot set-up, as one live message.
pub(crate) fn settings_message(state: &WebState) -> Value {
    let settings = state.controller().settings();
    json!({
        "type": "settings",
        "settings": self::settings(settings.table()),
        "plot": plot(settings.table()),
    })
}

/// The streamers (by station) and listeners, connected or not.
pub(crate) fn connections(state: &WebState) -> Value {
    let streamers: Vec<Value> = state
        .inner
        .streamers
        .list()
        .into_iter()
        .map(|s| {
            json!({
                "station": s.station,
                "connected": s.connected,
                "peer": s.peer,
                "user": s.user,
                "allowed_dirs": s.allowed_dirs,
                "volumes": s.volumes,
            })
        })
        .collect();
    let listeners: Vec<Value> = (state.inner.listeners)()
        .into_iter()
        .map(|(name, connected)| json!({ "name": name, "connected": connected }))
        .collect();
    json!({
        "type": "connections",
        "data_station": state.inner.data_station,
        "streamers": streamers,
        "listeners": listeners,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_keep_their_types_and_plot_ranges_come_from_the_settings() {
        let table: Table = "subjectName = \"s1\"\nrunNum = [1, 2]\nnumTRs = 10\n\
             feedbackMin = 0.5\nanonymize = true\nplotTitle = \"Means\"\n\
             plotYRangeLow = 0\nplotYRangeHigh = 1500\n[nested]\na = 1\n"
            .parse()
            .expect("toml");
        let fields = settings(&table);
        let kind = |key: &str| {
            fields
                .iter()
                .find(|f| f["key"] == key)
                .map(|f| (f["kind"].clone(), f["text"].clone()))
                .expect(key)
        };
        assert_eq!(kind("subjectName"), (json!("string"), json!("s1")));
        assert_eq!(kind("runNum"), (json!("array"), json!("1, 2")));
        assert_eq!(kind("numTRs"), (json!("integer"), json!("10")));
        assert_eq!(kind("feedbackMin"), (json!("float"), json!("0.5")));
        assert_eq!(kind("anonymize"), (json!("boolean"), json!("true")));
        assert_eq!(kind("nested").0, json!("other"));
        let p = plot(&table);
        assert_eq!(p["title"], "Means");
        assert_eq!(p["y_range"], json!([0.0, 1500.0]));
        assert_eq!(p["x_range"], Value::Null);
    }
}
