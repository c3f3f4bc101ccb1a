//! BIDS for real-time fMRI (BIDS 1.9, <https://bids-specification.readthedocs.io>):
//! RT-Cloud's `BidsIncremental` (one volume with its entities and sidecar metadata),
//! `BidsRun` (volumes appended in order, one 4D image) and `BidsArchive` (a dataset on
//! disk: list, read and append runs atomically).
//!
//! Pure except [`archive`]: images and sidecars come from the `imaging` crate (voxels
//! identical to dcm2niix's NIfTI, metadata in BIDS units), and only `archive` reads or
//! writes files.

pub mod archive;
pub mod entities;
pub mod error;
pub mod events;
pub mod incremental;
pub mod nifti_read;
pub mod run;

pub use archive::BidsArchive;
pub use entities::{Entities, EntitySource};
pub use error::{BidsError, Result};
pub use incremental::BidsIncremental;
pub use run::{BidsRun, CheckedRun};
