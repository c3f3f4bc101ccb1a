//! Integration tests of the imaging crate, one binary (see ../shared/STYLE.md).

mod deid;
mod descriptors;
mod faults;
mod header_times;
mod mosaic;
mod nifti;
mod privacy;
mod reference;
mod robustness;
mod sidecars;
mod synth;
mod testdata;
