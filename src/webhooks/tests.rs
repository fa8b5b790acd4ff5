//! Delivery tests (filled below).
