//! The events file of a run (BIDS 1.9 "Task events": `_events.tsv`, tab-separated,
//! `onset` and `duration` in seconds from the run's first volume, then `trial_type`),
//! made from what a project's settings say about its design.

/// A block design that alternates `block_volumes` volumes of rest and of task, rest
/// first (the `glm` project's `blockTRs`), over a run of `volumes` volumes of `tr_s`
/// seconds: one `task` row per task block (the last one cut at the run's end). `None`
/// when `block_volumes` or `tr_s` is not positive.
pub fn alternating_blocks_tsv(block_volumes: u32, tr_s: f64, volumes: usize) -> Option<String> {
    if block_volumes == 0 || !tr_s.is_finite() || tr_s <= 0.0 {
        return None;
    }
    let block = block_volumes as usize;
    let mut tsv = String::from("onset\tduration\ttrial_type\n");
    let mut start = block;
    while start < volumes {
        let length = block.min(volumes - start);
        tsv.push_str(&format!(
            "{}\t{}\ttask\n",
            seconds(start as f64 * tr_s),
            seconds(length as f64 * tr_s)
        ));
        start += 2 * block;
    }
    Some(tsv)
}

/// Seconds as the shortest decimal that reads back exactly (no float noise).
fn seconds(s: f64) -> String {
    let rounded = (s * 1e6).round() / 1e6;
    format!("{rounded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_blocks_follow_rest_blocks() {
        let tsv = alternating_blocks_tsv(10, 2.0, 35).expect("a design");
        assert_eq!(
            tsv,
            "onset\tduration\ttrial_type\n20\t20\ttask\n60\t10\ttask\n"
        );
        let tsv = alternating_blocks_tsv(3, 0.8, 6).expect("a design");
        assert_eq!(tsv, "onset\tduration\ttrial_type\n2.4\t2.4\ttask\n");
        assert_eq!(alternating_blocks_tsv(0, 2.0, 10), None);
        assert_eq!(alternating_blocks_tsv(5, 0.0, 10), None);
    }
}
