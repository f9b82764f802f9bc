//! One dump-wide stop signal: a renewal failure, a lost pin or SIGINT/SIGTERM stops every
//! scanner at its next await point, and the first reason given is the one reported.

use super::error::LiveError;
use std::sync::Arc;
use tokio::sync::watch;

/// Why the dump stopped early.
#[derive(Debug, Clone, PartialEq)]
pub enum AbortReason {
    /// The operator interrupted the dump.
    Cancelled(String),
    /// Something made the dump's result untrustworthy (lost pin, failed renewal); typed, so
    /// the resume decision sees what happened.
    Failed(LiveError),
}

impl AbortReason {
    /// The engine error this reason surfaces as.
    pub fn to_error(&self) -> elastickv_backup_engine::error::Error {
        match self {
            AbortReason::Cancelled(m) => {
                elastickv_backup_engine::error::Error::Cancelled(m.clone())
            }
            AbortReason::Failed(e) => elastickv_backup_engine::error::Error::Live(e.clone()),
        }
    }
}

/// A cloneable handle on the stop signal.
#[derive(Clone, Debug)]
pub struct Abort {
    tx: Arc<watch::Sender<Option<AbortReason>>>,
}

impl Default for Abort {
    fn default() -> Self {
        Abort {
            tx: Arc::new(watch::channel(None).0),
        }
    }
}

impl Abort {
    /// Stops the dump (the first reason wins).
    pub fn trigger(&self, reason: AbortReason) {
        self.tx.send_if_modified(|cur| {
            if cur.is_none() {
                *cur = Some(reason);
                true
            } else {
                false
            }
        });
    }

    /// The reason, once stopped.
    pub fn reason(&self) -> Option<AbortReason> {
        self.tx.borrow().clone()
    }

    /// Resolves when the dump is stopped.
    pub async fn wait(&self) -> AbortReason {
        let mut rx = self.tx.subscribe();
        loop {
            if let Some(r) = rx.borrow_and_update().clone() {
                return r;
            }
            if rx.changed().await.is_err() {
                // The sender lives as long as any handle; unreachable in practice.
                std::future::pending::<()>().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_reason_wins_and_wakes_waiters() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let a = Abort::default();
        let b = a.clone();
        let waiter = rt.spawn(async move { b.wait().await });
        let lost = LiveError::PinLost("x".into());
        a.trigger(AbortReason::Failed(lost.clone()));
        a.trigger(AbortReason::Cancelled("y".into()));
        assert_eq!(
            rt.block_on(waiter).unwrap(),
            AbortReason::Failed(lost.clone())
        );
        assert_eq!(a.reason(), Some(AbortReason::Failed(lost)));
    }
}
