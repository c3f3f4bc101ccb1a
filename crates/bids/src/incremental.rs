//! `BidsIncremental`: one volume as a tiny BIDS dataset (RT-Cloud's `BidsIncremental`):
//! the image, its sidecar metadata in BIDS units and its entities.
//!
//! The sidecar starts from `imaging::bids::sidecar` (dcm2niix's fields and units:
//! seconds for RepetitionTime, EchoTime and SliceTiming, degrees for FlipAngle) and
//! keeps only non-identifying fields ([`IDENTIFYING_FIELDS`] are dropped whatever the
//! source). On the wire and on disk an incremental is a NIfTI-1 image plus its JSON
//! sidecar and entities ([`BidsIncremental::to_nifti`], [`BidsIncremental::from_nifti`]).

use imaging::{Volume, Voxels};
use serde_json::{json, Map, Value};

use crate::entities::{Entities, EntitySource};
use crate::error::{BidsError, Result};
use crate::nifti_read::read_nifti;

/// The BIDS version this crate writes (dataset_description.json's BIDSVersion).
pub const BIDS_VERSION: &str = "1.9.0";

/// Sidecar fields that identify a person, a site or a device, or date a scan: never
/// kept in an incremental, whichever source they come from (dcm2niix writes some).
pub const IDENTIFYING_FIELDS: &[&str] = &[
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "PatientAge",
    "PatientWeight",
    "PatientSize",
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "StationName",
    "DeviceSerialNumber",
    "StudyDescription",
    "ProcedureStepDescription",
    "ReferringPhysicianName",
    "PerformingPhysicianName",
    "OperatorsName",
    "StudyID",
    "AccessionNumber",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "AcquisitionDateTime",
    "AcquisitionDate",
    "StudyDate",
    "SeriesDate",
    "ContentDate",
];

/// One volume with its BIDS entities and sidecar metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct BidsIncremental {
    entities: Entities,
    volume: Volume,
    metadata: Map<String, Value>,
}

impl BidsIncremental {
    /// An incremental from a converted scanner volume. Entities: `arguments` first,
    /// then `settings`, then the volume's ProtocolName (see `entities`). Errors:
    /// [`BidsError::Missing`] naming subject, task, suffix, datatype or RepetitionTime
    /// when no source gives it; [`BidsError::Invalid`] for a bad label.
    pub fn from_volume(
        volume: Volume,
        arguments: &EntitySource,
        settings: &EntitySource,
    ) -> Result<Self> {
        let protocol = protocol_entities(&volume);
        let entities = arguments.clone().or(settings).or(&protocol).build()?;
        let metadata = match imaging::bids::sidecar(&volume) {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        Self::new(entities, volume, metadata)
    }

    /// An incremental from its parts. `metadata` is the BIDS sidecar; its
    /// RepetitionTime (seconds, required) and SliceTiming (seconds) become the volume's
    /// TR and slice times, and TaskName is set from the task entity (BIDS 1.9
    /// "Task (including resting state) imaging data" requires it).
    pub fn new(
        entities: Entities,
        mut volume: Volume,
        metadata: Map<String, Value>,
    ) -> Result<Self> {
        let mut metadata: Map<String, Value> = metadata
            .into_iter()
            .filter(|(k, _)| !IDENTIFYING_FIELDS.contains(&k.as_str()))
            .collect();
        let tr = metadata
            .get("RepetitionTime")
            .ok_or(BidsError::Missing("RepetitionTime"))?;
        let tr = tr.as_f64().filter(|t| *t > 0.0).ok_or_else(|| {
            BidsError::invalid(
                "RepetitionTime",
                format!("{tr} is not a positive number of seconds"),
            )
        })?;
        volume.tr_s = Some(tr);
        if let Some(timing) = metadata.get("SliceTiming") {
            let times: Option<Vec<f64>> = timing
                .as_array()
                .and_then(|a| a.iter().map(Value::as_f64).collect());
            volume.slice_timing_s = times.ok_or_else(|| {
                BidsError::invalid("SliceTiming", "not a list of numbers (seconds)")
            })?;
        }
        if entities.datatype == "func" {
            metadata.insert("TaskName".into(), json!(entities.task));
        }
        Ok(BidsIncremental {
            entities,
            volume,
            metadata,
        })
    }

    /// Decodes the wire/disk form: a NIfTI-1 image (`.nii` or `.nii.gz` bytes, 3D or 4D
    /// with one volume) and its sidecar JSON. `max_bytes` bounds the decoded image.
    pub fn from_nifti(
        entities: Entities,
        nifti: &[u8],
        sidecar_json: &[u8],
        max_bytes: usize,
    ) -> Result<Self> {
        let mut image = read_nifti(nifti, max_bytes)?;
        if image.volumes.len() != 1 {
            return Err(BidsError::invalid(
                "image",
                format!("{} volumes, an incremental holds one", image.volumes.len()),
            ));
        }
        let volume = image.volumes.remove(0);
        Self::new(entities, volume, parse_sidecar(sidecar_json)?)
    }

    /// The image as NIfTI-1 bytes (3D; `gz`: gzip-compressed).
    pub fn to_nifti(&self, gz: bool) -> Result<Vec<u8>> {
        Ok(imaging::nifti_write::volume_to_nifti(&self.volume, gz)?)
    }

    /// The sidecar as pretty JSON text.
    pub fn sidecar_json(&self) -> String {
        pretty(&Value::Object(self.metadata.clone()))
    }

    /// The entities (subject, session, task, ...).
    pub fn entities(&self) -> &Entities {
        &self.entities
    }

    /// The volume: stored voxels (shape (nx, ny, nz), NIfTI order), scaling, RAS affine.
    pub fn volume(&self) -> &Volume {
        &self.volume
    }

    /// The stored voxels (RT-Cloud's `imageData`); see [`Volume::real_voxels`] for the
    /// scaled values.
    pub fn image_data(&self) -> &Voxels {
        &self.volume.voxels
    }

    /// The sidecar metadata (BIDS names and units).
    pub fn metadata(&self) -> &Map<String, Value> {
        &self.metadata
    }

    /// The volume, entities and metadata, taken apart.
    pub fn into_parts(self) -> (Entities, Volume, Map<String, Value>) {
        (self.entities, self.volume, self.metadata)
    }
}

/// The entities the volume's ProtocolName gives (ReproIn style, see
/// [`EntitySource::from_protocol_name`]); none when it has no ProtocolName.
pub fn protocol_entities(volume: &Volume) -> EntitySource {
    volume
        .meta
        .protocol_name
        .as_deref()
        .map(EntitySource::from_protocol_name)
        .unwrap_or_default()
}

/// A sidecar's JSON object; anything else is an error naming the sidecar.
pub fn parse_sidecar(bytes: &[u8]) -> Result<Map<String, Value>> {
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(BidsError::invalid("sidecar", "not a JSON object")),
        Err(e) => Err(BidsError::invalid("sidecar", format!("not JSON: {e}"))),
    }
}

/// JSON as the files of a dataset hold it: pretty, with a final newline.
pub(crate) fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use imaging::synth::{Synth, SynthSpec};

    /// Volume `index` of the default synthetic run, converted by the imaging crate.
    pub(crate) fn synthetic(index: usize) -> Volume {
        let synth = Synth::new(SynthSpec::default()).expect("default spec");
        let file = synth.file(index).expect("synthetic DICOM");
        imaging::volume_from_file(&file.bytes).expect("synthetic volume")
    }

    pub(crate) fn arguments() -> EntitySource {
        let mut a = EntitySource::default();
        a.set("sub", "01");
        a.set("task", "faces");
        a.set("datatype", "func");
        a.set("suffix", "bold");
        a
    }

    #[test]
    fn a_scanner_volume_becomes_an_incremental_with_bids_metadata() {
        let volume = synthetic(0);
        let inc =
            BidsIncremental::from_volume(volume.clone(), &arguments(), &EntitySource::default())
                .expect("complete");
        assert_eq!(inc.entities().stem(), "sub-01_task-faces_bold");
        assert_eq!(inc.metadata()["RepetitionTime"], json!(2));
        assert_eq!(inc.metadata()["TaskName"], json!("faces"));
        assert_eq!(inc.image_data(), &volume.voxels);
        for key in IDENTIFYING_FIELDS {
            assert!(!inc.metadata().contains_key(*key), "{key}");
        }
        // The wire form comes back equal.
        for gz in [false, true] {
            let nifti = inc.to_nifti(gz).expect("writes");
            let back = BidsIncremental::from_nifti(
                inc.entities().clone(),
                &nifti,
                inc.sidecar_json().as_bytes(),
                1 << 30,
            )
            .expect("reads");
            assert_eq!(back.image_data(), inc.image_data());
            assert_eq!(back.metadata(), inc.metadata());
        }
    }

    #[test]
    fn missing_required_fields_are_named() {
        let mut no_subject = arguments();
        no_subject.subject = None;
        let err = BidsIncremental::from_volume(synthetic(0), &no_subject, &EntitySource::default())
            .expect_err("no subject");
        assert!(err.to_string().contains("requires subject"), "{err}");
        let inc =
            BidsIncremental::from_volume(synthetic(0), &arguments(), &EntitySource::default())
                .expect("complete");
        let (entities, volume, mut metadata) = inc.into_parts();
        metadata.remove("RepetitionTime");
        let err = BidsIncremental::new(entities, volume, metadata).expect_err("no TR");
        assert!(err.to_string().contains("requires RepetitionTime"), "{err}");
    }

    #[test]
    fn settings_fill_what_the_arguments_leave_out() {
        let mut args = EntitySource::default();
        args.set("sub", "02");
        let mut settings = EntitySource::default();
        settings.set("sub", "99");
        settings.set("ses", "01");
        let mut volume = synthetic(0);
        volume.meta.protocol_name = Some("func_task-faces_run-03".into());
        let inc = BidsIncremental::from_volume(volume, &args, &settings).expect("complete");
        assert_eq!(
            inc.entities().stem(),
            "sub-02_ses-01_task-faces_run-03_bold"
        );
    }
}
