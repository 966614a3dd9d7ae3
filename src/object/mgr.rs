//! The object behind an `xDataChannelMgr` handle created with
//! `xDataChannelMgrCreate`: the `crate::channel` state machine (DCEP,
//! stream ids by DTLS role, buffered amount) driven by the caller over an
//! SCTP transport ([`super::sctp`]). It sends through the transport and
//! learns by itself when the association comes up or ends; the callbacks
//! of the feeding calls run inside them, the others are posted to the loop.

use super::cabi::NewChannelFn;
use super::callbacks::{
    channel_errno, ChannelCallbacks, ChannelObject, DefaultCallbacks, OwnCallbacks,
};
use super::dtls::{self, DtlsObject};
use super::handle::{self, Handle};
use super::sctp::{self, send_errno, Link, SctpObject};
use crate::channel::{
    ChannelConfig, ChannelError, ChannelEvent, ChannelId, ChannelManager, MessageKind,
    LOCAL_MAX_MESSAGE_SIZE,
};
use crate::driver::loop_queue::{LoopQueue, Task};
use crate::idhash::IdMap;
use crate::pipeline::Pipeline;
use libc::c_void;
use parking_lot::Mutex;
use std::sync::Arc;
use xbase::types::*;

/// A channel of a standalone manager.
pub type MgrChannel = ChannelObject<MgrObject>;

/// The callbacks of a manager: `on_remote_open` and its channels' defaults.
#[derive(Clone, Copy)]
pub struct MgrCallbacks {
    pub on_remote_open: Option<NewChannelFn>,
    pub defaults: DefaultCallbacks,
}

struct MgrInner {
    mgr: ChannelManager,
    /// Handle and callbacks of every channel.
    channels: IdMap<ChannelId, (Handle<MgrChannel>, ChannelCallbacks)>,
    /// The channels → SCTP composition (and the messages the SCTP
    /// transport had no room for yet, sent first).
    pipe: Pipeline,
    /// While a feeding call (`xDataChannelMgrOnData`, `…OnStreamClose`)
    /// runs: the callbacks it causes, run inside that call once the lock
    /// is released (upstream ran them there). Otherwise callbacks are
    /// posted to the loop.
    inline: Option<Vec<Task>>,
    /// The id of this manager's listener on its SCTP transport.
    listener: Option<u64>,
}

pub struct MgrObject {
    sctp: Handle<SctpObject>,
    dtls: Handle<DtlsObject>,
    queue: Arc<LoopQueue>,
    cb: MgrCallbacks,
    inner: Mutex<MgrInner>,
}

/// Runs `f` on a live manager, then lets it send what `f` queued and post
/// what happened.
fn with_mgr<R>(m: Handle<MgrObject>, dead: R, f: impl FnOnce(&mut MgrInner) -> R) -> R {
    match handle::get(m) {
        Some(obj) => {
            let r = f(&mut obj.inner.lock());
            obj.service(m);
            r
        }
        None => dead,
    }
}

/// [`with_mgr`] for the feeding calls: the callbacks `f` causes run inside
/// the call, in order, after the manager's lock is released (each checks
/// that its channel or manager still lives, so a callback may destroy
/// them).
fn with_mgr_inline(m: Handle<MgrObject>, f: impl FnOnce(&mut MgrInner)) {
    let Some(obj) = handle::get(m) else {
        return;
    };
    let outer = obj.inner.lock().inline.replace(Vec::new());
    f(&mut obj.inner.lock());
    obj.service(m);
    let tasks = {
        let mut inner = obj.inner.lock();
        let tasks = inner.inline.take().unwrap_or_default();
        inner.inline = outer;
        tasks
    };
    for task in tasks {
        task();
    }
}

/// The SCTP transport of the manager `m` came up, ended, or has room again
/// (posted by the transport, run on the loop).
fn sctp_changed(m: Handle<MgrObject>) {
    if let Some(obj) = handle::get(m) {
        obj.service(m);
    }
}

impl MgrObject {
    /// Follows the association's state, hands queued messages and resets
    /// to SCTP, and posts the channel events. Called after every change,
    /// without the manager's lock held.
    fn service(&self, m: Handle<MgrObject>) {
        let mut inner = self.inner.lock();
        match sctp::link(self.sctp) {
            Some(Link::Up(streams)) => {
                if !inner.mgr.is_up() {
                    let role = match dtls::role(self.dtls) {
                        Some(crate::dtls::DtlsRole::Client) => crate::channel::DtlsRole::Client,
                        _ => crate::channel::DtlsRole::Server,
                    };
                    inner.mgr.set_role(role);
                    let _ = inner.mgr.association_up(streams);
                }
            }
            Some(Link::Down) => {}
            Some(Link::Ended) | None => {
                if inner.mgr.is_up() || inner.mgr.live_channels() > 0 {
                    inner.mgr.association_lost();
                    inner.pipe.clear_pending();
                }
            }
        }
        self.flush(&mut inner);
        self.dispatch(m, &mut inner);
    }

    /// The pipeline's channels stage: queued messages and stream resets
    /// to the SCTP transport, which then sends them; a message it refuses
    /// for good is reported to the channel's `on_error`.
    fn flush(&self, inner: &mut MgrInner) {
        if !inner.mgr.is_up() {
            return;
        }
        let mut failed = Vec::new();
        let (pipe, mgr) = (&mut inner.pipe, &mut inner.mgr);
        let sent = sctp::send_from(self.sctp, |assoc| {
            pipe.channels_to_sctp(mgr, assoc, |channels, stream, e| {
                if let Some(id) = channels.channel_by_stream(stream) {
                    failed.push((id, send_errno(&e)));
                }
            })
        });
        if sent.is_none() {
            // The transport is gone: what waited for it never goes.
            inner.pipe.clear_pending();
        }
        for (id, err) in failed {
            if let Some(&(h, cb)) = inner.channels.get(&id) {
                self.post_error(inner, h, cb, err);
            }
        }
    }

    /// Runs `task` inside the current feeding call, or posts it to the loop.
    fn emit(&self, inner: &mut MgrInner, task: Task) {
        match inner.inline.as_mut() {
            Some(tasks) => tasks.push(task),
            None => {
                self.queue.post(task);
            }
        }
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn post_error(
        &self,
        inner: &mut MgrInner,
        h: Handle<MgrChannel>,
        cb: ChannelCallbacks,
        err: xErrno,
    ) {
        self.emit(
            inner,
            Box::new(move || {
                if handle::is_live(h) {
                    cb.error(h, err);
                }
            }),
        );
    }

    /// Posts a channel callback that runs only while the channel is live.
    fn post_channel(
        &self,
        inner: &mut MgrInner,
        id: ChannelId,
        task: impl FnOnce(Handle<MgrChannel>, ChannelCallbacks) + Send + 'static,
    ) {
        let Some(&(h, cb)) = inner.channels.get(&id) else {
            return;
        };
        self.emit(
            inner,
            Box::new(move || {
                if handle::is_live(h) {
                    task(h, cb);
                }
            }),
        );
    }

    fn dispatch(&self, m: Handle<MgrObject>, inner: &mut MgrInner) {
        while let Some(ev) = inner.mgr.poll_event() {
            match ev {
                ChannelEvent::RemoteOpen(id) => {
                    let label = inner.mgr.label(id).unwrap_or("").to_owned();
                    let h = MgrChannel::register(m, id, &label);
                    let cb = self.cb.defaults.for_channel(None);
                    inner.channels.insert(id, (h, cb));
                    let (f, ctx) = (self.cb.on_remote_open, self.cb.defaults.ctx);
                    if let Some(f) = f {
                        self.emit(
                            inner,
                            Box::new(move || {
                                if handle::is_live(m) && handle::is_live(h) {
                                    // SAFETY: the user's callback with the
                                    // manager's ctx, no lock held.
                                    unsafe { f(m.as_ptr(), h.as_ptr(), ctx as *mut c_void) };
                                }
                            }),
                        );
                    }
                }
                ChannelEvent::Open(id) => self.post_channel(inner, id, |h, cb| cb.open(h)),
                ChannelEvent::Message(id, _) => {
                    while let Some((kind, data)) = inner.mgr.recv(id) {
                        self.post_channel(inner, id, move |h, cb| cb.message(h, kind, &data));
                    }
                }
                ChannelEvent::BufferedAmountLow(id) => {
                    self.post_channel(inner, id, |h, cb| cb.buffered_amount_low(h));
                }
                ChannelEvent::Closing(_) => {}
                ChannelEvent::Closed(id) => self.post_channel(inner, id, |h, cb| cb.close(h)),
                ChannelEvent::Error(id, e) => {
                    if let Some(&(h, cb)) = inner.channels.get(&id) {
                        self.post_error(inner, h, cb, channel_errno(&e));
                    }
                }
            }
        }
    }
}

/// Creates a manager over the SCTP transport `sctp`; `None` for a dead one.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn create(sctp: Handle<SctpObject>, cb: MgrCallbacks) -> Option<Handle<MgrObject>> {
    let (lp, dtls) = sctp::loop_and_dtls(sctp)?;
    // SAFETY: the loop of a live SCTP transport, which the caller keeps
    // live while the transport lives (the contract of its create call).
    let queue = unsafe { LoopQueue::attach(lp) }.ok()?;
    let m = handle::insert(Arc::new(MgrObject {
        sctp,
        dtls,
        queue,
        cb,
        inner: Mutex::new(MgrInner {
            mgr: ChannelManager::new(LOCAL_MAX_MESSAGE_SIZE, LOCAL_MAX_MESSAGE_SIZE),
            channels: IdMap::default(),
            pipe: Pipeline::new(),
            inline: None,
            listener: None,
        }),
    }));
    let listener = sctp::add_listener(sctp, Arc::new(move || sctp_changed(m)));
    if let Some(obj) = handle::get(m) {
        obj.inner.lock().listener = listener;
    }
    sctp_changed(m);
    Some(m)
}

/// Destroys a manager: every channel handle of it becomes invalid and no
/// callback of it runs after this returns. Dead handles are ignored.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn destroy(m: Handle<MgrObject>) {
    let Some(obj) = handle::remove(m) else {
        return;
    };
    let inner = obj.inner.lock();
    if let Some(id) = inner.listener {
        sctp::remove_listener(obj.sctp, id);
    }
    for &(ch, _) in inner.channels.values() {
        handle::remove(ch);
    }
    drop(inner);
    obj.queue.detach();
}

/// One message from the SCTP transport's `on_data`; callbacks run inside.
pub fn on_data(m: Handle<MgrObject>, stream: u16, ppid: u32, payload: &[u8]) {
    with_mgr_inline(m, |inner| {
        inner.mgr.handle_sctp_message(stream, ppid, payload)
    });
}

/// One `on_stream_close` of the SCTP transport; callbacks run inside.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn on_stream_close(m: Handle<MgrObject>, stream: u16) {
    with_mgr_inline(m, |inner| inner.mgr.handle_stream_closed(stream));
}

/// The SCTP transport has room: send what waits.
pub fn on_buffered_amount_low(m: Handle<MgrObject>) {
    with_mgr(m, (), |_| ());
}

/// Creates a channel of the manager `m` with its own callbacks.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn create_channel(
    m: Handle<MgrObject>,
    cfg: ChannelConfig,
    own: &OwnCallbacks,
) -> Option<Handle<MgrChannel>> {
    let obj = handle::get(m)?;
    let label = cfg.label.clone();
    let mut inner = obj.inner.lock();
    let id = inner.mgr.create_channel(cfg).ok()?;
    let h = MgrChannel::register(m, id, &label);
    let cb = obj.cb.defaults.for_channel(Some(own));
    inner.channels.insert(id, (h, cb));
    drop(inner);
    obj.service(m);
    Some(h)
}

/// Runs `f` on the manager state of a live channel of a manager.
pub fn with_channel<R>(
    ch: &MgrChannel,
    dead: R,
    f: impl FnOnce(&mut ChannelManager, ChannelId) -> R,
) -> R {
    match handle::get(ch.owner) {
        Some(obj) => f(&mut obj.inner.lock().mgr, ch.id),
        None => dead,
    }
}

/// Sends one message on a channel of a manager.
/// `None` for a dead manager.
pub fn send(
    ch: &MgrChannel,
    kind: MessageKind,
    payload: &[u8],
) -> Option<Result<(), ChannelError>> {
    with_mgr(ch.owner, None, |inner| {
        Some(inner.mgr.send(ch.id, kind, payload))
    })
}

/// Closes a channel of a manager.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn close(ch: &MgrChannel) {
    with_mgr(ch.owner, (), |inner| inner.mgr.close(ch.id));
}
