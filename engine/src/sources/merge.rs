//! k-way merge (in progress).
