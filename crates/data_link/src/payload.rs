//! File payloads on the wire: optional zstd compression, chunks of at most 1 MiB, and
//! reassembly with limits. Never copies a payload that fits in one chunk.

use bytes::{Bytes, BytesMut};
use protocol::v1::{Chunk, Compression};

/// Largest chunk of file data in one message.
pub const CHUNK_SIZE: usize = 1 << 20;
/// Largest gRPC message either side accepts (chunks plus headers fit well inside).
pub const MAX_MESSAGE_BYTES: usize = security::MAX_MESSAGE_BYTES;
/// Largest file the link carries; a peer announcing more is refused (protects memory).
pub const MAX_FILE_BYTES: u64 = 1 << 30;
/// Default zstd level. Level 1 shrinks a 457 KB Skyra mosaic to about a third in about
/// 1.5 ms; it is used only where the link is slow enough for that to pay (adaptive
/// compression on the streamer), so its better ratio matters more than its speed.
pub const DEFAULT_ZSTD_LEVEL: i32 = 1;
/// Below this size compression saves too little to be worth its time.
const MIN_COMPRESS: usize = 4096;

/// A payload ready to be sent: its wire bytes and how to get the file back.
#[derive(Debug, Clone)]
pub(crate) struct Encoded {
    pub wire: Bytes,
    pub raw_size: u64,
    pub compression: Compression,
}

/// Compresses `raw` with zstd at `level` (None: not at all) when that saves bytes.
pub(crate) fn encode(raw: Bytes, level: Option<i32>) -> Encoded {
    let raw_size = raw.len() as u64;
    if let Some(level) = level.filter(|_| raw.len() >= MIN_COMPRESS) {
        if let Ok(packed) = zstd::bulk::compress(&raw, level) {
            if packed.len() < raw.len() {
                return Encoded {
                    wire: Bytes::from(packed),
                    raw_size,
                    compression: Compression::Zstd,
                };
            }
        }
    }
    Encoded {
        wire: raw,
        raw_size,
        compression: Compression::None,
    }
}

/// The chunks of a payload, in order (one, possibly empty, when it is small). The data
/// are slices of the same buffer: no copy.
pub(crate) fn chunks(enc: &Encoded) -> Vec<Chunk> {
    let wire_size = enc.wire.len() as u64;
    let mut out = Vec::with_capacity(enc.wire.len() / CHUNK_SIZE + 1);
    let mut offset = 0usize;
    loop {
        let end = (offset + CHUNK_SIZE).min(enc.wire.len());
        out.push(Chunk {
            offset: offset as u64,
            wire_size,
            raw_size: enc.raw_size,
            compression: enc.compression as i32,
            last: end == enc.wire.len(),
            data: enc.wire.slice(offset..end),
        });
        offset = end;
        if offset >= enc.wire.len() {
            return out;
        }
    }
}

/// Collects the chunks of one payload and decodes it.
#[derive(Debug, Default)]
pub(crate) struct Assembler {
    buf: BytesMut,
    wire_size: u64,
    raw_size: u64,
    compression: i32,
    started: bool,
}

impl Assembler {
    /// Adds the next chunk; returns the whole file after the last one.
    pub fn push(&mut self, chunk: Chunk) -> Result<Option<Bytes>, String> {
        if !self.started {
            if chunk.offset != 0 {
                return Err(format!("first chunk at offset {}, not 0", chunk.offset));
            }
            if chunk.wire_size > MAX_FILE_BYTES || chunk.raw_size > MAX_FILE_BYTES {
                return Err(format!(
                    "payload of {} bytes ({} on the wire) is over the link's limit of {MAX_FILE_BYTES}",
                    chunk.raw_size, chunk.wire_size
                ));
            }
            self.started = true;
            self.wire_size = chunk.wire_size;
            self.raw_size = chunk.raw_size;
            self.compression = chunk.compression;
            if chunk.last {
                // The common case: one chunk, no copy.
                return self.finish(chunk.data).map(Some);
            }
            // Grown as data arrive: an announced size is a claim, not a reason to
            // reserve memory (a peer could announce 1 GiB and send nothing).
            self.buf = BytesMut::with_capacity(chunk.data.len().saturating_mul(2));
        } else if chunk.offset != self.buf.len() as u64
            || chunk.wire_size != self.wire_size
            || chunk.raw_size != self.raw_size
            || chunk.compression != self.compression
        {
            return Err(format!(
                "chunk at offset {} does not continue the payload (have {} of {} bytes)",
                chunk.offset,
                self.buf.len(),
                self.wire_size
            ));
        }
        if self.buf.len() as u64 + chunk.data.len() as u64 > self.wire_size {
            return Err(format!(
                "chunks exceed the announced {} bytes",
                self.wire_size
            ));
        }
        self.buf.extend_from_slice(&chunk.data);
        if chunk.last {
            let wire = std::mem::take(&mut self.buf).freeze();
            return self.finish(wire).map(Some);
        }
        Ok(None)
    }

    fn finish(&self, wire: Bytes) -> Result<Bytes, String> {
        if wire.len() as u64 != self.wire_size {
            return Err(format!(
                "payload ended after {} of {} bytes",
                wire.len(),
                self.wire_size
            ));
        }
        match Compression::try_from(self.compression) {
            Ok(Compression::None) => Ok(wire),
            Ok(Compression::Zstd) => {
                // Streamed, and never more than announced plus one byte (to catch a
                // lie): the buffer grows with what the data really decompress to.
                use std::io::Read;
                let mut raw = Vec::new();
                zstd::stream::read::Decoder::new(&wire[..])
                    .and_then(|d| d.take(self.raw_size + 1).read_to_end(&mut raw))
                    .map_err(|e| format!("zstd payload does not decompress: {e}"))?;
                if raw.len() as u64 != self.raw_size {
                    return Err(format!(
                        "zstd payload gave {} bytes, {} announced",
                        raw.len(),
                        self.raw_size
                    ));
                }
                Ok(Bytes::from(raw))
            }
            Err(_) => Err(format!("unknown compression {}", self.compression)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(raw: Vec<u8>, compress: bool) -> (usize, Bytes) {
        let enc = encode(Bytes::from(raw), compress.then_some(DEFAULT_ZSTD_LEVEL));
        let parts = chunks(&enc);
        let n = parts.len();
        let mut asm = Assembler::default();
        let mut out = None;
        for (i, c) in parts.into_iter().enumerate() {
            let r = asm.push(c).expect("valid chunks");
            assert_eq!(r.is_some(), i + 1 == n);
            out = r;
        }
        (n, out.expect("complete"))
    }

    #[test]
    fn small_and_empty_payloads_are_one_chunk() {
        assert_eq!(roundtrip(vec![], true), (1, Bytes::new()));
        assert_eq!(roundtrip(vec![7; 10], true), (1, Bytes::from(vec![7; 10])));
    }

    #[test]
    fn large_payloads_are_chunked_and_compressed() {
        let raw: Vec<u8> = (0..3_500_000u64).map(|i| (i * 7919 % 251) as u8).collect();
        let (n, out) = roundtrip(raw.clone(), false);
        assert_eq!(n, 4);
        assert_eq!(out, raw);
        let zeros = vec![0u8; 3 << 20];
        let enc = encode(Bytes::from(zeros.clone()), Some(DEFAULT_ZSTD_LEVEL));
        assert_eq!(enc.compression, Compression::Zstd);
        assert!(enc.wire.len() < 1000);
        assert_eq!(roundtrip(zeros, true).1.len(), 3 << 20);
    }

    #[test]
    fn bad_chunks_are_refused() {
        let mut asm = Assembler::default();
        let bad = Chunk {
            offset: 5,
            ..Default::default()
        };
        assert!(asm.push(bad).is_err());
        let mut asm = Assembler::default();
        let big = Chunk {
            wire_size: MAX_FILE_BYTES + 1,
            ..Default::default()
        };
        assert!(asm.push(big).is_err());
        let mut asm = Assembler::default();
        let lie = Chunk {
            wire_size: 10,
            raw_size: 10,
            compression: Compression::Zstd as i32,
            last: true,
            data: Bytes::from_static(b"0123456789"),
            offset: 0,
        };
        assert!(asm.push(lie).is_err());
    }

    #[test]
    fn announced_sizes_reserve_nothing_before_the_data_arrive() {
        // A peer announcing the largest payload and sending 10 bytes costs 10-ish bytes.
        let mut asm = Assembler::default();
        let first = Chunk {
            offset: 0,
            wire_size: MAX_FILE_BYTES,
            raw_size: MAX_FILE_BYTES,
            compression: Compression::None as i32,
            last: false,
            data: Bytes::from_static(b"0123456789"),
        };
        assert_eq!(asm.push(first), Ok(None));
        assert!(asm.buf.capacity() < 1024, "reserved {}", asm.buf.capacity());
        // A tiny zstd frame claiming 1 GiB decompresses to what it holds and is refused.
        let packed = zstd::bulk::compress(&[7u8; 100], 1).expect("compress");
        let lie = Chunk {
            offset: 0,
            wire_size: packed.len() as u64,
            raw_size: MAX_FILE_BYTES,
            compression: Compression::Zstd as i32,
            last: true,
            data: Bytes::from(packed),
        };
        let err = Assembler::default().push(lie).expect_err("size lie");
        assert!(err.contains("gave 100 bytes"), "{err}");
    }
}
