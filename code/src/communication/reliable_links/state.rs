//! The connection's life cycle: the states of RFC 9293 §3.3.2 that this transport uses.
//!
//! The client opens and closes actively; the server opens and closes passively. That covers
//! ten of TCP's eleven states; CLOSING (both ends sending FIN at once) never happens here,
//! because our server closes only after it has received the client's FIN.

// ANCHOR: state
/// Where one end of a connection is in its life cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    /// No connection.
    Closed,
    /// The server waits for a SYN.
    Listen,
    /// The client sent SYN and waits for SYN+ACK.
    SynSent,
    /// The server answered SYN+ACK and waits for the ACK of its SYN.
    SynReceived,
    /// Both SYNs are acknowledged: data flows.
    Established,
    /// The client sent FIN and waits for its ACK.
    FinWait1,
    /// The client's FIN is acknowledged; it waits for the server's FIN.
    FinWait2,
    /// The server received FIN; its application has not closed yet.
    CloseWait,
    /// The server sent its own FIN and waits for its ACK.
    LastAck,
    /// The client acknowledged the server's FIN and lingers, in case that ACK is lost.
    TimeWait,
}
// ANCHOR_END: state
