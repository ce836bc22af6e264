//! Ctrl-C / SIGTERM (a CI cancel): every wait polls this flag, kills what it started and
//! lets the cleanup guards run.

use std::sync::atomic::{AtomicBool, Ordering};

static CANCELLED: AtomicBool = AtomicBool::new(false);

/// Installs the handler once; later calls do nothing.
pub fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Err(e) = ctrlc::set_handler(|| CANCELLED.store(true, Ordering::SeqCst)) {
            tracing::warn!("cannot watch for Ctrl-C: {e}");
        }
    });
}

pub fn is_cancelled() -> bool {
    CANCELLED.load(Ordering::SeqCst)
}
