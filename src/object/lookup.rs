//! What a C handle of one header names: an object created through that
//! header, or the view of a PeerConnection's part, of distinct kinds in the
//! one registry. A handle of any other kind names nothing.

use super::handle::{self, Handle};
use super::ice::AgentObject;
use super::mgr::{self, MgrChannel, MgrObject};
use super::pc::{self, ChannelsView, DtlsView, IceView, PcChannel, PcObject, SctpView};
use super::{dtls::DtlsObject, sctp::SctpObject};
use crate::channel::{ChannelId, ChannelManager};
use crate::ice::agent::IceAgent;
use libc::c_void;
use std::sync::Arc;

/// What an `xDataChannel` handle names.
pub enum Channel {
    Pc(Arc<PcChannel>),
    Mgr(Arc<MgrChannel>),
}

pub fn channel(p: *const c_void) -> Option<Channel> {
    if let Some(ch) = handle::get(Handle::<PcChannel>::from_ptr(p)) {
        return Some(Channel::Pc(ch));
    }
    handle::get(Handle::<MgrChannel>::from_ptr(p)).map(Channel::Mgr)
}

impl Channel {
    pub fn label(&self) -> &std::ffi::CStr {
        match self {
            Channel::Pc(ch) => &ch.label,
            Channel::Mgr(ch) => &ch.label,
        }
    }
}

/// Runs `f` on the channel state of a live channel (a PeerConnection's or
/// a standalone manager's), or returns `dead`.
pub fn with_channel_manager<R>(
    p: *const c_void,
    dead: R,
    f: impl FnOnce(&mut ChannelManager, ChannelId) -> R,
) -> R {
    match channel(p) {
        Some(Channel::Pc(ch)) => {
            pc::with_endpoint(ch.owner, dead, |ep| f(ep.pc.channels_mut(), ch.id))
        }
        Some(Channel::Mgr(ch)) => mgr::with_channel(&ch, dead, f),
        None => dead,
    }
}

/// What an `xDataChannelMgr` handle names.
pub enum Manager {
    Own(Handle<MgrObject>),
    Pc(Handle<PcObject>),
}

pub fn manager(p: *const c_void) -> Option<Manager> {
    let own = Handle::<MgrObject>::from_ptr(p);
    if handle::is_live(own) {
        return Some(Manager::Own(own));
    }
    handle::get(Handle::<ChannelsView>::from_ptr(p)).map(|v| Manager::Pc(v.pc))
}

/// What an `xDtlsTransport` handle names.
pub enum Dtls {
    Own(Handle<DtlsObject>),
    Pc(Handle<PcObject>),
}

pub fn dtls(p: *const c_void) -> Option<Dtls> {
    let own = Handle::<DtlsObject>::from_ptr(p);
    if handle::is_live(own) {
        return Some(Dtls::Own(own));
    }
    handle::get(Handle::<DtlsView>::from_ptr(p)).map(|v| Dtls::Pc(v.pc))
}

/// What an `xSctpTransport` handle names.
pub enum Sctp {
    Own(Handle<SctpObject>),
    Pc(Handle<PcObject>),
}

pub fn sctp(p: *const c_void) -> Option<Sctp> {
    let own = Handle::<SctpObject>::from_ptr(p);
    if handle::is_live(own) {
        return Some(Sctp::Own(own));
    }
    handle::get(Handle::<SctpView>::from_ptr(p)).map(|v| Sctp::Pc(v.pc))
}

/// What an `xIceAgent` handle names.
pub enum Agent {
    Own(Arc<AgentObject>, Handle<AgentObject>),
    Pc(Arc<IceView>),
}

pub fn agent(p: *const c_void) -> Option<Agent> {
    let own = Handle::<AgentObject>::from_ptr(p);
    if let Some(obj) = handle::get(own) {
        return Some(Agent::Own(obj, own));
    }
    handle::get(Handle::<IceView>::from_ptr(p)).map(Agent::Pc)
}

/// Runs `f` on the protocol agent behind an `xIceAgent` handle: a
/// standalone agent or the view of a PeerConnection's; `dead` for NULL,
/// stale or foreign handles.
pub fn with_ice<R>(p: *const c_void, dead: R, f: impl FnOnce(&IceAgent) -> R) -> R {
    match agent(p) {
        Some(Agent::Own(_, h)) => super::ice::with_agent(h, dead, f),
        Some(Agent::Pc(v)) => pc::with_endpoint(v.pc, dead, |ep| f(ep.pc.ice())),
        None => dead,
    }
}
