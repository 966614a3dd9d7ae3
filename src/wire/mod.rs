//! Datagram demultiplexing by first byte (RFC 7983) and shared wire helpers.
