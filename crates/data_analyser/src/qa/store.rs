//! The protocol QA template store: an embedded SQLite database (rusqlite, bundled, so no
//! system library is needed) in the analyser's sessions folder.
//!
//! Two tables: `template` (one row per study and series description, with how many
//! series it was learned from) and `template_value` (per parameter the expected value as
//! JSON, NULL when unknown, and a tolerance set by hand, NULL for the default). Learning
//! again replaces the values and keeps the hand-set tolerances.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use protocol_qa::{Parameter, Template, TemplateKey, Tolerance, Value};
use rusqlite::{params, Connection, OptionalExtension};

/// The database file inside the sessions folder.
pub const FILE_NAME: &str = "protocol-qa.sqlite";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS template (
    id INTEGER PRIMARY KEY,
    study_description TEXT NOT NULL,
    series_description TEXT NOT NULL,
    learned_from INTEGER NOT NULL,
    UNIQUE (study_description, series_description)
);
CREATE TABLE IF NOT EXISTS template_value (
    template_id INTEGER NOT NULL REFERENCES template (id) ON DELETE CASCADE,
    parameter TEXT NOT NULL,
    value TEXT,
    tolerance TEXT,
    PRIMARY KEY (template_id, parameter)
);
";

/// An open template store.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating it and its folder if needed) the store of `sessions_dir`.
    pub fn open(sessions_dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(sessions_dir)
            .with_context(|| format!("cannot create {}", sessions_dir.display()))?;
        let path = sessions_dir.join(FILE_NAME);
        let conn = Connection::open(&path)
            .with_context(|| format!("cannot open the QA template store {}", path.display()))?;
        conn.execute_batch(&format!("PRAGMA foreign_keys = ON; {SCHEMA}"))
            .with_context(|| format!("{} is not a QA template store", path.display()))?;
        Ok(Store { conn, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Saves learned templates in one transaction: values replaced, hand-set
    /// tolerances kept.
    pub fn save_learned(&mut self, templates: &[Template]) -> Result<()> {
        let tx = self.conn.transaction()?;
        for t in templates {
            tx.execute(
                "INSERT INTO template (study_description, series_description, learned_from)
                 VALUES (?1, ?2, ?3)
                 ON CONFLICT (study_description, series_description)
                 DO UPDATE SET learned_from = excluded.learned_from",
                params![
                    t.key.study_description,
                    t.key.series_description,
                    t.learned_from
                ],
            )?;
            let id: i64 = tx.query_row(
                "SELECT id FROM template WHERE study_description = ?1 AND series_description = ?2",
                params![t.key.study_description, t.key.series_description],
                |row| row.get(0),
            )?;
            for p in Parameter::ALL {
                let value = t.values.get(&p).map(serde_json::to_string).transpose()?;
                tx.execute(
                    "INSERT INTO template_value (template_id, parameter, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (template_id, parameter) DO UPDATE SET value = excluded.value",
                    params![id, p.key(), value],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The template of `key`, if one was learned or set.
    pub fn get(&self, key: &TemplateKey) -> Result<Option<Template>> {
        let row = self
            .conn
            .query_row(
                "SELECT id, learned_from FROM template
                 WHERE study_description = ?1 AND series_description = ?2",
                params![key.study_description, key.series_description],
                |row| Ok((row.get::<_, i64>(0)?, row.get::<_, u32>(1)?)),
            )
            .optional()?;
        row.map(|(id, learned_from)| self.load(id, key.clone(), learned_from))
            .transpose()
    }

    /// Every template, by study then series description.
    pub fn list(&self) -> Result<Vec<Template>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, study_description, series_description, learned_from FROM template
             ORDER BY study_description, series_description",
        )?;
        let rows = stmt
            .query_map([], |row| {
                let key = TemplateKey {
                    study_description: row.get(1)?,
                    series_description: row.get(2)?,
                };
                Ok((row.get::<_, i64>(0)?, key, row.get::<_, u32>(3)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(id, key, learned_from)| self.load(id, key, learned_from))
            .collect()
    }

    /// Edits one parameter of a template by hand (creating the template if needed):
    /// `value` Some(None) makes it unknown, `tolerance` replaces its tolerance.
    pub fn set(
        &mut self,
        key: &TemplateKey,
        parameter: Parameter,
        value: Option<Option<Value>>,
        tolerance: Option<Tolerance>,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO template (study_description, series_description, learned_from)
             VALUES (?1, ?2, 0) ON CONFLICT DO NOTHING",
            params![key.study_description, key.series_description],
        )?;
        let id: i64 = tx.query_row(
            "SELECT id FROM template WHERE study_description = ?1 AND series_description = ?2",
            params![key.study_description, key.series_description],
            |row| row.get(0),
        )?;
        tx.execute(
            "INSERT INTO template_value (template_id, parameter) VALUES (?1, ?2)
             ON CONFLICT DO NOTHING",
            params![id, parameter.key()],
        )?;
        if let Some(value) = value {
            let json = value.map(|v| serde_json::to_string(&v)).transpose()?;
            tx.execute(
                "UPDATE template_value SET value = ?3 WHERE template_id = ?1 AND parameter = ?2",
                params![id, parameter.key(), json],
            )?;
        }
        if let Some(tolerance) = tolerance {
            tx.execute(
                "UPDATE template_value SET tolerance = ?3 WHERE template_id = ?1 AND parameter = ?2",
                params![id, parameter.key(), tolerance.to_string()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn load(&self, id: i64, key: TemplateKey, learned_from: u32) -> Result<Template> {
        let mut stmt = self.conn.prepare(
            "SELECT parameter, value, tolerance FROM template_value WHERE template_id = ?1",
        )?;
        let rows = stmt
            .query_map([id], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, Option<String>>(1)?,
                    row.get::<_, Option<String>>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut values = BTreeMap::new();
        let mut tolerances = BTreeMap::new();
        for (name, value, tolerance) in rows {
            // A parameter this version does not know (a newer store) is skipped.
            let Ok(p) = name.parse::<Parameter>() else {
                continue;
            };
            if let Some(json) = value {
                let v: Value = serde_json::from_str(&json)
                    .with_context(|| format!("template {key}: {name} holds {json:?}"))?;
                values.insert(p, v);
            }
            if let Some(text) = tolerance {
                let t = text
                    .parse::<Tolerance>()
                    .map_err(|e| anyhow::anyhow!("template {key}: {name}: {e}"))?;
                tolerances.insert(p, t);
            }
        }
        Ok(Template {
            key,
            values,
            tolerances,
            learned_from,
        })
    }
}
