//! Frames entries as an `EKVPBBL1` payload (not yet implemented).
