//! CRC-32 (IEEE 802.3, the polynomial of zlib, PNG and Ethernet), table-driven, in std alone.
//!
//! A write-ahead log frames every record with a checksum of its payload, so that recovery can
//! tell a whole record from a torn or garbled one. The crate `crc32fast` computes the same
//! function with SIMD; this copy exists so that the chapter's runnable listing works on the
//! Rust playground, which does not offer `crc32fast`. A test checks the two agree on random
//! inputs.
//!
//! The algorithm is the reflected CRC: bits are processed least-significant first, with the
//! reversed polynomial `0xEDB88320`, an initial value of all ones and a final complement. A
//! table of 256 entries, computed at compile time, handles one byte per step (Sarwate 1988).
//! A CRC detects every burst error up to 32 bits long and misses a random corruption with
//! probability about 2^-32; it is not a defence against an adversary (use a MAC for that,
//! chapter 3).

/// The reversed IEEE polynomial.
const POLY: u32 = 0xEDB8_8320;

/// `TABLE[b]` is the CRC register after shifting byte `b` through an empty register.
const TABLE: [u32; 256] = make_table();

const fn make_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

// ANCHOR: crc32
/// The CRC-32 (IEEE) of `bytes`: equal to `crc32fast::hash(bytes)`.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc = TABLE[((crc ^ b as u32) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}
// ANCHOR_END: crc32

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_check_values() {
        // The standard check value of CRC-32/ISO-HDLC is the CRC of "123456789".
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"a"), 0xE8B7_BE43);
    }
}
