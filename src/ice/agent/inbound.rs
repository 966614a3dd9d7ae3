//! Incoming STUN: Binding requests answered (and peer-reflexive remotes
//! learned) once authenticated, responses to checks, consent checks and
//! server requests matched and acted on.

use super::*;

impl IceAgent {
    #[cfg_attr(xp2p_device, optimize(size))]
    pub(super) fn on_stun(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        data: &[u8],
    ) -> Received {
        let Ok(msg) = Message::parse(data) else {
            log::debug!(target: "ice", "dropped malformed STUN ({} bytes) from {from}", data.len());
            self.stats.dropped_malformed += 1;
            return Received::Dropped;
        };
        if msg.method() != crate::stun::method::BINDING {
            self.stats.dropped_other += 1;
            return Received::Dropped;
        }
        if self.state == IceState::Failed {
            self.stats.dropped_other += 1;
            return Received::Dropped;
        }
        match msg.class() {
            Class::Request => self.on_request(now, local, from, &msg),
            // Binding indications are keepalives: nothing to do.
            Class::Indication => Received::Consumed,
            Class::SuccessResponse | Class::ErrorResponse => {
                self.on_response(now, local, from, &msg)
            }
        }
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    pub(super) fn respond(
        &mut self,
        local: SocketAddr,
        dest: SocketAddr,
        bytes: Result<Vec<u8>, crate::stun::StunError>,
    ) {
        if let Ok(data) = bytes {
            self.push_transmit(local, dest, &data);
        }
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    pub(super) fn on_request(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        msg: &Message<'_>,
    ) -> Received {
        let Some(li) = self.base_index(local) else {
            self.stats.dropped_unknown_source += 1;
            return Received::Dropped;
        };
        let req = match stun_io::verify_request(msg, &self.local_ufrag, &self.local_pwd) {
            Ok(r) => r,
            Err(Refused::Unauthenticated) => {
                log::debug!(target: "ice", "dropped Binding request from {from}: USERNAME or MESSAGE-INTEGRITY does not check out");
                self.stats.dropped_unauthenticated += 1;
                return Received::Dropped;
            }
            Err(Refused::Malformed) => {
                log::debug!(target: "ice", "dropped Binding request from {from}: bad ICE attributes");
                self.stats.dropped_malformed += 1;
                return Received::Dropped;
            }
        };
        let txn = *msg.transaction_id();
        self.note_peer_probe(msg);
        // Role conflicts, RFC 8445 §7.3.1.1.
        match (self.role, req.role) {
            (Role::Controlling, Some(PeerRole::Controlling(theirs))) => {
                self.stats.role_conflicts += 1;
                if self.tie_breaker >= theirs {
                    let e =
                        stun_io::build_error(&txn, 487, "Role Conflict", self.local_pwd.as_bytes());
                    self.respond(local, from, e);
                    return Received::Consumed;
                }
                self.switch_role(Role::Controlled);
            }
            (Role::Controlled, Some(PeerRole::Controlled(theirs))) => {
                self.stats.role_conflicts += 1;
                if self.tie_breaker >= theirs {
                    self.switch_role(Role::Controlling);
                } else {
                    let e =
                        stun_io::build_error(&txn, 487, "Role Conflict", self.local_pwd.as_bytes());
                    self.respond(local, from, e);
                    return Received::Consumed;
                }
            }
            _ => {}
        }
        let ok = stun_io::build_success(&txn, from, self.local_pwd.as_bytes());
        self.respond(local, from, ok);
        self.stats.requests_answered += 1;

        // Learn the source (RFC 8445 §7.3.1.3).
        let ri = match self.remote_index(from) {
            Some(r) => r,
            None if self.prflx_remotes >= MAX_REMOTE_CANDIDATES => {
                self.stats.prflx_remote_refused += 1;
                return Received::Consumed;
            }
            None => {
                self.prflx_seq += 1;
                self.prflx_remotes += 1;
                self.stats.prflx_remote_learned += 1;
                self.push_remote(RemoteCand {
                    cand: Candidate {
                        foundation: format!("prflx{}", self.prflx_seq),
                        component: COMPONENT,
                        transport: Transport::Udp,
                        priority: req.priority,
                        kind: CandidateKind::Prflx,
                        address: CandidateAddress::Ip(from),
                        related: None,
                        tcp_type: None,
                        extensions: Vec::new(),
                    },
                    addr: from,
                    authenticated: true,
                })
            }
        };
        self.remotes[ri].authenticated = true;
        let Some(pi) = self.form_pair(li, ri) else {
            return Received::Consumed;
        };
        // Triggered check, RFC 8445 §7.3.1.4.
        if !matches!(
            self.list.pairs[pi].state,
            PairState::Succeeded | PairState::InProgress
        ) {
            self.list.trigger(pi);
        }
        if req.use_candidate && self.role == Role::Controlled {
            if self.list.pairs[pi].is_valid() {
                self.nominate(now, pi);
            } else {
                self.list.pairs[pi].nominate_on_success = true;
            }
        }
        if self.selected == Some(pi) {
            self.consent_alive(now);
        }
        Received::Consumed
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    pub(super) fn on_response(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        msg: &Message<'_>,
    ) -> Received {
        let id = *msg.transaction_id();
        if self.owns_mtu_probe(&id) {
            return self.on_mtu_probe_response(local, from, msg);
        }
        if let Some(pi) = self.list.find_txn(&id) {
            return self.on_check_response(now, local, from, msg, pi);
        }
        if self.consent.as_ref().is_some_and(|c| c.owns(&id)) {
            return self.on_consent_response(now, local, from, msg);
        }
        if let Some(gi) = self.gather.find(&id) {
            return self.on_server_response(local, from, msg, gi);
        }
        log::debug!(target: "ice", "dropped STUN response from {from}: no matching transaction");
        self.stats.dropped_unmatched += 1;
        Received::Dropped
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    pub(super) fn on_check_response(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        msg: &Message<'_>,
        pi: usize,
    ) -> Received {
        let authentic = self
            .remote_creds
            .as_ref()
            .is_some_and(|(_, pwd)| stun_io::verify_response(msg, pwd));
        if !authentic {
            // Leave the transaction running: the real answer may follow.
            log::debug!(target: "ice", "dropped check response from {from}: integrity does not check out");
            self.stats.dropped_unauthenticated += 1;
            return Received::Dropped;
        }
        let (base, raddr) = {
            let p = &self.list.pairs[pi];
            (self.locals[p.local].addr, self.remotes[p.remote].addr)
        };
        let Some(txn) = self.list.pairs[pi].check.take() else {
            return Received::Consumed;
        };
        if from != raddr || local != base {
            // Not symmetric (RFC 8445 §7.2.5.2.1).
            log::debug!(target: "ice", "check {base} -> {raddr} failed: answer from {from} to {local}, not symmetric");
            self.fail_pair(pi);
            return Received::Consumed;
        }
        if msg.class() == Class::ErrorResponse {
            let code = stun_io::error_code(msg);
            log::debug!(target: "ice", "check {base} -> {raddr}: error response {}", code.map_or_else(|| "without ERROR-CODE".into(), |c| c.to_string()));
            if code == Some(487) {
                // RFC 8445 §7.2.5.1: take the other role, check again.
                self.stats.role_conflicts += 1;
                if self.role == txn.role {
                    self.switch_role(txn.role.opposite());
                }
                let p = &mut self.list.pairs[pi];
                if p.state != PairState::Succeeded {
                    p.state = PairState::Waiting;
                }
                if txn.use_candidate && self.role.is_controlling() {
                    self.nominate_next = Some(pi);
                } else if p.state == PairState::Waiting {
                    self.list.trigger(pi);
                }
                if self.nominating == Some(pi) {
                    self.nominating = None;
                }
            } else {
                self.fail_pair(pi);
            }
            return Received::Consumed;
        }
        let Some(mapped) = stun_io::mapped_address(msg) else {
            self.stats.dropped_malformed += 1;
            self.fail_pair(pi);
            return Received::Consumed;
        };
        // The valid pair's local candidate (RFC 8445 §7.2.5.3.1).
        let vl = match self
            .locals
            .iter()
            .position(|l| l.addr == mapped && l.base == base)
        {
            Some(v) => v,
            None => {
                let base_cand = &self.locals[self.list.pairs[pi].local].cand;
                let mut c =
                    Candidate::prflx(mapped, base, COMPONENT, local_pref_of(base_cand.priority));
                c.priority = txn.priority;
                self.locals.push(LocalCand {
                    cand: c,
                    addr: mapped,
                    base,
                });
                self.stats.prflx_local_learned += 1;
                self.locals.len() - 1
            }
        };
        let rtt =
            (txn.timer.retransmits() == 0).then(|| now.saturating_duration_since(txn.sent_at));
        log::debug!(target: "ice", "check {base} -> {raddr} succeeded (mapped {mapped}{}, rtt {})", if txn.use_candidate { ", nomination" } else { "" }, rtt.map_or_else(|| "unknown".into(), |r| format!("{r:?}")));
        let foundation = {
            let p = &mut self.list.pairs[pi];
            p.state = PairState::Succeeded;
            p.valid_local = Some(vl);
            if rtt.is_some() {
                p.rtt = rtt;
            }
            p.foundation.clone()
        };
        self.refresh_pair(pi);
        let r = self.list.pairs[pi].remote;
        self.remotes[r].authenticated = true;
        self.list.unfreeze_foundation(&foundation);
        self.first_valid_at.get_or_insert(now);
        if self.nominating == Some(pi) {
            self.nominating = None;
        }
        let nominate = (txn.use_candidate && self.role.is_controlling())
            || (self.list.pairs[pi].nominate_on_success && !self.role.is_controlling());
        if nominate {
            self.nominate(now, pi);
        } else if self.selected == Some(pi) {
            self.consent_alive(now);
            self.consent_granted(now);
        }
        Received::Consumed
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    pub(super) fn on_consent_response(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        msg: &Message<'_>,
    ) -> Received {
        let authentic = self
            .remote_creds
            .as_ref()
            .is_some_and(|(_, pwd)| stun_io::verify_response(msg, pwd));
        if !authentic {
            self.stats.dropped_unauthenticated += 1;
            return Received::Dropped;
        }
        if self.selected_pair() != Some((local, from)) {
            self.stats.dropped_other += 1;
            return Received::Dropped;
        }
        if msg.class() == Class::SuccessResponse {
            let rtt = self
                .consent
                .as_ref()
                .and_then(|c| c.rtt_of(msg.transaction_id(), now));
            if let (Some(pi), Some(rtt)) = (self.selected, rtt) {
                self.list.pairs[pi].rtt = Some(rtt);
            }
            log::trace!(target: "ice", "consent granted by {from} (rtt {rtt:?})");
            self.consent_alive(now);
            self.consent_granted(now);
        } else {
            log::debug!(target: "ice", "consent check answered with error {:?} by {from}", stun_io::error_code(msg));
        }
        Received::Consumed
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    pub(super) fn on_server_response(
        &mut self,
        local: SocketAddr,
        from: SocketAddr,
        msg: &Message<'_>,
        gi: usize,
    ) -> Received {
        let t = &self.gather.txns[gi];
        if from != t.server || local != t.base {
            self.stats.dropped_other += 1;
            return Received::Dropped;
        }
        if msg.has_fingerprint() && msg.verify_fingerprint().is_err() {
            self.stats.dropped_malformed += 1;
            return Received::Dropped;
        }
        let t = self.gather.txns.remove(gi);
        if msg.class() == Class::SuccessResponse {
            match stun_io::mapped_address(msg) {
                Some(mapped) => self.add_srflx(mapped, t.base, t.server),
                None => {
                    log::warn!(target: "ice", "STUN server {} answered {} without a mapped address", t.server, t.base);
                    self.stats.dropped_malformed += 1
                }
            }
        } else {
            log::warn!(target: "ice", "STUN server {} refused the Binding request from {}: error {}", t.server, t.base, stun_io::error_code(msg).map_or_else(|| "without ERROR-CODE".into(), |c| c.to_string()));
        }
        self.dirty = true;
        Received::Consumed
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    pub(super) fn add_srflx(&mut self, mapped: SocketAddr, base: SocketAddr, server: SocketAddr) {
        if mapped == base
            || self
                .locals
                .iter()
                .any(|l| l.addr == mapped && l.base == base)
        {
            return;
        }
        let Some(host) = self.host_index(base) else {
            return;
        };
        let pref = local_pref_of(self.locals[host].cand.priority);
        let cand = Candidate::srflx(mapped, base, server, COMPONENT, pref);
        self.locals.push(LocalCand {
            cand: cand.clone(),
            addr: mapped,
            base,
        });
        self.events.push_back(IceEvent::LocalCandidate(cand));
    }
}
