//! The exported C functions of libxbase, one module per public header.
//! `scripts/gen-headers.sh` turns each file into `include/xbase/<name>.h`
//! (with `cbindgen/xbase/<name>.toml`). The machinery lives in `evloop`.

pub mod base;
pub mod error;
pub mod event;
pub mod socket;
pub mod task;
pub mod time;
