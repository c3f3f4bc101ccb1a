//! Scanner DICOM to volumes, NIfTI and BIDS, and DICOM de-identification.
//!
//! A pure library: bytes in, values out. It never touches the disk or the network;
//! the services read and write files and hand this crate the bytes.

pub mod deid; pub mod deid_profile;
pub mod dicom;
pub mod error;
pub mod geometry;
pub mod prescan;
pub mod csa; pub mod mosaic; pub mod pixels;
pub mod bids; pub mod metadata; pub mod nifti_write; pub mod run;
pub mod synth;
pub mod volume;
pub mod slices; pub mod enhanced; pub mod convert; pub use convert::{convert_series, volume_from_file, Series};

pub use dicom::{parse, DicomFile};
pub use error::{ImagingError, Result};
pub use volume::{Metadata, Volume, Voxels};
