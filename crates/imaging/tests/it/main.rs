//! Integration tests of the imaging crate, one binary (see ../shared/STYLE.md).

mod mosaic;
mod deid;
mod nifti;
mod robustness;
mod synth;
mod reference;
mod testdata;
