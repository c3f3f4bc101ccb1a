//! Integration tests of the imaging crate, one binary (see ../shared/STYLE.md).

mod nifti;
mod synth;
mod testdata;
