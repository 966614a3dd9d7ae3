//! Compiles the shim against the system mbedTLS 2.28 headers (Debian
//! `libmbedtls-dev`) and links its three libraries.

fn main() {
    println!("cargo:rerun-if-changed=src/shim.c");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=MBEDTLS_INCLUDE_DIR");
    println!("cargo:rerun-if-env-changed=MBEDTLS_LIB_DIR");
    let mut b = cc::Build::new();
    b.file("src/shim.c").warnings(true).extra_warnings(true);
    if let Ok(dir) = std::env::var("MBEDTLS_INCLUDE_DIR") {
        b.include(dir);
    }
    b.compile("xp2p_mbedtls_shim");
    if let Ok(dir) = std::env::var("MBEDTLS_LIB_DIR") {
        println!("cargo:rustc-link-search=native={dir}");
    }
    // Order matters for static linking: TLS needs X.509 needs crypto.
    println!("cargo:rustc-link-lib=mbedtls");
    println!("cargo:rustc-link-lib=mbedx509");
    println!("cargo:rustc-link-lib=mbedcrypto");
}
