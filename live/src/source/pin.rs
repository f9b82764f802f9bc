//! The pin's lifecycle on the producer side (docs/format/50-live-cluster.md §5.5): `BeginBackup`, a renewal task
//! that is the dump's liveness authority (renew every ttl/3; on failure stop every scan), and
//! `EndBackup` with its own short deadline on every exit path.

use super::abort::{Abort, AbortReason};
use super::client::Conn;
use super::error::LiveError;
use super::retry;
use elastickv_backup_proto::wire::{
    BeginBackupRequest, BeginBackupResponse, EndBackupRequest, RenewBackupRequest,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Deadline of one `EndBackup` attempt (two attempts are made).
pub const END_BACKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// `BeginBackup`, with the deadline spec §5.10 derives from `--begin-backup-deadline`.
pub async fn begin(
    conn: &Conn,
    ttl_ms: u64,
    begin_deadline: Duration,
) -> Result<BeginBackupResponse, tonic::Status> {
    let timeout = begin_deadline * 3 + Duration::from_secs(30);
    let r = conn.req(BeginBackupRequest { ttl_ms }, timeout);
    Ok(conn.admin().begin_backup(r).await?.into_inner())
}

/// `EndBackup`: one retry, each attempt bounded; failure is logged, never fatal (the pin
/// expires by itself).
pub async fn end(conn: &Conn, token: &[u8]) -> bool {
    for attempt in 1..=2 {
        let r = conn.req(
            EndBackupRequest {
                pin_token: token.to_vec(),
            },
            END_BACKUP_TIMEOUT,
        );
        match tokio::time::timeout(END_BACKUP_TIMEOUT, conn.admin().end_backup(r)).await {
            Ok(Ok(_)) => return true,
            Ok(Err(s)) => tracing::warn!(
                "EndBackup attempt {attempt}: {:?}: {}",
                s.code(),
                s.message()
            ),
            Err(_) => tracing::warn!("EndBackup attempt {attempt}: timed out"),
        }
    }
    tracing::warn!("the backup pin was not released; it expires by its TTL");
    false
}

/// When a renewal round must have succeeded, as a fraction of the TTL after the last grant:
/// the margin left covers the clock and transit difference with the server.
const RENEW_DEADLINE_NUM: u32 = 9;
const RENEW_DEADLINE_DEN: u32 = 10;
/// Attempts a renewal round is sized for: each attempt gets a third of the time from
/// `ttl/3` to the round's deadline, so a stalled call (a leader election) leaves room for at
/// least two more.
const RENEW_ATTEMPTS: u32 = 3;

/// The per-attempt deadline of a renewal round starting `ttl/3` after a grant.
fn attempt_timeout(ttl: Duration) -> Duration {
    let window = ttl * RENEW_DEADLINE_NUM / RENEW_DEADLINE_DEN - ttl / 3;
    (window / (RENEW_ATTEMPTS + 1)).max(Duration::from_millis(1))
}

/// Renews the pin every `ttl/3` until `abort` fires. A renewal that fails transiently
/// (broken connection, node restarting, deadline, leader change — see `retry::classify`) is
/// repeated with short attempts until 90% of the TTL since the last grant is gone; a pin the
/// server no longer knows, or any other refusal, stops the dump at once.
pub async fn renewal_loop(
    conns: Vec<Conn>,
    token: Vec<u8>,
    ttl_ms: u64,
    abort: Abort,
    renewals: Arc<AtomicU64>,
) {
    let mut ttl = Duration::from_millis(ttl_ms.max(3));
    let mut granted = Instant::now();
    let mut at = 0usize;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(granted + ttl / 3) => {}
            _ = abort.wait() => return,
        }
        let round_deadline = granted + ttl * RENEW_DEADLINE_NUM / RENEW_DEADLINE_DEN;
        let per_attempt = attempt_timeout(ttl);
        let backoff = (ttl / 30).clamp(Duration::from_millis(1), Duration::from_millis(500));
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let Some(conn) = conns.get(at % conns.len().max(1)) else {
                abort.trigger(AbortReason::Failed(LiveError::PinLost(
                    "no seed to renew the pin through".into(),
                )));
                return;
            };
            let sent = Instant::now();
            let timeout = per_attempt.min(round_deadline.saturating_duration_since(sent));
            let r = conn.req(
                RenewBackupRequest {
                    pin_token: token.clone(),
                    ttl_ms,
                },
                timeout,
            );
            let res = tokio::select! {
                r = tokio::time::timeout(timeout, async { conn.admin().renew_backup(r).await }) => {
                    r.unwrap_or_else(|_| Err(retry::no_answer("RenewBackup", timeout)))
                }
                _ = abort.wait() => return,
            };
            match res {
                Ok(resp) => {
                    granted = sent;
                    ttl = Duration::from_millis(resp.into_inner().ttl_ms_effective.max(3));
                    renewals.fetch_add(1, Ordering::AcqRel);
                    elastickv_backup_engine::progress::pin_renewed((granted + ttl).into_std());
                    break;
                }
                Err(s) if retry::is_transient(&s) && Instant::now() + backoff < round_deadline => {
                    tracing::warn!(
                        "RenewBackup attempt {attempts} via {}: {:?}: {} — retrying",
                        conn.address,
                        s.code(),
                        s.message()
                    );
                    if retry::classify(&s).is_some_and(|t| t.reresolve()) {
                        at += 1; // the next seed
                    }
                    tokio::time::sleep(backoff).await;
                }
                Err(s) => {
                    let e = LiveError::PinLost(format!(
                        "RenewBackup: {:?}: {} (after {attempts} attempt(s))",
                        s.code(),
                        s.message()
                    ));
                    tracing::error!("{e}");
                    abort.trigger(AbortReason::Failed(e));
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_fits_three_attempts() {
        for ms in [900u64, 3_000, 1_800_000] {
            let ttl = Duration::from_millis(ms);
            let window = ttl * RENEW_DEADLINE_NUM / RENEW_DEADLINE_DEN - ttl / 3;
            let backoff = (ttl / 30).clamp(Duration::from_millis(1), Duration::from_millis(500));
            assert!(
                (attempt_timeout(ttl) + backoff) * 3 <= window,
                "ttl {ms} ms: attempts {:?} do not fit {window:?}",
                attempt_timeout(ttl)
            );
        }
    }
}
