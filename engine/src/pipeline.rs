//! Pipeline wiring (in progress).
