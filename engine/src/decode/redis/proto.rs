//! The two protobuf payloads the decoder reads (docs/format/40-redis.md §3): a legacy whole-value zset
//! (`\x00RZ\x01` ‖ `RedisZSetValue`) and a stream entry (`\x00RXE\x01` ‖
//! `RedisStreamEntry`). proto3 `string` fields are UTF-8 validated on decode, as by Go's
//! runtime, so invalid UTF-8 is an error here too.

use prost::Message;

const ZSET_MAGIC: &[u8] = b"\x00RZ\x01";
const STREAM_MAGIC: &[u8] = b"\x00RXE\x01";

#[derive(Clone, PartialEq, Message)]
struct RedisZSetEntry {
    #[prost(string, tag = "1")]
    member: String,
    #[prost(double, tag = "2")]
    score: f64,
}

#[derive(Clone, PartialEq, Message)]
struct RedisZSetValue {
    #[prost(message, repeated, tag = "1")]
    entries: Vec<RedisZSetEntry>,
}

#[derive(Clone, PartialEq, Message)]
struct RedisStreamEntry {
    #[prost(string, tag = "1")]
    id: String,
    #[prost(string, repeated, tag = "2")]
    fields: Vec<String>,
}

/// The members of a legacy zset blob, in wire order (duplicates kept; the caller applies
/// "last wins"). The error is upstream's detail text.
pub fn decode_legacy_zset(value: &[u8]) -> Result<Vec<(String, f64)>, String> {
    let body = value
        .strip_prefix(ZSET_MAGIC)
        .ok_or_else(|| format!("missing or corrupt magic prefix (len={})", value.len()))?;
    let msg = RedisZSetValue::decode(body).map_err(|e| format!("unmarshal: {e}"))?;
    let mut out = Vec::with_capacity(msg.entries.len());
    for e in msg.entries {
        if e.score.is_nan() {
            return Err(format!("NaN score for member {:?}", e.member));
        }
        out.push((e.member, e.score));
    }
    Ok(out)
}

/// The interleaved `name, value, …` fields of a stream entry. The embedded `id` is
/// ignored (the key carries the ID). The error is upstream's detail text.
pub fn decode_stream_entry(value: &[u8]) -> Result<Vec<String>, String> {
    let body = value
        .strip_prefix(STREAM_MAGIC)
        .ok_or_else(|| format!("missing or corrupt magic prefix (len={})", value.len()))?;
    let msg = RedisStreamEntry::decode(body).map_err(|e| format!("unmarshal: {e}"))?;
    if msg.fields.len() % 2 != 0 {
        return Err(format!(
            "odd field count {} (XADD enforces name/value pairs)",
            msg.fields.len()
        ));
    }
    Ok(msg.fields)
}

/// Test helper and encoder building block: a stream entry value.
#[cfg(test)]
pub fn encode_stream_entry(id: &str, fields: &[&str]) -> Vec<u8> {
    let msg = RedisStreamEntry {
        id: id.to_string(),
        fields: fields.iter().map(|s| s.to_string()).collect(),
    };
    let mut v = STREAM_MAGIC.to_vec();
    v.extend_from_slice(&msg.encode_to_vec());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    #[test]
    fn v13_legacy_zset() {
        let v = h("00525a01 0a0d0a026d31110000000000000440 0a0d0a026d3011000000000000f0bf");
        assert_eq!(
            decode_legacy_zset(&v).unwrap(),
            vec![("m1".to_string(), 2.5), ("m0".to_string(), -1.0)]
        );
        assert!(decode_legacy_zset(b"")
            .unwrap_err()
            .contains("missing or corrupt magic prefix (len=0)"));
        // NaN score.
        let nan = h("00525a01 0a0c0a016d11 000000000000f87f");
        assert!(decode_legacy_zset(&nan).unwrap_err().contains("NaN score"));
        // Invalid UTF-8 member.
        let bad = h("00525a01 0a030a01ff");
        assert!(decode_legacy_zset(&bad)
            .unwrap_err()
            .starts_with("unmarshal: "));
    }

    #[test]
    fn v14_stream_entry() {
        let v = h("0052584501 0a0f313731343430303030303030302d30 12056576656e74 12056c6f67696e 120475736572 1205616c696365");
        assert_eq!(
            decode_stream_entry(&v).unwrap(),
            vec!["event", "login", "user", "alice"]
        );
        assert_eq!(
            decode_stream_entry(&encode_stream_entry("", &[]))
                .unwrap()
                .len(),
            0
        );
        let odd = encode_stream_entry("1-0", &["a"]);
        assert!(decode_stream_entry(&odd)
            .unwrap_err()
            .contains("odd field count 1"));
        assert!(decode_stream_entry(b"\x00RX\x01").is_err());
        let bad = h("0052584501 1201ff");
        assert!(decode_stream_entry(&bad)
            .unwrap_err()
            .starts_with("unmarshal: "));
    }
}
