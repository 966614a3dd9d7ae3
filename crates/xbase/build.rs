//! Gives libxbase.so its SONAME so installed programs bind to the ABI major.

fn main() {
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libxbase.so.{major}");
    println!("cargo:rerun-if-changed=build.rs");
}
