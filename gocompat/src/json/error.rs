//! Why a JSON document was refused, in the two kinds Go distinguishes.

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonError {
    /// Not valid JSON (Go's `checkValid` refuses it before decoding).
    Syntax {
        /// Byte offset of the problem.
        offset: usize,
        /// What was expected or found.
        what: &'static str,
    },
    /// Valid JSON whose value does not fit the field (Go's `UnmarshalTypeError`) or a
    /// `[]byte` field whose string is not standard base64.
    Type {
        /// The member name as Go reports it.
        field: &'static str,
        /// What went wrong.
        what: String,
    },
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JsonError::Syntax { offset, what } => {
                write!(f, "invalid JSON at byte {offset}: {what}")
            }
            JsonError::Type { field, what } => write!(f, "field {field}: {what}"),
        }
    }
}

impl std::error::Error for JsonError {}
