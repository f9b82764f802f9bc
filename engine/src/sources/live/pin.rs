//! The pin's lifecycle on the producer side (spec 50 §5.5): `BeginBackup`, a renewal task
//! that is the dump's liveness authority (renew every ttl/3; on failure stop every scan), and
//! `EndBackup` with its own short deadline on every exit path.

use super::abort::{Abort, AbortReason};
use super::client::Conn;
use super::error::LiveError;
use elastickv_backup_proto::wire::{
    BeginBackupRequest, BeginBackupResponse, EndBackupRequest, RenewBackupRequest,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tonic::Code;

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
            Ok(Err(s)) => eprintln!(
                "elastickv-backup: EndBackup attempt {attempt}: {:?}: {}",
                s.code(),
                s.message()
            ),
            Err(_) => eprintln!("elastickv-backup: EndBackup attempt {attempt}: timed out"),
        }
    }
    eprintln!("elastickv-backup: the backup pin was not released; it expires by its TTL");
    false
}

fn transient(code: Code) -> bool {
    matches!(code, Code::Unavailable | Code::DeadlineExceeded)
}

/// Renews the pin every `ttl/3` until `abort` fires. A renewal that still fails when only a
/// third of the TTL is left, or a pin the server no longer knows, stops the dump.
pub async fn renewal_loop(
    conn: Conn,
    token: Vec<u8>,
    ttl_ms: u64,
    abort: Abort,
    renewals: Arc<AtomicU64>,
) {
    let mut ttl = Duration::from_millis(ttl_ms.max(3));
    let mut granted = Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(granted + ttl / 3) => {}
            _ = abort.wait() => return,
        }
        loop {
            let sent = Instant::now();
            let r = conn.req(
                RenewBackupRequest {
                    pin_token: token.clone(),
                    ttl_ms,
                },
                ttl / 3,
            );
            let res = tokio::select! {
                r = async { conn.admin().renew_backup(r).await } => r,
                _ = abort.wait() => return,
            };
            match res {
                Ok(resp) => {
                    granted = sent;
                    ttl = Duration::from_millis(resp.into_inner().ttl_ms_effective.max(3));
                    renewals.fetch_add(1, Ordering::AcqRel);
                    crate::progress::pin_renewed((granted + ttl).into_std());
                    break;
                }
                Err(s) if transient(s.code()) && Instant::now() < granted + ttl * 2 / 3 => {
                    tokio::time::sleep(Duration::from_millis(500).min(ttl / 10)).await;
                }
                Err(s) => {
                    let e =
                        LiveError::PinLost(format!("RenewBackup: {:?}: {}", s.code(), s.message()));
                    eprintln!("elastickv-backup: CRITICAL: {e}");
                    abort.trigger(AbortReason::Failed(e.to_string()));
                    return;
                }
            }
        }
    }
}
