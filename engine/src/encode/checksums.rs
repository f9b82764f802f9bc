//! CHECKSUMS (in progress).
