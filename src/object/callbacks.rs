//! The C callbacks of a data channel, shared by the channels of a
//! PeerConnection and of a standalone manager: each callback with the
//! context it is called with, and the fallback from a channel's own conf to
//! its owner's defaults.

use super::cabi::{ChannelFn, ErrorFn, MessageFn, MSG_BINARY, MSG_STRING};
use super::handle::Handle;
use crate::channel::{ChannelError, MessageKind};
use libc::c_void;
use xbase::types::*;

/// One callback with the context it is called with.
#[derive(Clone, Copy)]
pub struct Cb<F> {
    pub func: Option<F>,
    pub ctx: usize,
}

/// The callbacks a channel's own conf sets (NULL: `None`), with its ctx.
#[derive(Clone, Copy, Default)]
pub struct OwnCallbacks {
    pub on_open: Option<ChannelFn>,
    pub on_message: Option<MessageFn>,
    pub on_close: Option<ChannelFn>,
    pub on_error: Option<ErrorFn>,
    pub on_buffered_amount_low: Option<ChannelFn>,
    pub ctx: usize,
}

/// The defaults of the channels of one owner (a PeerConnection's `on_dc_*`
/// or a manager's callbacks), with the owner's ctx.
#[derive(Clone, Copy, Default)]
pub struct DefaultCallbacks {
    pub on_open: Option<ChannelFn>,
    pub on_message: Option<MessageFn>,
    pub on_close: Option<ChannelFn>,
    pub on_error: Option<ErrorFn>,
    pub ctx: usize,
}

/// The callbacks of one channel, each with its own context.
#[derive(Clone, Copy)]
pub struct ChannelCallbacks {
    pub on_open: Cb<ChannelFn>,
    pub on_message: Cb<MessageFn>,
    pub on_close: Cb<ChannelFn>,
    pub on_error: Cb<ErrorFn>,
    pub on_buffered_amount_low: Cb<ChannelFn>,
}

impl DefaultCallbacks {
    /// The callbacks of a channel created with `own` (`None` for a channel
    /// the peer opened): each one `own` leaves NULL falls back to the
    /// default with the owner's ctx.
    pub fn for_channel(&self, own: Option<&OwnCallbacks>) -> ChannelCallbacks {
        fn pick<F>(own: Option<F>, ctx: usize, fallback: Option<F>, owner_ctx: usize) -> Cb<F> {
            match own {
                Some(f) => Cb { func: Some(f), ctx },
                None => Cb {
                    func: fallback,
                    ctx: owner_ctx,
                },
            }
        }
        let ctx = own.map_or(self.ctx, |c| c.ctx);
        ChannelCallbacks {
            on_open: pick(own.and_then(|c| c.on_open), ctx, self.on_open, self.ctx),
            on_message: pick(
                own.and_then(|c| c.on_message),
                ctx,
                self.on_message,
                self.ctx,
            ),
            on_close: pick(own.and_then(|c| c.on_close), ctx, self.on_close, self.ctx),
            on_error: pick(own.and_then(|c| c.on_error), ctx, self.on_error, self.ctx),
            on_buffered_amount_low: Cb {
                func: own.and_then(|c| c.on_buffered_amount_low),
                ctx,
            },
        }
    }
}

impl ChannelCallbacks {
    /// Calls `on_open` for the channel `h` (on the loop thread).
    pub fn open<T>(&self, h: Handle<T>) {
        if let Some(f) = self.on_open.func {
            // SAFETY: the user's callback with the user's ctx, called on the
            // loop thread with no lock held, as the header promises.
            unsafe { f(h.as_ptr(), self.on_open.ctx as *mut c_void) };
        }
    }

    /// Calls `on_message` for the channel `h` with one received message.
    pub fn message<T>(&self, h: Handle<T>, kind: MessageKind, data: &[u8]) {
        let t = match kind {
            MessageKind::Text => MSG_STRING,
            MessageKind::Binary => MSG_BINARY,
        };
        if let Some(f) = self.on_message.func {
            // SAFETY: the user's callback with its ctx; `data` outlives the
            // call, which is all the header promises.
            unsafe {
                f(
                    h.as_ptr(),
                    t,
                    data.as_ptr(),
                    data.len(),
                    self.on_message.ctx as *mut c_void,
                )
            };
        }
    }

    /// Calls `on_buffered_amount_low` for the channel `h`.
    pub fn buffered_amount_low<T>(&self, h: Handle<T>) {
        if let Some(f) = self.on_buffered_amount_low.func {
            // SAFETY: the user's callback with its ctx, on the loop thread.
            unsafe { f(h.as_ptr(), self.on_buffered_amount_low.ctx as *mut c_void) };
        }
    }

    /// Calls `on_close` for the channel `h`.
    pub fn close<T>(&self, h: Handle<T>) {
        if let Some(f) = self.on_close.func {
            // SAFETY: the user's callback with its ctx, on the loop thread.
            unsafe { f(h.as_ptr(), self.on_close.ctx as *mut c_void) };
        }
    }

    /// Calls `on_error` for the channel `h` with `err`.
    pub fn error<T>(&self, h: Handle<T>, err: xErrno) {
        if let Some(f) = self.on_error.func {
            // SAFETY: the user's callback with its ctx, on the loop thread.
            unsafe { f(h.as_ptr(), err, self.on_error.ctx as *mut c_void) };
        }
    }
}

/// The xErrno of a failed channel call.
pub fn channel_errno(e: &ChannelError) -> xErrno {
    match e {
        ChannelError::NotOpen(_)
        | ChannelError::AssociationClosed
        | ChannelError::AssociationLost => xErrno_InvalidState,
        ChannelError::QueueFull => xErrno_Again,
        ChannelError::TooManyChannels | ChannelError::NoStreamAvailable => xErrno_NoMemory,
        _ => xErrno_InvalidArg,
    }
}

/// The object behind an `xDataChannel` handle: a channel of the owner `O`
/// (a PeerConnection or a standalone manager).
pub struct ChannelObject<O> {
    pub owner: super::handle::Handle<O>,
    pub id: crate::channel::ChannelId,
    pub label: std::ffi::CString,
}

impl<O: Send + Sync + 'static> ChannelObject<O> {
    /// Registers the handle of channel `id` of `owner`.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn register(
        owner: super::handle::Handle<O>,
        id: crate::channel::ChannelId,
        label: &str,
    ) -> super::handle::Handle<ChannelObject<O>> {
        let label = std::ffi::CString::new(label.replace('\0', "")).unwrap_or_default();
        super::handle::insert(std::sync::Arc::new(ChannelObject { owner, id, label }))
    }
}
