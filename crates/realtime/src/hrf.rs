//! The canonical haemodynamic response and task regressors.
//!
//! The HRF is SPM's canonical double gamma (spm_hrf defaults: peak at 6 s, undershoot
//! at 16 s, dispersions 1, peak-to-undershoot ratio 6); regressors are built at a
//! microtime resolution of TR/16, convolved, and sampled at each TR's onset, like SPM.

/// Microtime bins per TR.
const MICROTIME: usize = 16;

/// Gamma density with integer shape `k` and scale 1 at `t` seconds.
fn gamma_pdf(t: f64, k: u32) -> f64 {
    if t <= 0.0 {
        return 0.0;
    }
    let factorial: f64 = (1..k).map(f64::from).product();
    t.powi(k as i32 - 1) * (-t).exp() / factorial
}

/// The canonical HRF sampled every `dt_s` seconds over 32 s, normalised to sum 1.
pub fn canonical_hrf(dt_s: f64) -> Vec<f64> {
    let n = (32.0 / dt_s).ceil() as usize + 1;
    let h: Vec<f64> = (0..n)
        .map(|i| {
            let t = i as f64 * dt_s;
            gamma_pdf(t, 6) - gamma_pdf(t, 16) / 6.0
        })
        .collect();
    let sum: f64 = h.iter().sum();
    h.into_iter().map(|v| v / sum).collect()
}

/// A task regressor for `volumes` TRs: boxcars at `onsets_s` lasting `durations_s`
/// (0 = an event of one microtime bin), convolved with the canonical HRF. Times are
/// from the start of the first volume. A block regressor's plateau is 1.
pub fn task_regressor(
    onsets_s: &[f64],
    durations_s: &[f64],
    tr_s: f64,
    volumes: usize,
) -> Vec<f64> {
    let dt = tr_s / MICROTIME as f64;
    let bins = volumes * MICROTIME;
    let mut boxcar = vec![0.0; bins];
    for (n, &onset) in onsets_s.iter().enumerate() {
        let duration = durations_s.get(n).copied().unwrap_or(0.0).max(0.0);
        let start = (onset / dt).round().max(0.0) as usize;
        let end = ((onset + duration) / dt).round().max(0.0) as usize;
        for b in boxcar
            .iter_mut()
            .take(end.max(start + 1).min(bins))
            .skip(start)
        {
            *b = 1.0;
        }
    }
    let hrf = canonical_hrf(dt);
    (0..volumes)
        .map(|v| {
            let at = v * MICROTIME;
            hrf.iter()
                .enumerate()
                .take_while(|(lag, _)| *lag <= at)
                .map(|(lag, h)| h * boxcar[at - lag])
                .sum()
        })
        .collect()
}

/// Onsets and durations (s) of the "on" blocks of a per-TR 0/1 design.
pub fn blocks_from_design(design: &[u8], tr_s: f64) -> (Vec<f64>, Vec<f64>) {
    let (mut onsets, mut durations) = (Vec::new(), Vec::new());
    let mut start = None;
    for (t, &d) in design.iter().chain(std::iter::once(&0)).enumerate() {
        match (d != 0, start) {
            (true, None) => start = Some(t),
            (false, Some(s)) => {
                onsets.push(s as f64 * tr_s);
                durations.push((t - s) as f64 * tr_s);
                start = None;
            }
            _ => {}
        }
    }
    (onsets, durations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrf_peaks_near_five_seconds_and_a_long_block_plateaus_at_one() {
        let h = canonical_hrf(0.1);
        let peak = h
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i as f64 * 0.1)
            .unwrap_or_default();
        assert!((4.5..=5.5).contains(&peak), "peak at {peak} s");
        let r = task_regressor(&[0.0], &[200.0], 2.0, 60);
        assert!(r[0].abs() < 1e-9);
        assert!((r[50] - 1.0).abs() < 0.01, "{}", r[50]);
        let (on, dur) = blocks_from_design(&[0, 0, 1, 1, 0, 1], 2.0);
        assert_eq!((on, dur), (vec![4.0, 10.0], vec![4.0, 2.0]));
    }
}
