//! Remote ICE candidates waiting for their mDNS name to resolve, before
//! they reach the ICE agent (sans-IO; the PeerConnection and the ICE C
//! layer use it, the driver does the lookups).

use std::collections::{HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};

use crate::ice::agent::MAX_REMOTE_CANDIDATES;
use crate::ice::{Candidate, CandidateAddress, IceError};

/// Candidates held back until their `.local` name resolves, the names to
/// look up, and the peer's end-of-candidates while any is held.
#[derive(Debug, Default)]
pub struct PendingCandidates {
    waiting: Vec<Candidate>,
    /// The names (lower case) of the waiting candidates.
    asked: HashSet<String>,
    lookups: VecDeque<String>,
    deferred_eoc: bool,
}

/// What a lookup's outcome releases.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Released {
    /// The candidates with the name, now with the resolved address (and
    /// their own port); empty when the lookup failed.
    pub ready: Vec<Candidate>,
    /// Candidates dropped because the name did not resolve.
    pub dropped: usize,
    /// The peer's end-of-candidates, to be passed on now.
    pub end_of_candidates: bool,
}

#[cfg_attr(xp2p_device, optimize(size))]
fn name_of(c: &Candidate) -> Option<&str> {
    match &c.address {
        CandidateAddress::Mdns { hostname, .. } => Some(hostname),
        CandidateAddress::Ip(_) => None,
    }
}

impl PendingCandidates {
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn new() -> Self {
        Self::default()
    }

    /// A remote candidate: given back when its address is an IP address
    /// (use it now); kept when it is a name, whose lookup is queued unless
    /// already asked for. At most [`MAX_REMOTE_CANDIDATES`] wait; one more
    /// is refused with [`IceError::Limit`].
    pub fn take(&mut self, cand: Candidate) -> Result<Option<Candidate>, IceError> {
        let Some(name) = name_of(&cand).map(str::to_ascii_lowercase) else {
            return Ok(Some(cand));
        };
        if self.waiting.len() >= MAX_REMOTE_CANDIDATES {
            return Err(IceError::Limit("mdns candidates waiting"));
        }
        if self.asked.insert(name.clone()) {
            self.lookups.push_back(name);
        }
        self.waiting.push(cand);
        Ok(None)
    }

    /// The peer's end-of-candidates: true to pass it on now, false when it
    /// is held until no candidate waits any more.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn end_of_candidates(&mut self) -> bool {
        if self.waiting.is_empty() {
            return true;
        }
        self.deferred_eoc = true;
        false
    }

    /// The next name (lower case) to look up.
    pub fn poll_lookup(&mut self) -> Option<String> {
        self.lookups.pop_front()
    }

    /// Candidates waiting for their name.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// The outcome of looking `name` up (`None`: it failed).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn resolved(&mut self, name: &str, addr: Option<IpAddr>) -> Released {
        match addr {
            Some(ip) => log::debug!(target: "mdns", "{name} resolved to {ip}"),
            None => {
                log::info!(target: "mdns", "{name} did not resolve: its remote candidates are dropped")
            }
        }
        let mut out = Released::default();
        self.asked.remove(&name.to_ascii_lowercase());
        let mut i = 0;
        while i < self.waiting.len() {
            if !name_of(&self.waiting[i]).is_some_and(|n| n.eq_ignore_ascii_case(name)) {
                i += 1;
                continue;
            }
            let mut cand = self.waiting.swap_remove(i);
            match addr {
                Some(ip) => {
                    let port = cand.address.port();
                    cand.address = CandidateAddress::Ip(SocketAddr::new(ip, port));
                    if cand.related.as_ref().is_some_and(CandidateAddress::is_mdns) {
                        cand.related = None;
                    }
                    out.ready.push(cand);
                }
                None => out.dropped += 1,
            }
        }
        if self.waiting.is_empty() && self.deferred_eoc {
            self.deferred_eoc = false;
            out.end_of_candidates = true;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_wait_addresses_pass_and_end_of_candidates_follows_the_last() {
        let mut p = PendingCandidates::new();
        let ip = Candidate::parse("candidate:1 1 udp 1 10.0.0.1 5000 typ host").unwrap();
        assert_eq!(p.take(ip.clone()), Ok(Some(ip)));
        let n1 = Candidate::parse("candidate:1 1 udp 9 Ab.local 5000 typ host").unwrap();
        let n2 = Candidate::parse("candidate:2 1 udp 8 ab.LOCAL 5001 typ host").unwrap();
        let n3 = Candidate::parse("candidate:3 1 udp 7 cd.local 5002 typ host").unwrap();
        assert_eq!(p.take(n1), Ok(None));
        assert_eq!(p.take(n2), Ok(None));
        assert_eq!(p.take(n3), Ok(None));
        assert_eq!(p.poll_lookup().as_deref(), Some("ab.local"));
        assert_eq!(p.poll_lookup().as_deref(), Some("cd.local"));
        assert_eq!(p.poll_lookup(), None);
        assert!(!p.end_of_candidates());
        let r = p.resolved("AB.local", Some("10.0.0.9".parse().unwrap()));
        let addrs: Vec<_> = r.ready.iter().map(|c| c.address.clone()).collect();
        assert_eq!(addrs.len(), 2);
        assert!(addrs.contains(&CandidateAddress::Ip("10.0.0.9:5000".parse().unwrap())));
        assert!(addrs.contains(&CandidateAddress::Ip("10.0.0.9:5001".parse().unwrap())));
        assert!(!r.end_of_candidates);
        let r = p.resolved("cd.local", None);
        assert_eq!(
            (r.ready.len(), r.dropped, r.end_of_candidates),
            (0, 1, true)
        );
        assert!(p.is_empty());
        assert!(p.end_of_candidates());
    }

    #[test]
    fn waiting_candidates_are_bounded() {
        let mut p = PendingCandidates::new();
        for i in 0..MAX_REMOTE_CANDIDATES {
            let line = format!("candidate:{i} 1 udp 1 n{i}.local 5000 typ host");
            assert_eq!(p.take(Candidate::parse(&line).unwrap()), Ok(None));
        }
        let one_more = Candidate::parse("candidate:x 1 udp 1 more.local 5000 typ host").unwrap();
        assert!(matches!(p.take(one_more), Err(IceError::Limit(_))));
        // IP candidates still pass; a resolved name makes room again.
        let ip = Candidate::parse("candidate:1 1 udp 1 10.0.0.1 5000 typ host").unwrap();
        assert_eq!(p.take(ip.clone()), Ok(Some(ip)));
        assert_eq!(p.resolved("N0.local", None).dropped, 1);
        let again = Candidate::parse("candidate:y 1 udp 1 n0.local 5000 typ host").unwrap();
        assert_eq!(p.take(again), Ok(None));
        assert_eq!(p.len(), MAX_REMOTE_CANDIDATES);
    }
}
