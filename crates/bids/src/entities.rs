//! BIDS entities (BIDS 1.9, "Common principles" and Appendix "Entities"): who, when and
//! what a file holds, and the file names and folders they make.
//!
//! Entities come from three sources, in this order of precedence: the stream's
//! arguments, the project's settings, and a BIDS-style (ReproIn) ProtocolName such as
//! `func_ses-01_task-faces_run-01` or `func-bold_task-faces`. [`EntitySource`] holds
//! what one source gives; [`EntitySource::or`] fills the gaps of one from another.

use crate::error::{BidsError, Result};

/// The BIDS datatypes (folder names) this crate writes and reads.
pub const DATATYPES: &[&str] = &["func", "anat", "fmap", "dwi", "perf"];

/// The entities of one run, all checked: labels alphanumeric, run an index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Entities {
    /// `sub-<label>` (required).
    pub subject: String,
    /// `ses-<label>`.
    pub session: Option<String>,
    /// `task-<label>` (required).
    pub task: String,
    /// `acq-<label>`.
    pub acquisition: Option<String>,
    /// `run-<index>`: digits as given ("01" stays "01").
    pub run: Option<String>,
    /// The file's suffix, e.g. `bold` (required).
    pub suffix: String,
    /// The folder under the subject (or session), e.g. `func` (required).
    pub datatype: String,
}

impl Entities {
    /// The file name stem, e.g. `sub-01_ses-01_task-faces_run-01_bold`.
    pub fn stem(&self) -> String {
        format!("{}_{}", self.stem_without_suffix(), self.suffix)
    }

    /// The key-value part of the name, e.g. `sub-01_task-faces_run-01` (the events file
    /// is `<this>_events.tsv`).
    pub fn stem_without_suffix(&self) -> String {
        let mut parts = vec![format!("sub-{}", self.subject)];
        if let Some(s) = &self.session {
            parts.push(format!("ses-{s}"));
        }
        parts.push(format!("task-{}", self.task));
        if let Some(a) = &self.acquisition {
            parts.push(format!("acq-{a}"));
        }
        if let Some(r) = &self.run {
            parts.push(format!("run-{r}"));
        }
        parts.join("_")
    }

    /// The run's folder relative to the dataset root, e.g. `sub-01/ses-01/func`.
    pub fn folder(&self) -> std::path::PathBuf {
        let mut dir = std::path::PathBuf::from(format!("sub-{}", self.subject));
        if let Some(s) = &self.session {
            dir.push(format!("ses-{s}"));
        }
        dir.push(&self.datatype);
        dir
    }

    /// The run number as an integer (for ordering), when there is one.
    pub fn run_index(&self) -> Option<u32> {
        self.run.as_deref().and_then(|r| r.parse().ok())
    }

    /// Parses a BIDS file name (`sub-01_task-x_run-1_bold.nii.gz`) in the folder
    /// `datatype`; `None` when it is not a subject-level image name with subject,
    /// task and suffix, or carries an entity this type does not model (echo, dir ...).
    pub fn from_file_name(name: &str, datatype: &str) -> Option<Entities> {
        let stem = name.split('.').next()?;
        let mut source = EntitySource::default();
        let parts: Vec<&str> = stem.split('_').collect();
        let (suffix, pairs) = parts.split_last()?;
        for pair in pairs {
            let (key, value) = pair.split_once('-')?;
            if matches!(key, "suffix" | "datatype") || !source.set(key, value) {
                return None;
            }
        }
        source.suffix = Some((*suffix).to_string());
        source.datatype = Some(datatype.to_string());
        source.build().ok()
    }
}

/// The entities one source gives (any may be missing); see the module docs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntitySource {
    pub subject: Option<String>,
    pub session: Option<String>,
    pub task: Option<String>,
    pub acquisition: Option<String>,
    pub run: Option<String>,
    pub suffix: Option<String>,
    pub datatype: Option<String>,
}

impl EntitySource {
    /// The entities of a ReproIn-style ProtocolName: a first part naming the datatype
    /// (`func`) or datatype and suffix (`func-bold`), then `key-value` parts (`sub`,
    /// `ses`, `task`, `acq`, `run`; others ignored). A `func` name without a suffix
    /// means `bold`. A name whose first part is not a datatype gives nothing.
    pub fn from_protocol_name(name: &str) -> EntitySource {
        let mut source = EntitySource::default();
        let mut parts = name.trim().split('_');
        let first = parts.next().unwrap_or_default();
        let (datatype, suffix) = match first.split_once('-') {
            Some((d, s)) => (d, Some(s)),
            None => (first, None),
        };
        if !DATATYPES.contains(&datatype) {
            return source;
        }
        source.datatype = Some(datatype.to_string());
        source.suffix = match (suffix, datatype) {
            (Some(s), _) => Some(s.to_string()),
            (None, "func") => Some("bold".to_string()),
            (None, _) => None,
        };
        for part in parts {
            if let Some((key, value)) = part.split_once('-') {
                source.set(key, value);
            }
        }
        source
    }

    /// Sets the entity of BIDS key `key` (`sub`, `ses`, `task`, `acq`, `run`, or the
    /// long names `subject`, `session`, `acquisition`, `suffix`, `datatype`); other keys
    /// are ignored. Returns whether the key was known.
    pub fn set(&mut self, key: &str, value: &str) -> bool {
        let slot = match key {
            "sub" | "subject" => &mut self.subject,
            "ses" | "session" => &mut self.session,
            "task" => &mut self.task,
            "acq" | "acquisition" => &mut self.acquisition,
            "run" => &mut self.run,
            "suffix" => &mut self.suffix,
            "datatype" => &mut self.datatype,
            _ => return false,
        };
        *slot = Some(value.to_string());
        true
    }

    /// This source with its gaps filled from `other` (which has lower precedence).
    pub fn or(self, other: &EntitySource) -> EntitySource {
        let pick = |a: Option<String>, b: &Option<String>| a.or_else(|| b.clone());
        EntitySource {
            subject: pick(self.subject, &other.subject),
            session: pick(self.session, &other.session),
            task: pick(self.task, &other.task),
            acquisition: pick(self.acquisition, &other.acquisition),
            run: pick(self.run, &other.run),
            suffix: pick(self.suffix, &other.suffix),
            datatype: pick(self.datatype, &other.datatype),
        }
    }

    /// The entities of a project's settings (RT-Cloud's names): `subjectName`,
    /// `sessionName`, `taskName`, each made a BIDS label by [`to_label`]; `setting`
    /// gives a setting's value as text.
    pub fn from_settings(setting: impl Fn(&str) -> Option<String>) -> EntitySource {
        let mut source = EntitySource::default();
        for (key, entity) in [
            ("subjectName", "sub"),
            ("taskName", "task"),
            ("sessionName", "ses"),
        ] {
            if let Some(label) = setting(key).map(|v| to_label(&v)).filter(|l| !l.is_empty()) {
                source.set(entity, &label);
            }
        }
        source
    }

    /// This source with its labels made BIDS labels by [`to_label`] (RT-Cloud projects
    /// pass names such as `0219191_faceMatching`); returns what changed, one note each.
    pub fn to_labels(mut self) -> (EntitySource, Vec<String>) {
        let mut notes = Vec::new();
        for (name, slot) in [
            ("subject", &mut self.subject),
            ("session", &mut self.session),
            ("task", &mut self.task),
            ("acquisition", &mut self.acquisition),
        ] {
            if let Some(value) = slot.as_mut() {
                let label = to_label(value);
                if label != *value {
                    notes.push(format!(
                        "{name} {value:?} is not a BIDS label (letters and digits only): using {label:?}"
                    ));
                    *value = label;
                }
            }
        }
        (self, notes)
    }

    /// Checked entities. Errors: [`BidsError::Missing`] naming the first missing
    /// required entity (subject, task, suffix, datatype); [`BidsError::Invalid`] for a
    /// label that is not alphanumeric, a run that is not an index, or an unknown datatype.
    pub fn build(self) -> Result<Entities> {
        let subject = label(
            "subject",
            self.subject.ok_or(BidsError::Missing("subject"))?,
        )?;
        let task = label("task", self.task.ok_or(BidsError::Missing("task"))?)?;
        let suffix = label("suffix", self.suffix.ok_or(BidsError::Missing("suffix"))?)?;
        let datatype = self.datatype.ok_or(BidsError::Missing("datatype"))?;
        if !DATATYPES.contains(&datatype.as_str()) {
            return Err(BidsError::invalid(
                "datatype",
                format!("{datatype:?} is not one of {DATATYPES:?}"),
            ));
        }
        let session = self.session.map(|s| label("session", s)).transpose()?;
        let acquisition = self
            .acquisition
            .map(|s| label("acquisition", s))
            .transpose()?;
        let run = self
            .run
            .map(|r| {
                let ok = !r.is_empty() && r.chars().all(|c| c.is_ascii_digit());
                if ok {
                    Ok(r)
                } else {
                    Err(BidsError::invalid(
                        "run",
                        format!("{r:?} is not an index (digits only)"),
                    ))
                }
            })
            .transpose()?;
        Ok(Entities {
            subject,
            session,
            task,
            acquisition,
            run,
            suffix,
            datatype,
        })
    }
}

/// A value as a BIDS label: letters and digits only (`subject-01` is `subject01`), a
/// leading `sub-` / `ses-` / `task-` dropped (ReproIn/heudiconv do the same).
pub fn to_label(value: &str) -> String {
    let value = ["sub-", "ses-", "task-"]
        .iter()
        .find_map(|p| value.strip_prefix(p))
        .unwrap_or(value);
    value.chars().filter(char::is_ascii_alphanumeric).collect()
}

/// A BIDS label: one or more ASCII letters or digits.
fn label(field: &str, value: String) -> Result<String> {
    if !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(value)
    } else {
        Err(BidsError::invalid(
            field,
            format!("{value:?} is not a BIDS label (letters and digits only)"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_name_gives_datatype_suffix_and_pairs() {
        let s = EntitySource::from_protocol_name("func_ses-01_task-faces_run-01");
        assert_eq!(s.datatype.as_deref(), Some("func"));
        assert_eq!(s.suffix.as_deref(), Some("bold"));
        assert_eq!(s.session.as_deref(), Some("01"));
        assert_eq!(s.task.as_deref(), Some("faces"));
        assert_eq!(s.run.as_deref(), Some("01"));
        assert_eq!(s.subject, None);
        let s = EntitySource::from_protocol_name("anat-T1w_acq-mprage");
        assert_eq!(s.suffix.as_deref(), Some("T1w"));
        assert_eq!(s.acquisition.as_deref(), Some("mprage"));
        assert_eq!(
            EntitySource::from_protocol_name("ep2d_bold_moco"),
            EntitySource::default()
        );
    }

    #[test]
    fn arguments_win_and_missing_ones_are_named() {
        let mut args = EntitySource::default();
        args.set("sub", "01");
        args.set("run", "2");
        let protocol = EntitySource::from_protocol_name("func_task-faces_run-01");
        let e = args.clone().or(&protocol).build().expect("complete");
        assert_eq!(e.stem(), "sub-01_task-faces_run-2_bold");
        assert_eq!(e.folder(), std::path::Path::new("sub-01/func"));
        let missing = EntitySource::default().or(&protocol).build();
        assert!(matches!(missing, Err(BidsError::Missing("subject"))));
        let mut no_task = args.clone();
        no_task.suffix = Some("bold".into());
        no_task.datatype = Some("func".into());
        let err = no_task.build().expect_err("no task");
        assert!(err.to_string().contains("task"), "{err}");
        let mut bad = args.or(&protocol);
        bad.subject = Some("0_1".into());
        let err = bad.build().expect_err("underscore");
        assert!(err.to_string().starts_with("invalid subject"), "{err}");
    }

    #[test]
    fn file_names_parse_back() {
        let e = Entities::from_file_name("sub-01_ses-2_task-rest_run-03_bold.nii.gz", "func")
            .expect("parses");
        assert_eq!(e.session.as_deref(), Some("2"));
        assert_eq!(e.run_index(), Some(3));
        assert_eq!(e.stem(), "sub-01_ses-2_task-rest_run-03_bold");
        assert_eq!(Entities::from_file_name("participants.tsv", "func"), None);
        let echo = Entities::from_file_name("sub-01_task-rest_echo-1_bold.nii", "func");
        assert_eq!(echo, None);
    }
}
