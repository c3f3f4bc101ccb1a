//! The whole timeline of each TR (issue 14): from the scanner's acquisition to the
//! result shown on the stimulus PC, every stamp on the analyser's clock.
//!
//! Three clocks meet here. The console's (data_streamer: detected, sent) and the stimulus
//! PC's (analysis_listener: received, shown) are measured against the analyser's by a
//! round trip ([`ClockOffset`]); an offset smaller than its uncertainty (half the round
//! trip) is not applied, so machines that share a clock keep exact stamps. The scanner's
//! clock (DICOM AcquisitionTime, a time of day with no date or time zone) cannot be
//! measured from here, so it is placed as follows.
//!
//! The time of day is first put on the console's clock: the instant nearest to the
//! console's detection of the run's first volume whose time of day matches in some time
//! zone (every zone is a whole number of quarter hours from UTC), so neither the time
//! zone nor the date (which de-identification removes) is needed while scanner and
//! console clocks agree to within 7.5 minutes; later volumes keep that day (plus one
//! after midnight). Then `scanner_clock` says which offset was applied:
//! - `console`: the scanner's clock is taken to be the console's (the streamer runs on
//!   the scanner's host, or both follow the same time server); the scanner delay is
//!   then measured, not assumed.
//! - `estimated`: the acquisition times are not from now (a scanner delay came out
//!   negative or above [`PLAUSIBLE_SCANNER_DELAY_S`]: a replay of old data, or a
//!   scanner clock set wrong): from then on the offset is the smallest scanner delay
//!   seen so far in the run, so the fastest volume shows 0 and the others their delay
//!   beyond it. In a replay paced unlike the original run this measures the pacing.
//! - `none`: the file had no AcquisitionTime.
//!
//! Recording costs one map insert per stamp under the session's lock (already taken for
//! the result); the lines of timeline.tsv go through the session's writer thread.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::run_view::{Stage, TrLatency};

/// The scanner-side delay above which the acquisition times are taken to be from
/// another time than now (a replay of old data, or a scanner clock set wrong): 30 s.
pub const PLAUSIBLE_SCANNER_DELAY_S: f64 = 30.0;
/// A day in seconds, for acquisition times of day around midnight.
const DAY_S: f64 = 86_400.0;
/// Every time zone's offset from UTC is a multiple of 15 minutes.
const ZONE_STEP_S: f64 = 900.0;

/// Another machine's clock minus the analyser's, in seconds, measured by a round trip:
/// `offset_s = remote_time - (sent + received) / 2` on the analyser's clock, with
/// `uncertainty_s` = half the round trip (the most the one-way times can differ by).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ClockOffset {
    pub offset_s: f64,
    pub uncertainty_s: f64,
}

impl ClockOffset {
    /// The offset applied to stamps: the measured one when it exceeds its uncertainty,
    /// else 0 (the clocks agree as far as the measurement can tell).
    pub fn applied_s(&self) -> f64 {
        if self.offset_s.abs() > self.uncertainty_s {
            self.offset_s
        } else {
            0.0
        }
    }

    /// `t` on the remote clock as a time on the analyser's.
    pub fn to_analyser(&self, t: f64) -> f64 {
        t - self.applied_s()
    }
}

/// When a scanner volume went through, as the analyser learns it when the project takes
/// it: console-clock stamps as the streamer sent them, analyser-clock stamps as read.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct VolumeStamps {
    pub index: u32,
    /// DICOM AcquisitionTime, seconds since midnight on the scanner's clock.
    pub acquisition_time_of_day_s: Option<f64>,
    /// DICOM RepetitionTime in seconds: the acquisition ends this long after it starts.
    pub tr_s: Option<f64>,
    /// The streamer saw the file complete (console clock; its watcher reads the file on
    /// close, so this is the close plus one read).
    pub detected: f64,
    /// The streamer queued it on the link (console clock); `None` from a local folder.
    pub sent: Option<f64>,
    /// The analyser held the whole volume.
    pub received: f64,
    /// Handed to the project (the file, before any conversion).
    pub served: f64,
}

/// One TR's timeline, every stamp in seconds since the epoch on the analyser's clock.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TrTimeline {
    pub run: i64,
    pub tr: i64,
    /// The launch it belongs to.
    #[serde(skip)]
    pub launch: u32,
    /// The scanner started acquiring the volume (corrected, see the module's doc).
    pub acquired: Option<f64>,
    /// The acquisition ended: `acquired` plus the repetition time.
    pub acquisition_end: Option<f64>,
    pub detected: f64,
    pub sent: Option<f64>,
    pub received: f64,
    pub served: f64,
    /// The analyser decoded it for the project (absent when the project took the file).
    pub converted: Option<f64>,
    /// The project set its result.
    pub result: f64,
    /// The listener received the result, and wrote it out (shown to the stimulus
    /// program, after the onset delay).
    pub listener_received: Option<f64>,
    pub shown: Option<f64>,
    /// The listener's acknowledgement reached the analyser.
    pub acked: Option<f64>,
    /// The offsets applied (seconds): console and listener minus analyser, scanner minus
    /// console; `scanner_clock` is "console", "estimated" or "none" (module doc).
    pub console_offset_s: f64,
    pub listener_offset_s: f64,
    pub scanner_offset_s: f64,
    pub scanner_clock: &'static str,
}

/// The columns of timeline.tsv (see docs/user-guide.md).
pub const TIMELINE_TSV_HEADER: &str = "run\ttr\tacquired\tacquisition_end\tdetected\tsent\t\
received\tserved\tconverted\tresult\tlistener_received\tshown\tacked\tconsole_offset_s\t\
listener_offset_s\tscanner_offset_s\tscanner_clock\n";

impl TrTimeline {
    /// The line of timeline.tsv: seconds with 6 decimals, empty when unknown.
    pub fn tsv_line(&self) -> String {
        let t = |v: Option<f64>| v.map(|v| format!("{v:.6}")).unwrap_or_default();
        format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{:.6}\t{:.6}\t{:.6}\t{}\n",
            self.run,
            self.tr,
            t(self.acquired),
            t(self.acquisition_end),
            t(Some(self.detected)),
            t(self.sent),
            t(Some(self.received)),
            t(Some(self.served)),
            t(self.converted),
            t(Some(self.result)),
            t(self.listener_received),
            t(self.shown),
            t(self.acked),
            self.console_offset_s,
            self.listener_offset_s,
            self.scanner_offset_s,
            self.scanner_clock,
        )
    }

    /// The Run tab's stacked bar: scanner, console, link, analyser, project, delivery,
    /// in milliseconds (0 for a stage whose stamps are not known yet).
    pub fn latency(&self) -> TrLatency {
        let ms = |from: Option<f64>, to: Option<f64>| match (from, to) {
            (Some(a), Some(b)) => ((b - a) * 1e6).round() / 1e3,
            _ => 0.0,
        };
        let handed = self.converted.unwrap_or(self.served).max(self.served);
        let stages = [
            ("scanner", ms(self.acquisition_end, Some(self.detected))),
            ("console", ms(Some(self.detected), self.sent)),
            (
                "link",
                ms(self.sent.or(Some(self.detected)), Some(self.received)),
            ),
            ("analyser", ms(Some(self.received), Some(handed))),
            ("project", ms(Some(handed), Some(self.result))),
            ("delivery", ms(Some(self.result), self.shown)),
        ];
        let start = self.acquisition_end.unwrap_or(self.detected);
        TrLatency {
            run: self.run,
            tr: self.tr,
            stages: stages
                .into_iter()
                .map(|(name, ms)| Stage {
                    name: name.into(),
                    ms,
                })
                .collect(),
            total_ms: ms(Some(start), Some(self.shown.unwrap_or(self.result))),
        }
    }
}

/// The timelines of the running launch: volumes until their result, results until the
/// listener's acknowledgement.
#[derive(Debug, Default)]
pub(crate) struct Timelines {
    launch: u32,
    console: ClockOffset,
    /// Seconds to add to a time of day for the console's clock (the run's day), fixed by
    /// the first volume with an acquisition time.
    day_base: Option<(f64, f64)>,
    /// The smallest scanner delay seen (uncorrected), for `ScannerClock::Estimated`.
    min_delay_s: Option<f64>,
    estimated: bool,
    volumes: BTreeMap<i64, (VolumeStamps, Option<f64>)>,
    /// Result sequence number -> its TR's timeline, until acknowledged.
    made: BTreeMap<u64, TrTimeline>,
}

/// Volumes or results kept at most while waiting (the oldest go first).
const MAX_PENDING: usize = 4_096;

impl Timelines {
    pub fn set_console_clock(&mut self, offset: ClockOffset) {
        self.console = offset;
    }

    /// Starts the timelines of Run launch `number`; the console's clock stays measured
    /// and the timelines of the launch before still wait for their acknowledgement.
    pub fn new_launch(&mut self, number: u32) {
        self.launch = number;
        self.day_base = None;
        self.min_delay_s = None;
        self.estimated = false;
        self.volumes.clear();
    }

    pub fn note_volume(&mut self, stamps: VolumeStamps) {
        self.volumes.insert(stamps.index.into(), (stamps, None));
        while self.volumes.len() > MAX_PENDING {
            self.volumes.pop_first();
        }
    }

    pub fn note_converted(&mut self, index: u32, at: f64) {
        if let Some((_, converted)) = self.volumes.get_mut(&i64::from(index)) {
            converted.get_or_insert(at);
        }
    }

    /// The timeline of TR `tr` when its volume went through and this is its first
    /// result (volume index = TR number, as scanner streams count).
    pub fn result_made(&mut self, seq: u64, run: i64, tr: i64, at: f64) -> Option<TrTimeline> {
        let (v, converted) = self.volumes.remove(&tr)?;
        let console_clock = self.console;
        let console = |t: f64| console_clock.to_analyser(t);
        let (detected, sent) = (console(v.detected), v.sent.map(console));
        let (acquired, scanner_offset_s, clock) = match v.acquisition_time_of_day_s {
            Some(tod) => {
                let on_console = self.on_console_day(tod, v.detected, v.tr_s);
                let (offset, clock) =
                    self.scanner_offset(on_console + v.tr_s.unwrap_or(0.0), v.detected);
                (Some(console(on_console - offset)), offset, clock)
            }
            None => (None, 0.0, "none"),
        };
        let timeline = TrTimeline {
            launch: self.launch,
            run,
            tr,
            acquired,
            acquisition_end: acquired.map(|a| a + v.tr_s.unwrap_or(0.0)),
            detected,
            sent,
            received: v.received,
            served: v.served,
            converted,
            result: at,
            listener_received: None,
            shown: None,
            acked: None,
            console_offset_s: self.console.applied_s(),
            listener_offset_s: 0.0,
            scanner_offset_s,
            scanner_clock: clock,
        };
        self.made.insert(seq, timeline.clone());
        while self.made.len() > MAX_PENDING {
            self.made.pop_first();
        }
        Some(timeline)
    }

    /// The acquisition time of day as a time on the console's clock (see [`ScannerClock`]).
    fn on_console_day(&mut self, tod: f64, detected: f64, tr_s: Option<f64>) -> f64 {
        let (base, first_tod) = *self.day_base.get_or_insert_with(|| {
            let guess = detected - tr_s.unwrap_or(0.0) - tod;
            ((guess / ZONE_STEP_S).round() * ZONE_STEP_S, tod)
        });
        // A run that passes midnight: its later times of day are small again.
        let next_day = if tod + DAY_S / 2.0 < first_tod {
            DAY_S
        } else {
            0.0
        };
        base + tod + next_day
    }

    /// The scanner's clock minus the console's, for a volume whose acquisition ended at
    /// `end` by the scanner's clock (placed on the console's day) and was detected at
    /// `detected` (console clock).
    fn scanner_offset(&mut self, end: f64, detected: f64) -> (f64, &'static str) {
        let delay = detected - end;
        let min = self.min_delay_s.map_or(delay, |m| m.min(delay));
        self.min_delay_s = Some(min);
        if !(0.0..=PLAUSIBLE_SCANNER_DELAY_S).contains(&delay) {
            self.estimated = true;
        }
        if self.estimated {
            // Scanner minus console: an acquisition end of `end` happened at `end - offset`.
            (-min, "estimated")
        } else {
            (0.0, "console")
        }
    }

    /// Result `seq` reached the listener: its stamps on the listener's clock with that
    /// clock's offset, and when the acknowledgement arrived (analyser clock).
    pub fn delivered(
        &mut self,
        seq: u64,
        listener_received: f64,
        shown: f64,
        listener: ClockOffset,
        acked: f64,
    ) -> Option<TrTimeline> {
        let mut timeline = self.made.remove(&seq)?;
        let known = |t: f64| (t > 0.0).then(|| listener.to_analyser(t));
        timeline.listener_received = known(listener_received);
        timeline.shown = known(shown);
        timeline.acked = Some(acked);
        timeline.listener_offset_s = listener.applied_s();
        Some(timeline)
    }

    /// Every result of launch `number` still waiting for a listener's acknowledgement,
    /// oldest first.
    pub fn take_unacknowledged(&mut self, number: u32) -> Vec<TrTimeline> {
        let seqs: Vec<u64> = self
            .made
            .iter()
            .filter(|(_, t)| t.launch == number)
            .map(|(seq, _)| *seq)
            .collect();
        seqs.iter()
            .filter_map(|seq| self.made.remove(seq))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamps(index: u32, tod: f64, detected: f64) -> VolumeStamps {
        VolumeStamps {
            index,
            acquisition_time_of_day_s: Some(tod),
            tr_s: Some(2.0),
            detected,
            sent: Some(detected + 0.001),
            received: detected + 0.003,
            served: detected + 0.004,
        }
    }

    #[test]
    fn a_live_scanner_delay_is_measured_and_a_replay_is_estimated() {
        // 2026-12-01 10:00:00 UTC; the console is in UTC+1, the volume acquired at
        // 11:00:00.000 local, ended 2 s later, detected 0.4 s after that.
        let now = 1_796_119_200.0;
        let mut live = Timelines::default();
        live.note_volume(stamps(1, 11.0 * 3600.0, now + 2.4));
        let t = live.result_made(1, 1, 1, now + 2.41).expect("volume 1");
        assert_eq!(t.scanner_clock, "console");
        assert_eq!(t.acquired, Some(now));
        assert_eq!(t.latency().stages[0].ms, 400.0);

        // The same file replayed 3 hours 10 minutes later, then the next one 0.5 s later
        // although it was acquired 2 s after the first.
        let mut replay = Timelines::default();
        let later = now + 3.0 * 3600.0 + 600.0;
        replay.note_volume(stamps(1, 11.0 * 3600.0, later));
        replay.note_volume(stamps(2, 11.0 * 3600.0 + 2.0, later + 0.5));
        let first = replay.result_made(1, 1, 1, later + 0.01).expect("volume 1");
        let second = replay.result_made(2, 1, 2, later + 0.51).expect("volume 2");
        for t in [&first, &second] {
            assert_eq!(t.scanner_clock, "estimated");
            assert!(t.acquisition_end.expect("known") <= t.detected, "{t:?}");
        }
        // The second came faster than the first (relative to its acquisition): it
        // defines the offset and shows no scanner delay.
        assert_eq!(second.latency().stages[0].ms, 0.0);
    }

    #[test]
    fn offsets_within_their_uncertainty_are_not_applied() {
        let close = ClockOffset {
            offset_s: 0.0002,
            uncertainty_s: 0.0003,
        };
        assert_eq!(close.to_analyser(10.0), 10.0);
        let far = ClockOffset {
            offset_s: 2.0,
            uncertainty_s: 0.0003,
        };
        assert_eq!(far.to_analyser(10.0), 8.0);
    }
}
