//! The filename codec is a bijection on what it can represent: decoding an encoded segment
//! gives the original bytes back (or says the name needs KEYMAP.jsonl), and a non-empty,
//! non-dot encoded segment is always a safe path segment.
#![no_main]

use elastickv_backup_engine::encode::filename::{
    decode_segment, encode_binary_segment, encode_segment, is_sha_fallback, DecodedSegment,
};
use elastickv_backup_engine::sinks::RelPath;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let enc = encode_segment(data);
    assert!(enc.len() <= 240);
    match decode_segment(&enc).expect("our own encoding must decode") {
        DecodedSegment::Bytes(b) => assert_eq!(b, data),
        DecodedSegment::NeedsKeymap => assert!(is_sha_fallback(&enc)),
        DecodedSegment::Binary(_) => panic!("text segment decoded as binary"),
    }
    if !enc.is_empty() && enc != "." && enc != ".." {
        RelPath::root().join(&enc).expect("encoded segment is a safe path segment");
    }
    let b = encode_binary_segment(data);
    match decode_segment(&b).expect("binary encoding must decode") {
        DecodedSegment::Binary(x) => assert_eq!(x, data),
        DecodedSegment::NeedsKeymap => assert!(data.len() >= 178),
        DecodedSegment::Bytes(_) => panic!("binary segment decoded as text"),
    }
});
