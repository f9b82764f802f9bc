//! The end-of-run report: per type, keys restored, failed and skipped (expired, existing,
//! empty), then the commands and bytes sent, the warnings and the first failures.

use super::kind::Kind;
use super::pipeline::Outcome;
use super::replay::{Skips, TtlMode};
use super::Mode;
use elastickv_backup_engine::progress::human_bytes;
use std::fmt::Write as _;
use std::time::Duration;

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Summary {
    /// `host:port`.
    pub address: String,
    /// `(dump database, server database)` pairs restored.
    pub databases: Vec<(u32, u32)>,
    /// The mode.
    pub mode: Mode,
    /// `--preserve-ttl`.
    pub preserve_ttl: bool,
    /// How expiries were sent.
    pub ttl_mode: TtlMode,
    /// Keys written and failed.
    pub outcome: Outcome,
    /// Keys skipped on purpose.
    pub skips: Skips,
    /// The first warnings.
    pub warnings: Vec<String>,
    /// All warnings.
    pub warning_count: u64,
    /// Bytes sent to the server.
    pub sent_bytes: u64,
    /// Wall time.
    pub elapsed: Duration,
}

impl Summary {
    /// Keys written without a refused command, for `kind`.
    pub fn restored(&self, kind: Kind) -> u64 {
        let i = kind.index();
        self.outcome.written[i].saturating_sub(self.outcome.failed_writes[i])
    }

    /// Keys not restored because of an error, for `kind`.
    pub fn failed(&self, kind: Kind) -> u64 {
        let i = kind.index();
        self.outcome.failed_writes[i] + self.outcome.failed_other[i]
    }

    /// Keys failed, all kinds.
    pub fn failed_total(&self) -> u64 {
        self.outcome.failed_total()
    }

    /// The report, for standard output.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let dbs: Vec<String> = self
            .databases
            .iter()
            .map(|(from, to)| format!("db_{from} -> {to}"))
            .collect();
        let _ = writeln!(
            s,
            "restore redis: {} ({}), mode {}, expiries as {}{}",
            self.address,
            dbs.join(", "),
            self.mode.as_str(),
            match self.ttl_mode {
                TtlMode::Absolute => "PEXPIREAT",
                TtlMode::Relative => "PEXPIRE relative to now (server has no PEXPIREAT)",
            },
            if self.preserve_ttl {
                ", --preserve-ttl (past expiries sent too)"
            } else {
                ""
            }
        );
        let _ = writeln!(
            s,
            "  {:<8} {:>10} {:>8} {:>9} {:>9} {:>7}",
            "type", "restored", "failed", "expired", "existing", "empty"
        );
        let mut tot = [0u64; 5];
        for k in Kind::ALL {
            let i = k.index();
            let row = [
                self.restored(k),
                self.failed(k),
                self.skips.expired[i],
                self.skips.existing[i],
                self.skips.empty[i],
            ];
            if row.iter().all(|&v| v == 0) {
                continue;
            }
            for (t, v) in tot.iter_mut().zip(row) {
                *t += v;
            }
            let _ = writeln!(
                s,
                "  {:<8} {:>10} {:>8} {:>9} {:>9} {:>7}",
                k.dir(),
                row[0],
                row[1],
                row[2],
                row[3],
                row[4]
            );
        }
        let _ = writeln!(
            s,
            "  {:<8} {:>10} {:>8} {:>9} {:>9} {:>7}",
            "total", tot[0], tot[1], tot[2], tot[3], tot[4]
        );
        let secs = self.elapsed.as_secs_f64().max(0.001);
        let _ = writeln!(
            s,
            "  {} commands ({} refused), {} sent, {:.1}s, {:.0} commands/s",
            self.outcome.commands,
            self.outcome.failed_commands,
            human_bytes(self.sent_bytes),
            secs,
            self.outcome.commands as f64 / secs
        );
        if self.outcome.setid_unsupported > 0 {
            let _ = writeln!(
                s,
                "  note: {} stream(s) had a last ID past their last entry; the server has no XSETID, so their last ID is the last entry's",
                self.outcome.setid_unsupported
            );
        }
        if self.warning_count > 0 {
            let _ = writeln!(s, "  warnings ({}):", self.warning_count);
            for w in &self.warnings {
                let _ = writeln!(s, "    {w}");
            }
        }
        if !self.outcome.messages.is_empty() {
            let _ = writeln!(
                s,
                "  failures ({} key(s); the first {} shown):",
                self.failed_total(),
                self.outcome.messages.len()
            );
            for m in &self.outcome.messages {
                let _ = writeln!(s, "    {m}");
            }
        }
        s
    }
}
