//! Which failed calls are worth repeating (docs/format/50-live-cluster.md §5.5, §3.5): a dropped connection, a
//! node restarting, a deadline that ran out (tonic reports its own as `CANCELLED "Timeout
//! expired"`) and a leader change all heal by themselves within seconds, so scans retry them
//! within the group's budget and renewals within the pin's remaining TTL. Everything else
//! (a refused request, a lost pin, a compacted read timestamp) fails fast: repeating it
//! cannot change the answer.

use tonic::{Code, Status};

/// Why a failed call may succeed when repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transient {
    /// The connection broke or could not be made (node killed, restarting, unreachable).
    Transport,
    /// The call ran out of time (a slow node, an election in progress).
    Timeout,
    /// The node asked is not (or no longer) the group's leader: ask the cluster again
    /// where the group lives.
    NotLeader,
}

impl Transient {
    /// Whether the group's node should be looked up again before the next attempt.
    pub fn reresolve(self) -> bool {
        matches!(self, Transient::Transport | Transient::NotLeader)
    }
}

/// Message fragments of a status that reports a broken connection rather than an answer
/// (tonic/hyper/h2 wrap transport failures in `UNKNOWN`/`INTERNAL` with these texts).
const TRANSPORT_HINTS: [&str; 9] = [
    "transport error",
    "connection reset",
    "connection refused",
    "connection closed",
    "broken pipe",
    "error trying to connect",
    "h2 protocol error",
    "operation was canceled",
    "stream closed",
];

/// Message fragments of a leader change (upstream's raft and coordinator errors).
const NOT_LEADER_HINTS: [&str; 5] = [
    "not leader",
    "not the leader",
    "leader not found",
    "no leader",
    "leadership",
];

fn mentions(message: &str, hints: &[&str]) -> bool {
    let m = message.to_ascii_lowercase();
    hints.iter().any(|h| m.contains(h))
}

/// Classifies a failed call: `Some` when repeating it may succeed.
pub fn classify(s: &Status) -> Option<Transient> {
    if mentions(s.message(), &NOT_LEADER_HINTS) {
        return Some(Transient::NotLeader);
    }
    match s.code() {
        Code::Unavailable => Some(Transient::Transport),
        Code::DeadlineExceeded => Some(Transient::Timeout),
        // tonic's own deadline ("Timeout expired") and a stream reset by a dying peer.
        Code::Cancelled if mentions(s.message(), &TRANSPORT_HINTS) => Some(Transient::Transport),
        Code::Cancelled => Some(Transient::Timeout),
        Code::Unknown | Code::Internal if mentions(s.message(), &TRANSPORT_HINTS) => {
            Some(Transient::Transport)
        }
        _ => None,
    }
}

/// Whether repeating the call may succeed.
pub fn is_transient(s: &Status) -> bool {
    classify(s).is_some()
}

/// The status reported when a call got no answer at all within `what`'s deadline (the
/// client-side bound that also covers a peer that stopped answering without closing).
pub fn no_answer(what: &str, timeout: std::time::Duration) -> Status {
    Status::deadline_exceeded(format!("{what}: no answer within {timeout:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_classes() {
        let t = |s: Status| classify(&s);
        assert_eq!(t(Status::unavailable("x")), Some(Transient::Transport));
        assert_eq!(
            t(Status::unknown("transport error")),
            Some(Transient::Transport)
        );
        assert_eq!(
            t(Status::internal("h2 protocol error: connection reset")),
            Some(Transient::Transport)
        );
        assert_eq!(
            t(Status::cancelled("Timeout expired")),
            Some(Transient::Timeout)
        );
        assert_eq!(
            t(Status::deadline_exceeded("late")),
            Some(Transient::Timeout)
        );
        assert_eq!(
            t(Status::unknown("raft: leader not found")),
            Some(Transient::NotLeader)
        );
        assert_eq!(
            t(Status::failed_precondition("node is not leader of group 3")),
            Some(Transient::NotLeader)
        );
        assert!(Transient::NotLeader.reresolve() && !Transient::Timeout.reresolve());
    }

    #[test]
    fn answers_fail_fast() {
        for s in [
            Status::unknown("invalid request"),
            Status::resource_exhausted("big"),
            Status::not_found("backup pin not found"),
            Status::failed_precondition("read timestamp has been compacted"),
            Status::unauthenticated("invalid admin token"),
            Status::invalid_argument("ttl"),
            Status::internal("state machine error"),
        ] {
            assert!(!is_transient(&s), "{s:?}");
        }
    }
}
