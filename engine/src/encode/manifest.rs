//! MANIFEST.json (in progress).
