//! The realtime crate's integration tests: accuracy against ground truth the tests
//! build (real EPI moved by known transforms, the synthetic scanner's motion), against
//! SimpleITK, and the quality of ROI feedback and the GLM t-map.

mod common;
mod feedback;
mod real_epi;
mod simpleitk;
mod sitk_runner;
mod synth_motion;
