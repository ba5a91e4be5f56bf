//! Progress bars on stderr (indicatif), implementing the library crates' progress traits.
