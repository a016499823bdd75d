//! The built-in `templates/` folder, embedded at build time (see `build.rs`).
include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
