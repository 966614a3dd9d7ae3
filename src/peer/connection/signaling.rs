//! The signaling half of [`PeerConnection`]: offers and answers, the
//! remote description and trickled candidates (with their mDNS names).

use super::*;

impl PeerConnection {
    /// Makes us the offerer and returns the offer: WebRTC SDP (spec §4.2
    /// layout) with the candidates gathered so far, trickle, `a=setup:actpass`,
    /// mid `0`, our sctp-port, `a=max-message-size` and our fingerprint.
    /// Starts gathering if needed.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn create_offer(&mut self, now: Instant) -> Result<String, PeerError> {
        if self.state == PeerState::Closed {
            return Err(PeerError::InvalidState("closed"));
        }
        if self.side == Side::Answerer {
            return Err(PeerError::InvalidState("already answering a remote offer"));
        }
        self.side = Side::Offerer;
        self.gather(now)?;
        Ok(self.local_description(Setup::Actpass))
    }

    /// Returns the answer to the remote offer set with
    /// [`set_remote_description`](Self::set_remote_description):
    /// `a=setup:active` (we are the DTLS client) unless the offer said
    /// `active`, then `passive`. The answer mirrors the offer (RFC 3264,
    /// RFC 8843): one section per offered one, in order, with the offered
    /// mids; the data-channel section is accepted, every other one (audio,
    /// video) rejected with port 0; `a=group:BUNDLE` repeats the accepted
    /// mid when the offer bundled it. Starts gathering if needed.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn create_answer(&mut self, now: Instant) -> Result<String, PeerError> {
        if self.state == PeerState::Closed {
            return Err(PeerError::InvalidState("closed"));
        }
        if self.side != Side::Answerer || self.remote.is_none() {
            return Err(PeerError::InvalidState("no remote offer"));
        }
        self.gather(now)?;
        let setup = match self.dtls_role {
            Some(DtlsRole::Server) => Setup::Passive,
            _ => Setup::Active,
        };
        Ok(self.local_description(setup))
    }

    /// Applies our own description: starts gathering if needed; the text
    /// itself is not used (offer and answer come from this object).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn set_local_description(&mut self, now: Instant, sdp: &str) -> Result<(), PeerError> {
        let _ = sdp;
        self.gather(now)
    }

    /// Applies the peer's offer or answer: its `sha-256` fingerprint is
    /// pinned for the DTLS handshake, `a=setup` decides our DTLS role, the
    /// ICE role follows the offer/answer side (offerer controlling), and the
    /// ICE credentials and candidates go to the agent.
    ///
    /// Refused, with nothing applied, as browsers refuse them:
    /// [`PeerError::Sdp`] for SDP that does not parse;
    /// [`PeerError::InvalidDescription`] for a description that is not a
    /// data-channel one, has no `sha-256` fingerprint, an `a=ice-ufrag` not
    /// of 4–256 or an `a=ice-pwd` not of 22–256 ice-chars, an `a=sctp-port`
    /// outside 1–65535 or an `a=max-message-size` that is not a non-negative
    /// integer; [`PeerError::InvalidState`] for a description of the wrong
    /// type in the current offer/answer state (RFC 8829 §5.6): our own
    /// description (our fingerprint), an offer (`a=setup:actpass`) while we
    /// wait for the answer to ours, an answer (`a=setup:passive`, which no
    /// offer carries) without an offer of ours, or any description once one
    /// was applied (no renegotiation). An `a=setup:active` description
    /// without an offer of ours is taken as an offer (legacy offerers).
    /// Candidates of the description that can never work are skipped.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn set_remote_description(&mut self, now: Instant, sdp: &str) -> Result<(), PeerError> {
        if self.state == PeerState::Closed {
            return Err(PeerError::InvalidState("closed"));
        }
        if self.remote.is_some() {
            return Err(PeerError::InvalidState("remote description already set"));
        }
        let desc = SessionDescription::decode(sdp)?;
        if !desc.is_webrtc {
            return Err(PeerError::InvalidDescription(
                "not a WebRTC data-channel description",
            ));
        }
        if !is_valid_ufrag(&desc.ufrag) {
            return Err(PeerError::InvalidDescription(
                "a=ice-ufrag is not 4 to 256 ice-chars",
            ));
        }
        if !is_valid_pwd(&desc.pwd) {
            return Err(PeerError::InvalidDescription(
                "a=ice-pwd is not 22 to 256 ice-chars",
            ));
        }
        if let Some(&attr) = desc.invalid_attributes.first() {
            return Err(PeerError::InvalidDescription(match attr {
                "sctp-port" => "a=sctp-port is not 1 to 65535",
                "max-message-size" => "a=max-message-size is not a non-negative integer",
                _ => "an attribute has an illegal value",
            }));
        }
        let fingerprint = desc
            .fingerprints
            .iter()
            .find(|f| f.algorithm == "sha-256" && f.bytes.len() == FINGERPRINT_LEN)
            .map(|f| {
                let mut b = [0u8; FINGERPRINT_LEN];
                b.copy_from_slice(&f.bytes);
                Fingerprint(b)
            })
            .ok_or(PeerError::InvalidDescription("no sha-256 fingerprint"))?;
        if fingerprint == self.certificate.fingerprint() {
            return Err(PeerError::InvalidState(
                "the description is our own (our fingerprint)",
            ));
        }
        match (self.side, desc.setup) {
            (Side::Offerer, Some(Setup::Actpass)) => {
                return Err(PeerError::InvalidState(
                    "an offer while waiting for the answer to ours",
                ))
            }
            (Side::Undecided, Some(Setup::Passive)) => {
                return Err(PeerError::InvalidState("an answer without an offer"))
            }
            _ => {}
        }
        // RFC 4145: no a=setup means active. An offerer is the DTLS server
        // when the answer says active, else the client; an answerer is the
        // server when the offer says active, else (actpass, passive) the
        // client.
        let role = match desc.setup {
            None | Some(Setup::Active) => DtlsRole::Server,
            Some(Setup::Passive) | Some(Setup::Actpass) => DtlsRole::Client,
        };
        let ice_role = match self.side {
            Side::Offerer => Role::Controlling,
            Side::Undecided | Side::Answerer => {
                self.side = Side::Answerer;
                self.offer = Some(SessionDescription {
                    candidates: Vec::new(),
                    ..desc.clone()
                });
                Role::Controlled
            }
        };
        let remote_mms = match desc.max_message_size {
            None => channel::DEFAULT_REMOTE_MAX_MESSAGE_SIZE,
            Some(n) => usize::try_from(n).unwrap_or(0),
        };
        let mut dtls_cfg = DtlsConfig::new(role, self.certificate.clone());
        dtls_cfg.remote_fingerprint = Some(fingerprint);
        dtls_cfg.handshake_timeout = self.dtls_handshake_timeout;
        let mut dtls = DtlsSession::new(dtls_cfg)?;
        while let Some(d) = self.early_dtls.pop_front() {
            dtls.handle_datagram(now, &d);
        }
        self.dtls = Some(dtls);
        self.dtls_role = Some(role);
        self.remote = Some(Remote {
            sctp_port: desc
                .sctp_port
                .filter(|&p| p != 0)
                .unwrap_or(DEFAULT_SCTP_PORT),
            max_message_size: remote_mms,
        });
        self.channels.set_remote_max_message_size(remote_mms);

        self.ice.set_role(ice_role);
        self.ice.set_remote_credentials(&desc.ufrag, &desc.pwd);
        for cand in desc.candidates {
            let _ = self.take_remote_candidate(now, cand);
        }
        if desc.end_of_candidates {
            self.remote_end_of_candidates();
        }
        if self.ice_connected {
            self.start_dtls(now);
        }
        self.process(now);
        Ok(())
    }

    /// Adds a trickled remote candidate: `a=candidate:…`, `candidate:…`,
    /// the bare value, or `a=end-of-candidates` (also an empty line, as
    /// browsers signal it). TCP candidates are ignored.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn add_remote_candidate(&mut self, now: Instant, line: &str) -> Result<(), PeerError> {
        if self.state == PeerState::Closed {
            return Err(PeerError::InvalidState("closed"));
        }
        let line = line.trim_matches(|c: char| c.is_ascii_whitespace());
        let bare = line.strip_prefix("a=").unwrap_or(line);
        if bare.is_empty() || bare == "end-of-candidates" {
            self.remote_end_of_candidates();
            self.process(now);
            return Ok(());
        }
        let cand = Candidate::parse(line)?;
        if cand.transport != Transport::Udp {
            return Ok(());
        }
        self.take_remote_candidate(now, cand)?;
        self.process(now);
        Ok(())
    }

    /// Hands a remote candidate to ICE, or, when its address is an mDNS
    /// name, keeps it until the name is resolved
    /// ([`Self::mdns_resolved`]) and asks the driver to look it up.
    /// Candidates that can never work (port 0, unspecified, broadcast or
    /// multicast address) are refused before an mDNS name is looked up.
    fn take_remote_candidate(&mut self, now: Instant, cand: Candidate) -> Result<(), PeerError> {
        if let Some(why) = cand.address.unreachable_reason() {
            return Err(PeerError::Ice(crate::ice::IceError::InvalidField(why)));
        }
        if let Some(cand) = self.mdns.take(cand)? {
            self.ice.add_remote_candidate(now, cand)?;
        }
        Ok(())
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn remote_end_of_candidates(&mut self) {
        if self.mdns.end_of_candidates() {
            self.ice.remote_end_of_candidates();
        }
    }

    /// The next mDNS name (lower case) the driver should resolve for a
    /// remote candidate; report the outcome with [`Self::mdns_resolved`].
    pub fn poll_mdns_lookup(&mut self) -> Option<String> {
        self.mdns.poll_lookup()
    }

    /// Remote candidates still waiting for their name to resolve.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn mdns_pending(&self) -> usize {
        self.mdns.len()
    }

    /// The outcome of looking `name` up: the candidates with that name are
    /// added to ICE with `addr` (and the candidate's port), or dropped and
    /// counted when `addr` is `None`. A deferred end-of-candidates reaches
    /// ICE once no candidate is waiting any more.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn mdns_resolved(&mut self, now: Instant, name: &str, addr: Option<IpAddr>) {
        let released = self.mdns.resolved(name, addr);
        self.stats.mdns_dropped += released.dropped as u64;
        for cand in released.ready {
            let added =
                self.state != PeerState::Closed && self.ice.add_remote_candidate(now, cand).is_ok();
            if added {
                self.stats.mdns_resolved += 1;
            } else {
                self.stats.mdns_dropped += 1;
            }
        }
        if released.end_of_candidates {
            self.ice.remote_end_of_candidates();
        }
        self.process(now);
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn local_description(&self, setup: Setup) -> String {
        let candidates: Vec<Candidate> = self.ice.local_candidates().cloned().collect();
        let (ufrag, pwd) = self.ice.local_credentials();
        let params = WebRtcParams {
            ice: IceParams {
                ufrag,
                pwd,
                candidates: &candidates,
                trickle: true,
                end_of_candidates: false,
            },
            fingerprint: &self.fingerprint_text,
            setup,
            mid: MID,
            sctp_port: self.local_port,
            max_message_size: Some(self.max_message_size as u64),
        };
        match &self.offer {
            Some(offer) if self.side == Side::Answerer => encode_webrtc_answer(&params, offer),
            _ => encode_webrtc(&params),
        }
    }
}
