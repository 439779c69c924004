//! The preview 1 functions, one file per area. Each takes the caller and
//! its arguments and returns an errno; `link.rs` registers them.

pub(crate) mod dir;
pub(crate) mod fd;
pub(crate) mod misc;
pub(crate) mod path;
pub(crate) mod poll;
