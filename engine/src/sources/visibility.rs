//! visibility (in progress).
