//! `base.h`: the xKit declaration macros (`XCAPI`, `XDEF_STRUCT`,
//! `XDEF_ENUM`, `XDEF_HANDLE`, `xContainerOf`) and the `bool` setup. The
//! header is pure preprocessor text, written in `cbindgen/xbase/base.toml`;
//! there is nothing to export from Rust.
