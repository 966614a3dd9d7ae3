//! The crate error: one enum over the per-layer errors.

use std::fmt;

/// Every error a libxp2p API can return. Each layer has its own enum; this
/// wraps them so callers can match on the layer when they care.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    Stun(crate::stun::StunError),
    Sdp(crate::sdp::SdpError),
    Turn(crate::turn::TurnError),
    Ice(crate::ice::IceError),
    Channel(crate::channel::ChannelError),
    Dtls(crate::dtls::DtlsError),
    Sctp(crate::sctp::SctpError),
    Peer(crate::peer::PeerError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Stun(e) => write!(f, "stun: {e}"),
            Error::Sdp(e) => write!(f, "sdp: {e}"),
            Error::Turn(e) => write!(f, "turn: {e}"),
            Error::Ice(e) => write!(f, "ice: {e}"),
            Error::Channel(e) => write!(f, "datachannel: {e}"),
            Error::Dtls(e) => write!(f, "dtls: {e}"),
            Error::Sctp(e) => write!(f, "sctp: {e}"),
            Error::Peer(e) => write!(f, "peerconnection: {e}"),
        }
    }
}

impl std::error::Error for Error {}

macro_rules! wrap_layer_error {
    ($($variant:ident($ty:path)),* $(,)?) => {
        $(impl From<$ty> for Error {
            fn from(e: $ty) -> Self {
                Error::$variant(e)
            }
        })*
    };
}

wrap_layer_error!(
    Stun(crate::stun::StunError),
    Sdp(crate::sdp::SdpError),
    Turn(crate::turn::TurnError),
    Ice(crate::ice::IceError),
    Channel(crate::channel::ChannelError),
    Dtls(crate::dtls::DtlsError),
    Sctp(crate::sctp::SctpError),
    Peer(crate::peer::PeerError),
);
