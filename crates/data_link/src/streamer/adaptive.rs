//! Adaptive compression: zstd helps only when the link is slower than compressing.
//! The streamer measures both — the link from how long each pushed volume takes until
//! its ACK, compression from its own timings — and sends a volume raw when that is
//! expected to reach the analyser sooner (e.g. on a LAN or loopback), compressed when
//! the uplink is the slow hop. Each payload says how it was sent, so the analyser
//! needs no notice.

use std::time::Duration;

/// Weight of a new sample in the moving averages.
const ALPHA: f64 = 0.2;
/// Decompression on the analyser, as a share of compression time (zstd decompresses
/// several times faster than it compresses).
const DECOMPRESS_SHARE: f64 = 0.3;
/// How much sooner the other way must be expected to deliver before the streamer
/// switches (issue 14): near the break-even point (loopback with a busy analyser) a
/// noisy estimate otherwise flips compression on and off from one volume to the next,
/// and every flip to compression costs a millisecond or more on that volume.
const HYSTERESIS: f64 = 0.25;

/// What the streamer knows about its link and its compression speed.
#[derive(Debug, Clone)]
pub(crate) struct LinkEstimate {
    /// Bytes per second from push to ACK; None until the first ACK on this link.
    throughput: Option<f64>,
    /// Seconds per raw byte to compress.
    compress_secs_per_byte: f64,
    /// Compressed size / raw size.
    ratio: f64,
    /// The last decision: volumes are being compressed.
    compressing: bool,
}

impl Default for LinkEstimate {
    fn default() -> Self {
        Self {
            throughput: None,
            // About 300 MB/s and a ratio of one half: zstd's fast levels on mosaics.
            compress_secs_per_byte: 1.0 / 300e6,
            ratio: 0.5,
            compressing: true,
        }
    }
}

fn ewma(old: f64, new: f64) -> f64 {
    old + ALPHA * (new - old)
}

impl LinkEstimate {
    /// A new link: its speed is unknown again.
    pub fn new_link(&mut self) {
        self.throughput = None;
    }

    /// A volume of `wire` bytes was ACKed `elapsed` after it was queued.
    pub fn record_ack(&mut self, wire: u64, elapsed: Duration) {
        let secs = elapsed.as_secs_f64().max(1e-6);
        let tput = wire as f64 / secs;
        self.throughput = Some(match self.throughput {
            Some(old) => ewma(old, tput),
            None => tput,
        });
    }

    /// Compressing `raw` bytes to `wire` bytes took `elapsed`.
    pub fn record_compress(&mut self, raw: u64, wire: u64, elapsed: Duration) {
        if raw == 0 {
            return;
        }
        self.compress_secs_per_byte = ewma(
            self.compress_secs_per_byte,
            elapsed.as_secs_f64() / raw as f64,
        );
        self.ratio = ewma(self.ratio, wire as f64 / raw as f64);
    }

    /// Whether compressing `raw` bytes is expected to deliver them sooner; the answer
    /// changes only when the other way is expected to be [`HYSTERESIS`] faster.
    pub fn worth_compressing(&mut self, raw: u64) -> bool {
        let Some(tput) = self.throughput else {
            // Unknown link: compress (the safe choice on a slow uplink).
            self.compressing = true;
            return true;
        };
        let raw = raw as f64;
        let send_raw = raw / tput;
        let send_packed =
            raw * self.compress_secs_per_byte * (1.0 + DECOMPRESS_SHARE) + raw * self.ratio / tput;
        self.compressing = if self.compressing {
            send_raw >= send_packed * (1.0 - HYSTERESIS)
        } else {
            send_packed < send_raw * (1.0 - HYSTERESIS)
        };
        self.compressing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_links_go_raw_and_slow_links_compressed() {
        let mut e = LinkEstimate::default();
        assert!(e.worth_compressing(457_000), "unknown link: compress");
        e.record_compress(457_000, 200_000, Duration::from_micros(1300));
        // Loopback: 457 KB acknowledged in 0.6 ms.
        e.record_ack(457_000, Duration::from_micros(600));
        assert!(!e.worth_compressing(457_000));
        // A 100 Mbit/s uplink: 200 KB in 16 ms.
        e.new_link();
        e.record_ack(200_000, Duration::from_millis(16));
        assert!(e.worth_compressing(457_000));
    }

    #[test]
    fn a_noisy_estimate_near_break_even_does_not_flip_the_decision() {
        let mut e = LinkEstimate::default();
        e.record_compress(457_000, 200_000, Duration::from_micros(1300));
        e.record_ack(457_000, Duration::from_micros(600));
        assert!(!e.worth_compressing(457_000), "loopback: raw");
        // Break-even is near 120 MB/s with these compression figures: an estimate
        // jittering around it keeps the decision.
        for tput in [110e6, 135e6, 105e6, 140e6, 110e6] {
            e.throughput = Some(tput);
            assert!(!e.worth_compressing(457_000), "raw at {tput}");
        }
        // A clearly slower link switches, and jitter around break-even keeps that too.
        e.throughput = Some(40e6);
        assert!(e.worth_compressing(457_000));
        for tput in [135e6, 110e6, 140e6] {
            e.throughput = Some(tput);
            assert!(e.worth_compressing(457_000), "compressed at {tput}");
        }
        e.throughput = Some(400e6);
        assert!(!e.worth_compressing(457_000), "a fast link again: raw");
    }
}
