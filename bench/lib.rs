//! Empty: the crate exists for its benches (`benches/`).
