//! SIGINT/SIGTERM as a future: the dump turns it into a cancellation (stop scans, EndBackup,
//! no MANIFEST, non-zero exit); `serve` uses it to shut down.

/// Resolves on the first SIGINT or SIGTERM (Ctrl-C only on non-Unix systems).
pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
