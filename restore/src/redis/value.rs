//! The dump's binary-safe `<value>` (docs/format/40-redis.md §6: a JSON string for UTF-8
//! bytes, else `{"base64": "<base64url, no padding>"}`) and zset scores (same section: a JSON
//! number or the strings `"+inf"` / `"-inf"`), read back into the bytes and floats to send.

use super::json::{JsonReader, Scalar};
use super::RestoreError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use std::io::BufRead;

/// Reads one `<value>`.
pub fn read_value<R: BufRead>(r: &mut JsonReader<R>, what: &str) -> Result<Vec<u8>, RestoreError> {
    match r.peek_value()? {
        b'"' => r.read_string(),
        b'{' => {
            r.begin_object()?;
            let mut first = true;
            let mut bytes = None;
            while let Some(k) = r.next_key(&mut first)? {
                if k == b"base64" {
                    let text = match r.read_scalar()? {
                        Scalar::Str(s) => s,
                        _ => return Err(r.error(format!("{what}: \"base64\" must be a string"))),
                    };
                    bytes = Some(URL_SAFE_NO_PAD.decode(&text).map_err(|e| {
                        r.error(format!("{what}: \"base64\" is not unpadded base64url: {e}"))
                    })?);
                } else {
                    r.skip_value()?;
                }
            }
            bytes.ok_or_else(|| r.error(format!("{what}: object without a \"base64\" string")))
        }
        _ => Err(r.error(format!(
            "{what}: expected a string or a {{\"base64\": …}} object"
        ))),
    }
}

/// Reads a zset score; NaN is refused (Redis cannot hold it, and the decoder never writes
/// it).
pub fn read_score<R: BufRead>(r: &mut JsonReader<R>) -> Result<f64, RestoreError> {
    let v = match r.read_scalar()? {
        Scalar::Num(n) => n
            .parse::<f64>()
            .map_err(|_| r.error(format!("score {n} is not a number")))?,
        Scalar::Str(s) => match std::str::from_utf8(&s).map(str::trim) {
            Ok("+inf") => f64::INFINITY,
            Ok("-inf") => f64::NEG_INFINITY,
            _ => {
                return Err(r.error(format!(
                    "score {:?} is neither a number nor \"+inf\"/\"-inf\"",
                    String::from_utf8_lossy(&s)
                )))
            }
        },
        other => return Err(r.error(format!("score: expected a number, found {other:?}"))),
    };
    if v.is_nan() {
        return Err(r.error("score is NaN"));
    }
    Ok(v)
}

/// A score as a ZADD argument that parses back to exactly `v` (shortest round-trip digits;
/// `+inf`/`-inf` spelled as Redis and elastickv accept them).
pub fn score_arg(v: f64) -> String {
    if v == f64::INFINITY {
        "+inf".into()
    } else if v == f64::NEG_INFINITY {
        "-inf".into()
    } else {
        format!("{v:e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn rd(s: &[u8]) -> JsonReader<&[u8]> {
        JsonReader::new(s, Path::new("t.json"))
    }

    #[test]
    fn values_round_trip_the_envelope() {
        assert_eq!(read_value(&mut rd(b"\"30\""), "v").unwrap(), b"30");
        assert_eq!(read_value(&mut rd(b"\"\""), "v").unwrap(), b"");
        // Spec 40 V6/V9: {"base64":"_w"} = ff, {"base64":"_g"} = fe.
        assert_eq!(
            read_value(&mut rd(b"{\n  \"base64\": \"_w\"\n}"), "v").unwrap(),
            [0xff]
        );
        assert_eq!(
            read_value(&mut rd(b"{\"base64\":\"AP8\"}"), "v").unwrap(),
            [0, 0xff]
        );
        for bad in [
            &b"{}"[..],
            b"{\"base64\":null}",
            b"{\"base64\":\"_w==\"}",
            b"1",
        ] {
            assert!(read_value(&mut rd(bad), "v").is_err());
        }
    }

    #[test]
    fn scores_parse_exactly() {
        for (text, want) in [
            (&b"100"[..], 100.0),
            (b"1e+21", 1e21),
            (b"1e-7", 1e-7),
            (b"-1e+300", -1e300),
            (b"0.1", 0.1),
            (b"\"+inf\"", f64::INFINITY),
            (b"\" -inf \"", f64::NEG_INFINITY),
        ] {
            assert_eq!(read_score(&mut rd(text)).unwrap(), want);
        }
        let z = read_score(&mut rd(b"-0")).unwrap();
        assert!(z == 0.0 && z.is_sign_negative());
        assert!(read_score(&mut rd(b"\"nan\"")).is_err());
        assert!(read_score(&mut rd(b"null")).is_err());
    }

    #[test]
    fn score_arguments_are_exact() {
        for v in [100.0, 2.5, -1e300, 0.1, 1e-7, 5e-324, f64::MAX, -0.0] {
            let s = score_arg(v);
            let back: f64 = s.parse().unwrap();
            assert_eq!(back.to_bits(), v.to_bits(), "{s}");
        }
        assert_eq!(score_arg(f64::INFINITY), "+inf");
        assert_eq!(score_arg(f64::NEG_INFINITY), "-inf");
        assert_eq!(score_arg(2.5), "2.5e0");
    }
}
