//! Scanner protocol QA (issue 12): is this series acquired with the study's protocol?
//!
//! - [`record`]: the acquisition parameters of a series from its first DICOM file
//!   (standard attributes, else the Siemens CSA headers and ASCCONV protocol, else the
//!   GE/Philips private equivalents). A parameter the file lacks is unknown, never an
//!   error: real-time exports often lack some.
//! - [`parameter`]: the parameters, their values and units, per-parameter tolerances and
//!   the green/amber/red verdict of one parameter.
//! - [`template`]: reference templates learned from known-good series (the most common
//!   value of each parameter per study and series description, as mrqart does) and the
//!   comparison of a series with one.
//! - [`names`]: which series a scanner file belongs to, from its name alone.
//!
//! Pure like `imaging`: bytes in, values out. Storage (the SQLite template store) and
//! the live detection live in `data_analyser`.

pub mod names;
pub mod parameter;
pub mod record;
pub mod template;

pub use parameter::{Parameter, Tolerance, Value, Verdict};
pub use record::{AcquisitionRecord, RecordError};
pub use template::{Check, ParameterCheck, Template, TemplateKey};
