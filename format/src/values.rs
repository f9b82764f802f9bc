//! Stored values that are protobuf messages, written byte for byte as elastickv writes them.
//!
//! Why here: `encode` (the reverse direction), the generators and the loopback server all
//! write DynamoDB schema and item rows. Each once carried its own protobuf writer and its
//! own copy of the magics; one writer means one place that knows Go's deterministic
//! marshalling (docs/format/10-dynamodb.md §4): fields in ascending order, map entries
//! sorted by key with *both* fields written even when empty (prost leaves an empty key or
//! value out, Go does not), a oneof's chosen member written even when it is the default.

/// A protobuf message being written. Fields are appended in call order, so callers write
/// them in ascending field order; proto3 defaults are skipped by the caller where Go skips
/// them (every method here writes its field).
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub struct Pb(pub Vec<u8>);

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

impl Pb {
    /// A varint field (written even when 0: callers skip defaults themselves).
    pub fn uint(mut self, field: u32, v: u64) -> Self {
        varint(&mut self.0, u64::from(field) << 3);
        varint(&mut self.0, v);
        self
    }

    /// A length-delimited field.
    pub fn bytes(mut self, field: u32, v: &[u8]) -> Self {
        varint(&mut self.0, (u64::from(field) << 3) | 2);
        varint(&mut self.0, v.len() as u64);
        self.0.extend_from_slice(v);
        self
    }

    /// A map entry `{1: key, 2: value}` (both always written, as Go does).
    pub fn entry(self, field: u32, key: &str, value: &[u8]) -> Self {
        let e = Pb::default().bytes(1, key.as_bytes()).bytes(2, value);
        self.bytes(field, &e.0)
    }
}

/// DynamoDB rows: `DynamoTableSchema` and `DynamoItem` with their magics, and the
/// `DynamoAttributeValue` oneof (docs/format/10-dynamodb.md §4).
pub mod ddb {
    use super::Pb;

    /// Prefix of a table-schema value: `\x00DS\x01 ‖ DynamoTableSchema`.
    pub const SCHEMA_MAGIC: &[u8; 4] = b"\x00DS\x01";
    /// Prefix of an item value: `\x00DI\x01 ‖ DynamoItem`.
    pub const ITEM_MAGIC: &[u8; 4] = b"\x00DI\x01";

    /// The three set types of `DynamoAttributeValue` (their oneof field numbers).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum SetKind {
        /// `SS`: strings.
        Strings = 6,
        /// `NS`: numbers (as their decimal text).
        Numbers = 7,
        /// `BS`: binaries.
        Binaries = 8,
    }

    /// An attribute value with no member set (a oneof left empty): zero bytes.
    pub fn unset() -> Vec<u8> {
        Vec::new()
    }

    /// `S`: a string.
    pub fn s(v: &[u8]) -> Vec<u8> {
        Pb::default().bytes(1, v).0
    }

    /// `N`: a number, as its decimal text.
    pub fn n(v: &[u8]) -> Vec<u8> {
        Pb::default().bytes(2, v).0
    }

    /// `B`: binary.
    pub fn b(v: &[u8]) -> Vec<u8> {
        Pb::default().bytes(3, v).0
    }

    /// `BOOL` (written even when false: it is the chosen oneof member).
    pub fn boolean(v: bool) -> Vec<u8> {
        Pb::default().uint(4, u64::from(v)).0
    }

    /// `NULL` (its flag as stored; `true` for every NULL a client writes).
    pub fn null(v: bool) -> Vec<u8> {
        Pb::default().uint(5, u64::from(v)).0
    }

    /// `SS`, `NS` or `BS`: the members in the order given (DynamoDB sets keep the stored
    /// order; nothing here sorts them).
    pub fn set<'a>(kind: SetKind, members: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
        let inner = repeated(members);
        Pb::default().bytes(kind as u32, &inner).0
    }

    /// `L`: a list of encoded attribute values.
    pub fn list<'a>(elements: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
        let inner = repeated(elements);
        Pb::default().bytes(9, &inner).0
    }

    /// `M`: a map of names to encoded attribute values, written in name order.
    pub fn map<'a>(entries: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Vec<u8> {
        let inner = entries_sorted(Pb::default(), entries);
        Pb::default().bytes(10, &inner.0).0
    }

    /// A whole item value: [`ITEM_MAGIC`] ‖ `DynamoItem{attributes}` in name order.
    pub fn item<'a>(attributes: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Vec<u8> {
        entries_sorted(Pb(ITEM_MAGIC.to_vec()), attributes).0
    }

    fn repeated<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
        let mut inner = Pb::default();
        for v in values {
            inner = inner.bytes(1, v);
        }
        inner.0
    }

    fn entries_sorted<'a>(
        mut out: Pb,
        entries: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Pb {
        let mut entries: Vec<(&str, &[u8])> = entries.into_iter().collect();
        // Go's deterministic marshalling sorts map keys (bytewise, as Go compares strings).
        entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        for (name, v) in entries {
            out = out.entry(1, name, v);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::ddb::*;
    use super::*;

    #[test]
    fn varints_and_fields() {
        assert_eq!(Pb::default().uint(5, 300).0, vec![0x28, 0xac, 0x02]);
        assert_eq!(Pb::default().bytes(1, b"ab").0, b"\x0a\x02ab".to_vec());
    }

    #[test]
    fn an_empty_value_keeps_both_map_entry_fields() {
        // docs/format/10-dynamodb.md §4: `0a 05 0a 01 78 12 00`, not `0a 03 0a 01 78`.
        assert_eq!(
            hex(&item([("x", unset().as_slice())])),
            "004449010a050a01781200"
        );
    }

    #[test]
    fn spec_item_v2_attributes_in_name_order() {
        // docs/format/10-dynamodb.md, vector V2; attributes given out of order.
        let got = item([("id", s(b"u1").as_slice()), ("age", n(b"42").as_slice())]);
        assert_eq!(
            hex(&got),
            "004449010a0b0a036167651204120234320a0a0a02696412040a027531"
        );
    }

    #[test]
    fn sets_lists_and_maps_nest() {
        let l = list([n(b"1e2").as_slice(), s(b"x").as_slice()]);
        assert_eq!(hex(&l), "4a0c0a0512033165320a030a0178");
        let ss = set(SetKind::Strings, [&b"z"[..], b"a"]);
        assert_eq!(hex(&ss), "32060a017a0a0161");
        assert_eq!(hex(&map([])), "5200");
        assert_eq!(hex(&boolean(false)), "2000");
        assert_eq!(hex(&null(true)), "2801");
    }

    fn hex(v: &[u8]) -> String {
        v.iter().map(|b| format!("{b:02x}")).collect()
    }
}
