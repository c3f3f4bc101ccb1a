//! An incremental general linear model, updated every TR without refitting.
//!
//! The design is known for the whole run in advance (task timing, run length) except
//! for the columns measured as the run goes (motion parameters, white-matter and CSF
//! means), so each TR appends one design row. The model keeps the sufficient
//! statistics: the Cholesky factor of `XᵀX` (updated with a rank-one update per TR,
//! nalgebra's `Cholesky::rank_one_update`), `Xᵀy` and `yᵀy` per series (voxel or
//! ROI). Betas, t-values and residual variance follow from those at any TR, as in the
//! cumulative GLM of OpenNFT and Turbo-BrainVoyager. A tiny ridge (`RIDGE` · I) keeps
//! the factor defined before there are as many TRs as columns.

use nalgebra::{Cholesky, DMatrix, DVector, Dyn};
use serde::{Deserialize, Serialize};

use crate::hrf::task_regressor;
use crate::rigid::RigidParams;
use crate::{RealtimeError, Result};

/// Ridge added to `XᵀX` so the factor exists from the first TR; small against any
/// regressor's sum of squares after a few TRs (regressors are of order 1).
const RIDGE: f64 = 1e-6;

/// Slow drift terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Drift {
    None,
    /// SPM's discrete cosine set up to the high-pass cutoff (spm_dctmtx with
    /// `fix(2 N TR / cutoff)` terms, the constant excluded), amplitude 1.
    Cosine {
        cutoff_s: f64,
    },
    /// Legendre polynomials of degree 1..=degree over the run mapped to [-1, 1].
    Polynomial {
        degree: usize,
    },
}

/// One task condition: onsets and durations in seconds from the first volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    pub name: String,
    pub onsets_s: Vec<f64>,
    pub durations_s: Vec<f64>,
}

/// What goes into the design matrix. Column order: intercept, conditions, drift,
/// motion `[tx ty tz rx ry rz]` (mm, degrees), their backward differences, then the
/// tissue signals (e.g. white matter, CSF).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesignSpec {
    pub tr_s: f64,
    /// TRs in the run (needed in advance for the drift basis).
    pub volumes: usize,
    pub conditions: Vec<Condition>,
    pub drift: Drift,
    pub motion: bool,
    pub motion_derivatives: bool,
    /// Number of tissue mean signals given per TR (0, or 2 for WM and CSF); pass them
    /// as fractional change from their first TR so they are of order 1e-2.
    pub tissue_signals: usize,
}

/// The design's fixed columns, precomputed, and the layout of the measured ones.
#[derive(Debug, Clone)]
pub struct Design {
    spec: DesignSpec,
    /// Intercept, conditions and drift for every TR, row-major (volumes x fixed).
    fixed: Vec<f64>,
    fixed_columns: usize,
    names: Vec<String>,
    previous_motion: Option<[f64; 6]>,
}

impl Design {
    pub fn new(spec: DesignSpec) -> Result<Design> {
        if spec.volumes == 0 || spec.tr_s.is_nan() || spec.tr_s <= 0.0 {
            return Err(RealtimeError::Invalid(format!(
                "a design needs volumes > 0 and TR > 0 s (got {} volumes, TR {} s)",
                spec.volumes, spec.tr_s
            )));
        }
        let n = spec.volumes;
        let mut columns: Vec<(String, Vec<f64>)> = vec![("intercept".into(), vec![1.0; n])];
        for c in &spec.conditions {
            columns.push((
                c.name.clone(),
                task_regressor(&c.onsets_s, &c.durations_s, spec.tr_s, n),
            ));
        }
        match spec.drift {
            Drift::None => {}
            Drift::Cosine { cutoff_s } => {
                let terms = (2.0 * n as f64 * spec.tr_s / cutoff_s.max(spec.tr_s)).floor() as usize;
                for k in 1..=terms.min(n.saturating_sub(1)) {
                    columns.push((
                        format!("cosine{k}"),
                        (0..n)
                            .map(|t| {
                                (std::f64::consts::PI * (2 * t + 1) as f64 * k as f64
                                    / (2 * n) as f64)
                                    .cos()
                            })
                            .collect(),
                    ));
                }
            }
            Drift::Polynomial { degree } => {
                for d in 1..=degree {
                    columns.push((
                        format!("poly{d}"),
                        (0..n)
                            .map(|t| {
                                let x = if n > 1 {
                                    2.0 * t as f64 / (n - 1) as f64 - 1.0
                                } else {
                                    0.0
                                };
                                legendre(d, x)
                            })
                            .collect(),
                    ));
                }
            }
        }
        let fixed_columns = columns.len();
        let mut fixed = vec![0.0; n * fixed_columns];
        for (c, (_, values)) in columns.iter().enumerate() {
            for (t, v) in values.iter().enumerate() {
                fixed[t * fixed_columns + c] = *v;
            }
        }
        let mut names: Vec<String> = columns.into_iter().map(|(name, _)| name).collect();
        let axes = ["tx", "ty", "tz", "rx", "ry", "rz"];
        if spec.motion {
            names.extend(axes.iter().map(|a| a.to_string()));
        }
        if spec.motion_derivatives {
            names.extend(axes.iter().map(|a| format!("d{a}")));
        }
        names.extend((0..spec.tissue_signals).map(|i| format!("tissue{i}")));
        Ok(Design {
            spec,
            fixed,
            fixed_columns,
            names,
            previous_motion: None,
        })
    }

    /// Number of columns.
    pub fn columns(&self) -> usize {
        self.names.len()
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn spec(&self) -> &DesignSpec {
        &self.spec
    }

    /// Column index of the first condition (1: after the intercept).
    pub fn condition_column(&self, condition: usize) -> usize {
        1 + condition
    }

    /// Whether column `c` is a nuisance (drift, motion, tissue): what "cleaned" removes.
    pub fn is_nuisance(&self, c: usize) -> bool {
        c > self.spec.conditions.len()
    }

    /// Fills `row` with TR `t`'s design row (0-based). Call once per TR, in order: the
    /// motion derivative is the change since the previous call.
    pub fn row(
        &mut self,
        t: usize,
        motion: &RigidParams,
        tissue: &[f64],
        row: &mut DVector<f64>,
    ) -> Result<()> {
        if t >= self.spec.volumes {
            return Err(RealtimeError::Invalid(format!(
                "TR index {t} is past the design's {} volumes",
                self.spec.volumes
            )));
        }
        if tissue.len() != self.spec.tissue_signals {
            return Err(RealtimeError::Invalid(format!(
                "{} tissue signals given, the design has {}",
                tissue.len(),
                self.spec.tissue_signals
            )));
        }
        let mut c = 0;
        for v in &self.fixed[t * self.fixed_columns..(t + 1) * self.fixed_columns] {
            row[c] = *v;
            c += 1;
        }
        let m = motion.as_array();
        if self.spec.motion {
            for v in m {
                row[c] = v;
                c += 1;
            }
        }
        if self.spec.motion_derivatives {
            let previous = self.previous_motion.unwrap_or(m);
            for a in 0..6 {
                row[c] = m[a] - previous[a];
                c += 1;
            }
        }
        self.previous_motion = Some(m);
        for v in tissue {
            row[c] = *v;
            c += 1;
        }
        Ok(())
    }
}

fn legendre(degree: usize, x: f64) -> f64 {
    let (mut p0, mut p1) = (1.0, x);
    if degree == 0 {
        return p0;
    }
    for n in 1..degree {
        let p2 = ((2 * n + 1) as f64 * x * p1 - n as f64 * p0) / (n + 1) as f64;
        p0 = p1;
        p1 = p2;
    }
    p1
}

/// Sufficient statistics of `series` least-squares fits sharing one design.
#[derive(Debug, Clone)]
pub struct IncrementalGlm {
    columns: usize,
    series: usize,
    factor: Cholesky<f64, Dyn>,
    /// `Xᵀy`, regressor-major: `xty[c * series + s]`, so per-TR updates are axpys.
    xty: Vec<f64>,
    yty: Vec<f64>,
    observations: usize,
    scratch: Vec<f64>,
    solve: DVector<f64>,
    tvalues: Vec<f32>,
}

impl IncrementalGlm {
    /// A model of `columns` regressors for `series` time courses (voxels or ROIs).
    pub fn new(columns: usize, series: usize) -> Result<IncrementalGlm> {
        if columns == 0 {
            return Err(RealtimeError::Invalid(
                "a GLM needs at least one column".into(),
            ));
        }
        let factor = Cholesky::new(DMatrix::<f64>::identity(columns, columns) * RIDGE)
            .ok_or_else(|| RealtimeError::Invalid("ridge matrix not positive".into()))?;
        Ok(IncrementalGlm {
            columns,
            series,
            factor,
            xty: vec![0.0; columns * series],
            yty: vec![0.0; series],
            observations: 0,
            scratch: vec![0.0; columns * series],
            solve: DVector::zeros(columns),
            tvalues: vec![0.0; series],
        })
    }

    pub fn observations(&self) -> usize {
        self.observations
    }

    pub fn series(&self) -> usize {
        self.series
    }

    /// Adds one TR: its design `row` and each series' value `y` (length `series`).
    pub fn update(&mut self, row: &DVector<f64>, y: &[f64]) -> Result<()> {
        if row.len() != self.columns || y.len() != self.series {
            return Err(RealtimeError::Invalid(format!(
                "GLM update with a row of {} and {} values; the model has {} columns and {} series",
                row.len(),
                y.len(),
                self.columns,
                self.series
            )));
        }
        if row.iter().chain(y).any(|v| !v.is_finite()) {
            return Err(RealtimeError::Invalid(
                "GLM update with a non-finite design value or signal".into(),
            ));
        }
        self.factor.rank_one_update(row, 1.0);
        for (c, &x) in row.iter().enumerate() {
            let dst = &mut self.xty[c * self.series..(c + 1) * self.series];
            for (d, &v) in dst.iter_mut().zip(y) {
                *d += x * v;
            }
        }
        for (d, &v) in self.yty.iter_mut().zip(y) {
            *d += v * v;
        }
        self.observations += 1;
        Ok(())
    }

    /// The betas of series `s` into `out` (length `columns`).
    pub fn betas(&mut self, s: usize, out: &mut DVector<f64>) -> Result<()> {
        if s >= self.series || out.len() != self.columns {
            return Err(RealtimeError::Invalid(format!(
                "betas of series {s} of {} into {} values (need {})",
                self.series,
                out.len(),
                self.columns
            )));
        }
        for c in 0..self.columns {
            out[c] = self.xty[c * self.series + s];
        }
        self.factor.solve_mut(out);
        Ok(())
    }

    /// The t-value of `contrast` (length `columns`) for every series, NaN while there
    /// are no residual degrees of freedom. `t = cᵀβ / sqrt(σ² cᵀ(XᵀX)⁻¹c)` with
    /// `σ² = (yᵀy − |L⁻¹Xᵀy|²) / (n − p)`; the triangular solve runs over all series
    /// at once (row axpys), so no per-series matrix work.
    pub fn t_values(&mut self, contrast: &DVector<f64>) -> Result<&[f32]> {
        if contrast.len() != self.columns {
            return Err(RealtimeError::Invalid(format!(
                "contrast of {} values for a model of {} columns",
                contrast.len(),
                self.columns
            )));
        }
        let dof = self.observations as f64 - self.columns as f64;
        if dof < 1.0 {
            self.tvalues.iter_mut().for_each(|t| *t = f32::NAN);
            return Ok(&self.tvalues);
        }
        self.solve.copy_from(contrast);
        self.factor.solve_mut(&mut self.solve);
        let variance_factor = contrast.dot(&self.solve);
        let (p, n) = (self.columns, self.series);
        // z = L⁻¹ Xᵀy by forward substitution, each step an axpy over all series.
        let l = self.factor.l_dirty();
        self.scratch.copy_from_slice(&self.xty);
        for i in 0..p {
            let (done, rest) = self.scratch.split_at_mut(i * n);
            let zi = &mut rest[..n];
            for j in 0..i {
                let lij = l[(i, j)];
                for (z, &zj) in zi.iter_mut().zip(&done[j * n..(j + 1) * n]) {
                    *z -= lij * zj;
                }
            }
            let inv = 1.0 / l[(i, i)];
            zi.iter_mut().for_each(|z| *z *= inv);
        }
        for s in 0..n {
            let mut effect = 0.0;
            let mut explained = 0.0;
            for c in 0..p {
                effect += self.solve[c] * self.xty[c * n + s];
                let z = self.scratch[c * n + s];
                explained += z * z;
            }
            let rss = (self.yty[s] - explained).max(0.0);
            let se = (rss / dof * variance_factor).sqrt();
            self.tvalues[s] = if se > 0.0 { (effect / se) as f32 } else { 0.0 };
        }
        Ok(&self.tvalues)
    }
}

/// One ROI's real-time fit: the design, its GLM, and the outputs of the latest TR.
#[derive(Debug, Clone)]
pub struct RoiGlm {
    design: Design,
    glm: IncrementalGlm,
    row: DVector<f64>,
    betas: DVector<f64>,
    contrast: DVector<f64>,
    /// Sum of the design rows so far (for the nuisance columns' running means).
    row_sum: DVector<f64>,
    tr: usize,
}

/// One TR's ROI outputs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RoiResult {
    /// The ROI mean as measured.
    pub raw: f64,
    /// `raw` minus the fitted nuisance part (drift, motion, tissue; each column relative
    /// to its mean so far) with the current betas: the signal's level, task effect and
    /// noise. Equal to `raw` until there are twice as many TRs as design columns.
    pub cleaned: f64,
    /// `100 · (cleaned − b) / b`, percent change from the fitted baseline
    /// `b = β₀ + Σ mean(x_n) β_n` (task off, nuisance at its mean).
    pub percent_signal_change: f64,
    /// The first condition's beta and t (NaN for t before there are residual dof).
    pub task_beta: f64,
    pub task_t: f64,
}

impl RoiGlm {
    pub fn new(spec: DesignSpec) -> Result<RoiGlm> {
        let design = Design::new(spec)?;
        let p = design.columns();
        let mut contrast = DVector::zeros(p);
        if !design.spec().conditions.is_empty() {
            contrast[design.condition_column(0)] = 1.0;
        }
        Ok(RoiGlm {
            glm: IncrementalGlm::new(p, 1)?,
            row: DVector::zeros(p),
            betas: DVector::zeros(p),
            row_sum: DVector::zeros(p),
            contrast,
            design,
            tr: 0,
        })
    }

    pub fn design(&self) -> &Design {
        &self.design
    }

    /// Adds the next TR's ROI mean with its motion estimate and tissue signals.
    pub fn push(
        &mut self,
        roi_mean: f64,
        motion: &RigidParams,
        tissue: &[f64],
    ) -> Result<RoiResult> {
        self.design.row(self.tr, motion, tissue, &mut self.row)?;
        self.glm.update(&self.row, &[roi_mean])?;
        self.tr += 1;
        self.glm.betas(0, &mut self.betas)?;
        self.row_sum += &self.row;
        // Nuisance relative to its mean so far: removing it leaves the signal's level
        // alone (motion parameters are not zero-mean; their offset is not "signal").
        let n = self.tr as f64;
        let (mut nuisance, mut nuisance_mean) = (0.0, 0.0);
        for c in (0..self.design.columns()).filter(|&c| self.design.is_nuisance(c)) {
            let mean = self.row_sum[c] / n;
            nuisance += (self.row[c] - mean) * self.betas[c];
            nuisance_mean += mean * self.betas[c];
        }
        // Until there are twice as many TRs as columns the nuisance fit is mostly noise
        // (it can explain any signal), so the signal passes unchanged.
        let cleaned = if self.glm.observations() >= 2 * self.design.columns() {
            roi_mean - nuisance
        } else {
            roi_mean
        };
        let baseline = self.betas[0] + nuisance_mean;
        let task_t = if self.design.spec().conditions.is_empty() {
            f64::NAN
        } else {
            f64::from(self.glm.t_values(&self.contrast)?[0])
        };
        Ok(RoiResult {
            raw: roi_mean,
            cleaned,
            percent_signal_change: if baseline != 0.0 {
                100.0 * (cleaned - baseline) / baseline
            } else {
                0.0
            },
            task_beta: if self.design.spec().conditions.is_empty() {
                f64::NAN
            } else {
                self.betas[self.design.condition_column(0)]
            },
            task_t,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incremental_fit_equals_batch_least_squares() {
        // y = 5 + 2 * ramp + noise-free sinusoid in a third column.
        let n = 30;
        let x: Vec<[f64; 3]> = (0..n)
            .map(|t| [1.0, t as f64 / 10.0, (t as f64 * 0.7).sin()])
            .collect();
        let y: Vec<f64> = x.iter().map(|r| 5.0 + 2.0 * r[1] - 0.5 * r[2]).collect();
        let mut glm = IncrementalGlm::new(3, 1).expect("model");
        for (r, &v) in x.iter().zip(&y) {
            glm.update(&DVector::from_row_slice(r), &[v])
                .expect("update");
        }
        let mut b = DVector::zeros(3);
        glm.betas(0, &mut b).expect("betas");
        assert!(
            (b[0] - 5.0).abs() < 1e-4 && (b[1] - 2.0).abs() < 1e-4 && (b[2] + 0.5).abs() < 1e-4,
            "{b}"
        );
    }
}
