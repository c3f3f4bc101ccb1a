//! Scanner DICOM to volumes, NIfTI and BIDS, and DICOM de-identification.
//!
//! A pure library: bytes in, values out. It never touches the disk or the network;
//! the services read and write files and hand this crate the bytes.

pub mod bids;
pub mod convert;
pub mod csa;
pub mod deid;
pub mod deid_profile;
pub mod dicom;
pub mod enhanced;
pub mod error;
pub mod geometry;
pub mod metadata;
pub mod mosaic;
pub mod nifti_write;
pub mod pixels;
pub mod prescan;
pub mod run;
pub mod slices;
pub mod synth;
pub mod volume;
pub use convert::{convert_series, volume_from_file, Series};

pub use dicom::{parse, DicomFile};
pub use error::{ImagingError, Result};
pub use volume::{Metadata, Scaling, Volume, Voxels};
