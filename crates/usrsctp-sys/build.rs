//! Links the system usrsctp found by pkg-config (Debian: libusrsctp-dev).

fn main() {
    if let Err(e) = pkg_config::Config::new()
        .atleast_version("0.9.5")
        .probe("usrsctp")
    {
        panic!("usrsctp not found by pkg-config ({e}); install libusrsctp-dev");
    }
}
