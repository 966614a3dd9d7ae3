//! Arbitrary text into the candidate parser: never a panic, and whatever
//! parses formats to a line that parses back to the same candidate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xp2p::ice::Candidate;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(c) = Candidate::parse(&text) {
        let again = Candidate::parse(&c.to_string()).expect("formatted candidate parses");
        assert_eq!(again, c);
    }
});
