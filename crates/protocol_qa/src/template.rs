//! Reference templates and the comparison of a series with one.
//!
//! A template is learned from known-good series the way mrqart does it: per study
//! description and series description, the most common value of each parameter
//! (ties go to the value seen first). Each parameter carries its own tolerance,
//! starting at [`Parameter::default_tolerance`] and editable by hand.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::parameter::{judge, Parameter, Tolerance, Value, Verdict};
use crate::record::AcquisitionRecord;

/// What a template is looked up by: StudyDescription and SeriesDescription (ProtocolName
/// when the series has no SeriesDescription). An unknown one is the empty string.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TemplateKey {
    pub study_description: String,
    pub series_description: String,
}

impl TemplateKey {
    /// The key of a series' record.
    pub fn of(record: &AcquisitionRecord) -> TemplateKey {
        let series = record
            .text(Parameter::SeriesDescription)
            .or_else(|| record.text(Parameter::ProtocolName));
        TemplateKey {
            study_description: record
                .text(Parameter::StudyDescription)
                .unwrap_or("")
                .to_string(),
            series_description: series.unwrap_or("").to_string(),
        }
    }
}

impl std::fmt::Display for TemplateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} / {}",
            self.study_description, self.series_description
        )
    }
}

/// A reference protocol: the expected value and tolerance of each parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub key: TemplateKey,
    /// Expected values; a parameter absent here is unknown in the template (amber).
    pub values: BTreeMap<Parameter, Value>,
    /// Per-parameter tolerance; absent means [`Parameter::default_tolerance`].
    pub tolerances: BTreeMap<Parameter, Tolerance>,
    /// How many series the values were learned from.
    pub learned_from: u32,
}

impl Template {
    /// Learns one template per key from `records`: per parameter the most common value
    /// among the records that know it.
    pub fn learn(records: &[AcquisitionRecord]) -> Vec<Template> {
        let mut groups: BTreeMap<TemplateKey, Vec<&AcquisitionRecord>> = BTreeMap::new();
        for r in records {
            groups.entry(TemplateKey::of(r)).or_default().push(r);
        }
        groups
            .into_iter()
            .map(|(key, group)| {
                let values = Parameter::ALL
                    .into_iter()
                    .filter_map(|p| {
                        most_common(group.iter().filter_map(|r| r.get(p))).map(|v| (p, v))
                    })
                    .collect();
                Template {
                    key,
                    values,
                    tolerances: BTreeMap::new(),
                    learned_from: u32::try_from(group.len()).unwrap_or(u32::MAX),
                }
            })
            .collect()
    }

    pub fn tolerance(&self, p: Parameter) -> Tolerance {
        self.tolerances
            .get(&p)
            .copied()
            .unwrap_or_else(|| p.default_tolerance())
    }

    /// Compares a series' record with this template, parameter by parameter.
    pub fn check(&self, record: &AcquisitionRecord) -> Check {
        let rows = Parameter::ALL
            .into_iter()
            .map(|p| {
                let tolerance = self.tolerance(p);
                let series = record.get(p).cloned();
                let template = self.values.get(&p).cloned();
                ParameterCheck {
                    parameter: p,
                    verdict: judge(tolerance, series.as_ref(), template.as_ref()),
                    tolerance: tolerance.to_string(),
                    series,
                    template,
                }
            })
            .collect();
        Check {
            template: Some(self.key.clone()),
            rows,
        }
    }
}

/// The most common value (first seen wins a tie); values compare by their JSON text.
fn most_common<'a>(values: impl Iterator<Item = &'a Value>) -> Option<Value> {
    let mut counts: Vec<(String, &Value, usize)> = Vec::new();
    for v in values {
        let text = serde_json::to_string(v).unwrap_or_default();
        match counts.iter_mut().find(|(t, _, _)| *t == text) {
            Some(entry) => entry.2 += 1,
            None => counts.push((text, v, 1)),
        }
    }
    let best = counts.iter().map(|c| c.2).max()?;
    counts
        .into_iter()
        .find(|c| c.2 == best)
        .map(|c| c.1.clone())
}

/// One row of a check: the parameter, both values, the tolerance and the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParameterCheck {
    pub parameter: Parameter,
    pub series: Option<Value>,
    pub template: Option<Value>,
    /// The tolerance as text (`exact`, `±0.5`, `overlap±0.005`, `shown`).
    pub tolerance: String,
    pub verdict: Verdict,
}

/// The check of one series: a row per parameter (all amber without a template).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// The template compared with; `None` when no template matched the series' key.
    pub template: Option<TemplateKey>,
    pub rows: Vec<ParameterCheck>,
}

impl Check {
    /// A series without a template: its values, every judged parameter amber.
    pub fn without_template(record: &AcquisitionRecord) -> Check {
        let rows = Parameter::ALL
            .into_iter()
            .map(|p| {
                let tolerance = p.default_tolerance();
                let verdict = if tolerance == Tolerance::Shown {
                    Verdict::Green
                } else {
                    Verdict::Amber
                };
                ParameterCheck {
                    parameter: p,
                    verdict,
                    tolerance: tolerance.to_string(),
                    series: record.get(p).cloned(),
                    template: None,
                }
            })
            .collect();
        Check {
            template: None,
            rows,
        }
    }

    /// The worst verdict of the rows (red if any parameter deviates).
    pub fn verdict(&self) -> Verdict {
        self.rows
            .iter()
            .map(|r| r.verdict)
            .max()
            .unwrap_or(Verdict::Amber)
    }

    /// The parameters with the given verdict.
    pub fn with_verdict(&self, verdict: Verdict) -> Vec<Parameter> {
        self.rows
            .iter()
            .filter(|r| r.verdict == verdict)
            .map(|r| r.parameter)
            .collect()
    }

    /// The check as a text table (parameter, series, template, tolerance, verdict).
    pub fn table(&self) -> String {
        let unknown =
            |v: &Option<Value>| v.as_ref().map_or("unknown".to_string(), Value::to_string);
        let mut lines = vec![(
            "parameter".to_string(),
            "series".to_string(),
            "template".to_string(),
            "tolerance".to_string(),
            "verdict".to_string(),
        )];
        for r in &self.rows {
            lines.push((
                r.parameter.key().to_string(),
                unknown(&r.series),
                unknown(&r.template),
                r.tolerance.clone(),
                r.verdict.as_str().to_string(),
            ));
        }
        let width = |f: fn(&(String, String, String, String, String)) -> &String| {
            lines
                .iter()
                .map(|l| f(l).chars().count())
                .max()
                .unwrap_or(0)
        };
        let (w0, w1, w2, w3) = (
            width(|l| &l.0),
            width(|l| &l.1),
            width(|l| &l.2),
            width(|l| &l.3),
        );
        lines
            .iter()
            .map(|l| {
                format!(
                    "{:w0$}  {:w1$}  {:w2$}  {:w3$}  {}\n",
                    l.0, l.1, l.2, l.3, l.4
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(pairs: &[(Parameter, Value)]) -> AcquisitionRecord {
        AcquisitionRecord {
            values: pairs.iter().cloned().collect(),
        }
    }

    #[test]
    fn learning_takes_the_most_common_value_per_key() {
        let study = (Parameter::StudyDescription, Value::Text("s".into()));
        let series = (Parameter::SeriesDescription, Value::Text("bold".into()));
        let tr = |v: f64| (Parameter::TrMs, Value::Number(v));
        let records = [
            record(&[study.clone(), series.clone(), tr(2000.0)]),
            record(&[study.clone(), series.clone(), tr(1500.0)]),
            record(&[study.clone(), series.clone(), tr(1500.0)]),
            record(&[
                study.clone(),
                (Parameter::SeriesDescription, Value::Text("t1".into())),
                tr(2300.0),
            ]),
        ];
        let templates = Template::learn(&records);
        assert_eq!(templates.len(), 2);
        let bold = templates
            .iter()
            .find(|t| t.key.series_description == "bold")
            .expect("bold");
        assert_eq!(
            bold.values.get(&Parameter::TrMs),
            Some(&Value::Number(1500.0))
        );
        assert_eq!(bold.learned_from, 3);
        let check = bold.check(&records[0]);
        assert_eq!(check.with_verdict(Verdict::Red), vec![Parameter::TrMs]);
        assert_eq!(check.verdict(), Verdict::Red);
        assert!(check.table().contains("unknown"));
    }
}
