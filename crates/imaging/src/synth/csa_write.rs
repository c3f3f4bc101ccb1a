//! Writes a Siemens CSA header in the "SV10" layout, as the scanner stores it in
//! (0029,1010) "CSA Image Header Info".
//!
//! Layout (little endian): "SV10" + 4 bytes 04 03 02 01, u32 tag count, u32 77; per tag a
//! 64-byte NUL-padded name, i32 VM, 4-byte VR, i32 SyngoDT, i32 item count, i32 77; per
//! item four i32 (length, length, 77, length) then the value as NUL-terminated text padded
//! to a multiple of 4. Unused items are written as (0, 0, 205, 0) like the scanner does.

/// One CSA element: its name, VR, SyngoDT code and values as text.
#[derive(Debug, Clone)]
pub struct CsaTag {
    pub name: &'static str,
    pub vm: i32,
    pub vr: &'static str,
    pub syngo_dt: i32,
    pub values: Vec<String>,
}

impl CsaTag {
    /// An integer-valued tag (VR IS / US) with a single value.
    pub fn int(name: &'static str, vr: &'static str, syngo_dt: i32, value: i64) -> CsaTag {
        CsaTag {
            name,
            vm: 1,
            vr,
            syngo_dt,
            values: vec![format!("{value:<8}")],
        }
    }

    /// A text-valued tag (VR SH, LO, DS ...) with a single value.
    pub fn text(name: &'static str, vr: &'static str, syngo_dt: i32, value: &str) -> CsaTag {
        CsaTag {
            name,
            vm: 1,
            vr,
            syngo_dt,
            values: vec![value.to_string()],
        }
    }

    /// A float-valued (FD) tag; `vm` 0 means "as many as there are", as Siemens writes
    /// for MosaicRefAcqTimes.
    pub fn floats(name: &'static str, vm: i32, values: &[f64]) -> CsaTag {
        CsaTag {
            name,
            vm,
            vr: "FD",
            syngo_dt: 4,
            values: values.iter().map(|v| format!("{v:.8}")).collect(),
        }
    }
}

/// Serialises the tags into SV10 bytes. Single-valued tags reserve 6 items as the
/// scanner does, so readers that skip empty items are exercised.
pub fn write_sv10(tags: &[CsaTag]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    out.extend_from_slice(b"SV10");
    out.extend_from_slice(&[4, 3, 2, 1]);
    put_i32(&mut out, tags.len() as i32);
    put_i32(&mut out, 77);
    for tag in tags {
        let mut name = [0u8; 64];
        let bytes = tag.name.as_bytes();
        let n = bytes.len().min(63);
        name[..n].copy_from_slice(&bytes[..n]);
        out.extend_from_slice(&name);
        put_i32(&mut out, tag.vm);
        let mut vr = [0u8; 4];
        let vb = tag.vr.as_bytes();
        let n = vb.len().min(3);
        vr[..n].copy_from_slice(&vb[..n]);
        out.extend_from_slice(&vr);
        put_i32(&mut out, tag.syngo_dt);
        let n_items = tag.values.len().max(if tag.vm == 1 { 6 } else { 0 });
        put_i32(&mut out, n_items as i32);
        put_i32(&mut out, 77);
        for i in 0..n_items {
            match tag.values.get(i) {
                Some(text) => {
                    let len = text.len() as i32 + 1;
                    for x in [len, len, 77, len] {
                        put_i32(&mut out, x);
                    }
                    out.extend_from_slice(text.as_bytes());
                    out.push(0);
                    while out.len() % 4 != 0 {
                        out.push(0);
                    }
                }
                None => {
                    for x in [0, 0, 205, 0] {
                        put_i32(&mut out, x);
                    }
                }
            }
        }
    }
    // The scanner pads the element with zeros; keep an even length for DICOM.
    out.extend_from_slice(&[0u8; 4]);
    out
}

fn put_i32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_le_bytes());
}
