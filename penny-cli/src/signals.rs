//! The OS signals that ask `penny` to stop: Ctrl-C, and SIGTERM on Unix (a service
//! manager stopping it).

/// Completes when Ctrl-C (or SIGTERM on Unix) is received. The handlers are
/// installed when the future is first polled.
pub async fn stop_requested() {
    received().await;
    tracing::info!("stop requested: finishing the current run");
}

async fn received() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
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
