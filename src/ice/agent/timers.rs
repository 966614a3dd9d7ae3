//! Everything time-driven: gathering retransmissions and timeout, check
//! retransmissions, consent, nomination, failure, and the pacer that starts
//! at most one new STUN transaction every Ta.

use super::*;

impl IceAgent {
    #[cfg_attr(xp2p_device, optimize(size))]
    pub(super) fn fail_pair(&mut self, pi: usize) {
        let p = &mut self.list.pairs[pi];
        p.state = PairState::Failed;
        p.check = None;
        p.nominated = false;
        if self.nominating == Some(pi) {
            self.nominating = None;
        }
        if self.nominate_next == Some(pi) {
            self.nominate_next = None;
        }
    }

    /// Marks pair `pi` nominated and selects it.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub(super) fn nominate(&mut self, now: Instant, pi: usize) {
        self.list.pairs[pi].nominated = true;
        if log::log_enabled!(target: "ice", log::Level::Debug) {
            let p = &self.list.pairs[pi];
            log::debug!(target: "ice", "pair {} -> {} nominated ({})", self.locals[p.local].addr, self.remotes[p.remote].addr, if self.role.is_controlling() { "by us" } else { "by the peer" });
        }
        if self.selected != Some(pi) {
            self.selected = Some(pi);
            self.bind_selected_channel(now);
            if let Some((local, remote)) = self.selected_pair() {
                self.events
                    .push_back(IceEvent::SelectedPair { local, remote });
            }
            let first = self.consent_interval();
            match &mut self.consent {
                None => {
                    self.consent = Some(Consent::new(now, first, self.cfg.consent_timeout));
                }
                Some(_) => {
                    self.consent_alive(now);
                    self.consent_granted(now);
                }
            }
        }
        if !self.state.is_connected() {
            self.set_state(IceState::Connected);
        }
    }

    /// A consent interval: the configured mean ±20 %.
    pub(super) fn consent_interval(&mut self) -> Duration {
        self.cfg
            .consent_interval
            .mul_f64(self.rng.range_f64(0.8, 1.2))
    }

    pub(super) fn consent_alive(&mut self, now: Instant) {
        if let Some(c) = &mut self.consent {
            if c.on_alive(now) {
                self.events.push_back(IceEvent::ConsentRestored);
            }
        }
    }

    pub(super) fn consent_granted(&mut self, now: Instant) {
        let timeout = self.cfg.consent_timeout;
        if let Some(c) = &mut self.consent {
            c.on_granted(now, timeout);
        }
    }

    pub(super) fn nomination_pending(&self) -> bool {
        self.role.is_controlling()
            && self.selected.is_none()
            && self.nominating.is_none()
            && self.nominate_next.is_none()
            && self.state == IceState::Checking
            && self.list.any_valid()
    }

    pub(super) fn run_gather_timers(&mut self, now: Instant) {
        let Phase::Running { deadline } = self.gather.phase else {
            return;
        };
        let expired = deadline.is_some_and(|d| now >= d);
        if expired {
            self.gather.txns.clear();
            self.gather.servers_pending = false;
        }
        let mut gi = 0;
        while gi < self.gather.txns.len() {
            let t = &mut self.gather.txns[gi];
            let action = match &mut t.timer {
                Some(timer) => timer.handle_timeout(now),
                None => TimerAction::Wait,
            };
            match action {
                TimerAction::Wait => gi += 1,
                TimerAction::Retransmit => {
                    let tx = Transmit {
                        local: t.base,
                        dest: t.server,
                        data: t.bytes.clone(),
                    };
                    self.transmits.push_back(tx);
                    self.stats.retransmits += 1;
                }
                TimerAction::TimedOut => {
                    let t = self.gather.txns.remove(gi);
                    log::warn!(target: "ice", "STUN server {} did not answer from {} (timed out): no server-reflexive candidate from it", t.server, t.base);
                }
            }
        }
        if expired {
            // UDP servers are given up on; TCP/TLS ones end by their own
            // timeouts (see `expect_stream_turn_server`).
            self.relays.gather_timed_out(now, &mut self.transmits);
            self.on_relay_events();
        }
        if self.gather.txns.is_empty() && !self.gather.servers_pending && !self.relays.gathering() {
            self.gather.phase = Phase::Complete;
            self.events.push_back(IceEvent::GatheringComplete);
        } else if expired {
            self.gather.phase = Phase::Running { deadline: None };
        }
    }

    pub(super) fn run_check_timers(&mut self, now: Instant) {
        let mut resend = Vec::new();
        for pi in 0..self.list.pairs.len() {
            loop {
                let p = &mut self.list.pairs[pi];
                let Some(c) = p.check.as_mut() else { break };
                match c.timer.handle_timeout(now) {
                    TimerAction::Wait => break,
                    TimerAction::Retransmit => {
                        let tx = Transmit {
                            local: self.locals[p.local].addr,
                            dest: self.remotes[p.remote].addr,
                            data: c.bytes.clone(),
                        };
                        resend.push(tx);
                        self.stats.retransmits += 1;
                    }
                    TimerAction::TimedOut => {
                        log::debug!(target: "ice", "check {} -> {} timed out", self.locals[p.local].addr, self.remotes[p.remote].addr);
                        self.fail_pair(pi);
                        break;
                    }
                }
            }
        }
        for tx in resend {
            self.push_transmit(tx.local, tx.dest, &tx.data);
        }
    }

    pub(super) fn run_consent_timers(&mut self, now: Instant) {
        if self.selected.is_none() {
            return;
        }
        let Some(c) = &mut self.consent else { return };
        if now >= c.expires() {
            log::warn!(target: "ice", "consent expired: no answer to consent checks for {:?}; failing", self.cfg.consent_timeout);
            self.consent_failed = true;
            self.consent = None;
            self.selected = None;
            self.set_state(IceState::Failed);
            return;
        }
        if c.stale_deadline(self.cfg.consent_stale)
            .is_some_and(|d| now >= d)
        {
            c.set_stale();
            log::info!(target: "ice", "consent stale: nothing authenticated heard from the peer for {:?}", self.cfg.consent_stale);
            self.events.push_back(IceEvent::ConsentStale);
        }
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    pub(super) fn decide_nomination(&mut self, now: Instant) {
        if !self.nomination_pending() {
            return;
        }
        let Some(best) = self.list.best_valid() else {
            return;
        };
        let first = *self.first_valid_at.get_or_insert(now);
        let best_prio = self.list.pairs[best].valid_priority;
        let settled = !self
            .list
            .pairs
            .iter()
            .any(|p| p.is_pending() && p.priority > best_prio);
        if settled || now >= first + self.cfg.nomination_timeout {
            self.nominate_next = Some(best);
        }
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    pub(super) fn check_failure(&mut self, now: Instant) {
        if self.state != IceState::Checking || self.selected.is_some() {
            return;
        }
        let Some(start) = self.checks_started else {
            return;
        };
        let any_valid = self.list.any_valid();
        let timed_out = if any_valid {
            now >= start + self.cfg.failure_timeout * 3
        } else {
            now >= start + self.cfg.failure_timeout
        };
        let exhausted = self.remote_eoc && !any_valid && self.list.all_done();
        if timed_out || exhausted {
            let pairs = self.list.pairs.len();
            if exhausted && pairs == 0 {
                log::warn!(target: "ice", "no candidate pair to check ({} local, {} remote candidates, remote end-of-candidates received)", self.locals.len(), self.remotes.len());
            } else if exhausted {
                log::warn!(target: "ice", "every candidate pair failed ({pairs} pairs, remote end-of-candidates received)");
            } else if any_valid {
                log::warn!(target: "ice", "no pair nominated in {:?} ({pairs} pairs)", self.cfg.failure_timeout * 3);
            } else {
                log::warn!(target: "ice", "no candidate pair succeeded in {:?} ({pairs} pairs, {} remote candidates)", self.cfg.failure_timeout, self.remotes.len());
            }
            self.nominate_next = None;
            self.nominating = None;
            for p in &mut self.list.pairs {
                if p.check.take().is_some() {
                    p.state = PairState::Failed;
                }
            }
            self.set_state(IceState::Failed);
        }
    }

    /// The next new transaction, if the pacer allowed one at `now`
    /// (`None`: ignore whether consent is due).
    pub(super) fn next_work(&self, now: Option<Instant>) -> Option<Work> {
        let checking = !matches!(self.state, IceState::Failed | IceState::Closed);
        if checking && self.selected.is_some() {
            if let (Some(c), Some(now)) = (&self.consent, now) {
                if now >= c.due(self.cfg.consent_stale) {
                    return Some(Work::Consent);
                }
            }
        }
        let creds = self.remote_creds.is_some();
        if checking && creds {
            if let Some(pi) = self.nominate_next {
                return Some(Work::Nominate(pi));
            }
            if let Some(pi) = self.list.peek_triggered() {
                return Some(Work::Triggered(pi));
            }
        }
        if self.gather.running() {
            if let Some(gi) = self.gather.next_unsent() {
                return Some(Work::Gather(gi));
            }
        }
        if checking && creds && self.state != IceState::New {
            if let Some(pi) = self.list.next_ordinary() {
                return Some(Work::Ordinary(pi));
            }
        }
        None
    }

    pub(super) fn pace(&mut self, now: Instant) {
        // The nominating check repeats a check on a pair already validated,
        // once per agent: it does not wait for Ta, so a connection is not
        // held up by a pacing interval after its first successful check.
        let nominate_now = self.nominate_next.is_some()
            && self.remote_creds.is_some()
            && !matches!(self.state, IceState::Failed | IceState::Closed);
        if !nominate_now && self.last_new_txn.is_some_and(|t| now < t + self.cfg.ta) {
            return;
        }
        let Some(work) = self.next_work(Some(now)) else {
            return;
        };
        match work {
            Work::Consent => self.send_consent(now),
            Work::Nominate(pi) => {
                self.nominate_next = None;
                let p = &self.list.pairs[pi];
                if p.is_valid() && p.check.is_none() && self.role.is_controlling() {
                    self.send_check(now, pi, true);
                    self.nominating = Some(pi);
                }
            }
            Work::Triggered(_) => {
                if let Some(pi) = self.list.pop_triggered() {
                    self.send_check(now, pi, false);
                }
            }
            Work::Gather(gi) => {
                let cfg = self.retransmit_config(self.cfg.check_rto);
                let t = &mut self.gather.txns[gi];
                t.timer = Some(RetransmitTimer::new(cfg, now));
                let tx = Transmit {
                    local: t.base,
                    dest: t.server,
                    data: t.bytes.clone(),
                };
                self.transmits.push_back(tx);
                self.last_new_txn = Some(now);
            }
            Work::Ordinary(pi) => self.send_check(now, pi, false),
        }
    }

    pub(super) fn retransmit_config(&self, rto: Duration) -> RetransmitConfig {
        RetransmitConfig {
            initial_rto: rto,
            max_retransmits: self.cfg.check_max_retransmits,
            final_wait_factor: self.cfg.check_final_wait_factor,
        }
    }

    /// The request of a check (or consent check) on pair `pi`.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub(super) fn build_request(
        &self,
        pi: usize,
        id: &TransactionId,
        use_candidate: bool,
    ) -> Option<(Vec<u8>, u32)> {
        let (rufrag, rpwd) = self.remote_creds.as_ref()?;
        let p = &self.list.pairs[pi];
        let base = &self.locals[p.local].cand;
        let priority = CandidateKind::Prflx.priority(local_pref_of(base.priority), base.component);
        let username = format!("{rufrag}:{}", self.local_ufrag);
        let params = CheckParams {
            username: &username,
            priority,
            role: self.role,
            tie_breaker: self.tie_breaker,
            use_candidate,
            key: rpwd.as_bytes(),
        };
        stun_io::build_check(id, &params)
            .ok()
            .map(|b| (b, priority))
    }

    pub(super) fn send_check(&mut self, now: Instant, pi: usize, use_candidate: bool) {
        let id = self.new_txn_id();
        let Some((bytes, priority)) = self.build_request(pi, &id, use_candidate) else {
            self.fail_pair(pi);
            return;
        };
        let rto = self
            .cfg
            .check_rto
            .max(self.cfg.ta * u32::try_from(self.list.active_count()).unwrap_or(u32::MAX));
        let timer = RetransmitTimer::new(self.retransmit_config(rto), now);
        let p = &mut self.list.pairs[pi];
        if p.state != PairState::Succeeded {
            p.state = PairState::InProgress;
        }
        let tx = Transmit {
            local: self.locals[p.local].addr,
            dest: self.remotes[p.remote].addr,
            data: bytes.clone(),
        };
        log::debug!(target: "ice", "check {} -> {}{}", tx.local, tx.dest, if use_candidate { " with USE-CANDIDATE" } else { "" });
        p.check = Some(CheckTxn {
            id,
            timer,
            bytes,
            use_candidate,
            role: self.role,
            priority,
            sent_at: now,
        });
        self.push_transmit(tx.local, tx.dest, &tx.data);
        self.last_new_txn = Some(now);
        self.stats.checks_sent += 1;
    }

    pub(super) fn send_consent(&mut self, now: Instant) {
        let Some(pi) = self.selected else { return };
        let id = self.new_txn_id();
        let next = self.consent_interval();
        let Some((bytes, _)) = self.build_request(pi, &id, false) else {
            return;
        };
        let Some((local, dest)) = self.selected_pair() else {
            return;
        };
        if let Some(c) = &mut self.consent {
            c.on_sent(now, id, next);
        }
        self.push_transmit(local, dest, &bytes);
        self.last_new_txn = Some(now);
        self.stats.consent_checks_sent += 1;
    }
}
