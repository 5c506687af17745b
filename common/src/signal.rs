//! Shutdown on SIGTERM (systemd, init scripts) or SIGINT (a terminal), for both daemons.
//! Must be called inside a tokio runtime; never exits the process itself.

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

/// A receiver that turns true on the first SIGTERM or SIGINT.
pub fn shutdown_on_signals() -> std::io::Result<watch::Receiver<bool>> {
    let (tx, rx) = watch::channel(false);
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        // Nobody listening any more means shutdown is under way already.
        let _ = tx.send(true);
    });
    Ok(rx)
}
