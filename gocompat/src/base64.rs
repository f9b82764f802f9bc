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
    URL_RAW.decode(without_newlines(s)).ok()
}

/// Go's `base64.StdEncoding.DecodeString`: standard alphabet, padding required.
pub fn std_decode(s: &[u8]) -> Option<Vec<u8>> {
    STD_PADDED.decode(without_newlines(s)).ok()
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
    }
}
