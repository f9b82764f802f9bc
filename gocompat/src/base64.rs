//! Base64 decoding with the leniency of Go's `encoding/base64` (non-strict mode).
//!
//! Why: upstream decodes SQS key segments with `base64.RawURLEncoding` and `[]byte`
//! JSON fields with `base64.StdEncoding`. Go skips `\r`/`\n` anywhere in the input and
//! tolerates non-zero trailing bits; the `base64` crate's stock engines refuse both. A
//! key or field upstream accepts must be accepted here, and one it refuses refused.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

const URL_RAW: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

const STD_PADDED: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// `s` without the `\r`/`\n` that Go's decoder skips; borrowed (no copy) when there are
/// none, which a vectorised search settles for the usual newline-free text.
fn without_newlines(s: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if memchr::memchr2(b'\r', b'\n', s).is_some() {
        s.iter()
            .copied()
            .filter(|&c| c != b'\r' && c != b'\n')
            .collect::<Vec<u8>>()
            .into()
    } else {
        s.into()
    }
}

/// Go's `base64.RawURLEncoding.DecodeString`: URL alphabet, no padding.
pub fn url_raw_decode(s: &[u8]) -> Option<Vec<u8>> {
    strict(&base64_simd::URL_SAFE_NO_PAD, s).or_else(|| URL_RAW.decode(without_newlines(s)).ok())
}

/// Go's `base64.StdEncoding.DecodeString`: standard alphabet, padding required.
pub fn std_decode(s: &[u8]) -> Option<Vec<u8>> {
    strict(&base64_simd::STANDARD, s).or_else(|| STD_PADDED.decode(without_newlines(s)).ok())
}

/// The vectorised strict decode: what it accepts (canonical input: no line breaks, zero
/// trailing bits) Go accepts with the same bytes. Anything else is left to the lenient
/// decoder above, which decides as Go does.
fn strict(b64: &base64_simd::Base64, s: &[u8]) -> Option<Vec<u8>> {
    b64.decode_to_vec(s).ok()
}

/// Appends Go's `base64.StdEncoding` of `data` (standard alphabet, padded) to `out`.
pub fn append_std(out: &mut Vec<u8>, data: &[u8]) {
    append(out, &base64_simd::STANDARD, data);
}

/// Appends Go's `base64.RawURLEncoding` of `data` (URL alphabet, no padding) to `out`.
pub fn append_url_raw(out: &mut Vec<u8>, data: &[u8]) {
    append(out, &base64_simd::URL_SAFE_NO_PAD, data);
}

/// Encodes straight into `out`'s tail: binary values are written as base64 in every adapter,
/// and an intermediate string per value would be an allocation per value.
fn append(out: &mut Vec<u8>, b64: &base64_simd::Base64, data: &[u8]) {
    let start = out.len();
    out.resize(start + b64.encoded_length(data.len()), 0);
    let written = b64
        .encode(data, base64_simd::Out::from_slice(&mut out[start..]))
        .len();
    out.truncate(start + written);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_like_go() {
        assert_eq!(url_raw_decode(b"b3JkZXJz").unwrap(), b"orders");
        assert_eq!(url_raw_decode(b"b3Jk\nZXJz").unwrap(), b"orders");
        assert_eq!(url_raw_decode(b"cQ").unwrap(), b"q");
        assert_eq!(url_raw_decode(b"cR").unwrap(), b"q"); // non-zero trailing bits
        assert_eq!(url_raw_decode(b"").unwrap(), b"");
        assert!(url_raw_decode(b"cQ==").is_none());
        assert!(url_raw_decode(b"c").is_none());
        assert!(url_raw_decode(b"a+b/").is_none());
        assert_eq!(std_decode(b"/w==").unwrap(), [0xff]);
        assert_eq!(std_decode(b"AAEC").unwrap(), [0, 1, 2]);
        assert!(std_decode(b"/w").is_none());
        assert!(std_decode(b"_w==").is_none());
        assert_eq!(std_decode(b"").unwrap(), b"");
        // Non-zero trailing bits and line breaks: refused by the vectorised decoder,
        // accepted by Go.
        assert_eq!(std_decode(b"/x==").unwrap(), [0xff]);
        assert_eq!(std_decode(b"AA\r\nEC").unwrap(), [0, 1, 2]);
    }

    /// The vectorised encoders and decoders against the `base64` crate's engines (which the
    /// tests above hold to Go's behaviour), on random data of every length up to 100 and on
    /// encodings with one byte changed: same text out, and what the fast decoder accepts the
    /// lenient one accepts with the same bytes.
    #[test]
    fn vectorised_paths_agree_with_the_reference_engines() {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for len in 0..100usize {
            for _ in 0..20 {
                let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                let mut got = b"x".to_vec();
                append_std(&mut got, &data);
                assert_eq!(got[1..], STANDARD.encode(&data).into_bytes()[..]);
                let mut got = Vec::new();
                append_url_raw(&mut got, &data);
                assert_eq!(got, URL_SAFE_NO_PAD.encode(&data).into_bytes());
                for (text, fast, lenient) in [
                    (STANDARD.encode(&data), &base64_simd::STANDARD, &STD_PADDED),
                    (
                        URL_SAFE_NO_PAD.encode(&data),
                        &base64_simd::URL_SAFE_NO_PAD,
                        &URL_RAW,
                    ),
                ] {
                    let mut t = text.into_bytes();
                    assert_eq!(strict(fast, &t), Some(data.clone()));
                    if !t.is_empty() {
                        let at = next() as usize % t.len();
                        t[at] = b"A/_+-=\n\x00"[next() as usize % 8];
                    }
                    if let Some(v) = strict(fast, &t) {
                        assert_eq!(lenient.decode(&t).ok(), Some(v), "{t:?}");
                    }
                }
            }
        }
    }
}
