//! `serve --fault AT=ACTION`: failures scheduled on the loopback cluster from the command
//! line, so an operator can rehearse a dump against them without writing Rust (the same
//! switches the tests use through [`elastickv_backup_loopback::Cluster`]).

use elastickv_backup_engine::error::Error;
use elastickv_backup_loopback::LoopbackServer;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// One scheduled failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Stop node N abruptly (connections reset, as SIGKILL).
    KillNode(usize),
    /// Start a killed node N again on its address.
    RestartNode(usize),
    /// Move the leadership of one group (`None` = every group), with an election window.
    MoveLeader(Option<u64>),
    /// Stall the next COUNT RenewBackup calls for MS milliseconds each.
    StallRenewals {
        /// Milliseconds each stalled call waits.
        ms: u64,
        /// Calls to stall.
        count: u64,
    },
    /// Drop every pin on every group (a replica that lost its pins).
    DropPins,
    /// Compact every group now, keeping only what pins protect.
    Compact,
    /// Add MS milliseconds to every RawKV page.
    ScanDelay(u64),
}

/// `AT=ACTION` with AT a duration since the server started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// When, after start.
    pub at: Duration,
    /// What.
    pub action: Action,
}

const USAGE: &str = "expected AT=ACTION, AT a duration (500ms, 2s) and ACTION one of kill-node:N, restart-node:N, move-leader:G|all, stall-renewals:MS:COUNT, drop-pins, compact, scan-delay:MS";

/// Parses one `--fault` value.
pub fn parse(v: &str) -> Result<Fault, Error> {
    let bad = |why: &str| Error::Usage(format!("--fault {v}: {why}; {USAGE}"));
    let (at, action) = v.split_once('=').ok_or_else(|| bad("no '='"))?;
    let at = super::super::common::duration_arg(at).map_err(|e| bad(&e))?;
    let mut parts = action.split(':');
    let name = parts.next().unwrap_or_default();
    let args: Vec<&str> = parts.collect();
    let num = |i: usize| -> Result<u64, Error> {
        args.get(i)
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| bad("missing or invalid number"))
    };
    let action = match (name, args.len()) {
        ("kill-node", 1) => Action::KillNode(num(0)? as usize),
        ("restart-node", 1) => Action::RestartNode(num(0)? as usize),
        ("move-leader", 1) if args[0] == "all" => Action::MoveLeader(None),
        ("move-leader", 1) => Action::MoveLeader(Some(num(0)?)),
        ("stall-renewals", 2) => Action::StallRenewals {
            ms: num(0)?,
            count: num(1)?,
        },
        ("drop-pins", 0) => Action::DropPins,
        ("compact", 0) => Action::Compact,
        ("scan-delay", 1) => Action::ScanDelay(num(0)?),
        _ => return Err(bad("unknown action or wrong arguments")),
    };
    Ok(Fault { at, action })
}

/// Applies `action` to the running server.
pub fn apply(server: &mut LoopbackServer, action: &Action) -> Result<(), Error> {
    let c = server.cluster().clone();
    match action {
        Action::KillNode(n) => server.kill_node(*n),
        Action::RestartNode(n) => server.restart_node(*n)?,
        Action::MoveLeader(Some(g)) => c.placement.move_leader(*g),
        Action::MoveLeader(None) => {
            for g in c.groups() {
                c.placement.move_leader(g.id);
            }
        }
        Action::StallRenewals { ms, count } => {
            c.faults.renew_stall_ms.store(*ms, Ordering::Release);
            c.faults.renew_stall_calls.store(*count, Ordering::Release);
        }
        Action::DropPins => {
            for g in c.groups() {
                c.drop_pins(g.id);
            }
        }
        Action::Compact => {
            c.compact(0);
        }
        Action::ScanDelay(ms) => c.faults.scan_delay_ms.store(*ms, Ordering::Release),
    }
    eprintln!("elastickv-backup: serve: fault applied: {action:?}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_actions() {
        assert_eq!(
            parse("2s=kill-node:1").unwrap(),
            Fault {
                at: Duration::from_secs(2),
                action: Action::KillNode(1)
            }
        );
        assert_eq!(
            parse("500ms=move-leader:all").unwrap().action,
            Action::MoveLeader(None)
        );
        assert_eq!(
            parse("1s=stall-renewals:4000:2").unwrap().action,
            Action::StallRenewals { ms: 4000, count: 2 }
        );
        for bad in [
            "kill-node:1",
            "1s=kill-node",
            "1s=explode",
            "x=compact",
            "1s=scan-delay:q",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
