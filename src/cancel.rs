//! Ctrl-C / SIGTERM (a CI cancel): every wait polls this flag, kills what it started and
//! lets the cleanup guards run. What puts production back ([`shield`]) is not cut short by
//! it: a rollback runs to its end whatever the signal.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static CANCELLED: AtomicBool = AtomicBool::new(false);
static SHIELDS: AtomicUsize = AtomicUsize::new(0);

/// Installs the handler once; later calls do nothing.
pub fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Err(e) = ctrlc::set_handler(|| CANCELLED.store(true, Ordering::SeqCst)) {
            tracing::warn!("cannot watch for Ctrl-C: {e}");
        }
    });
}

/// Whether work should stop now: a cancel was asked for, and no shield is up.
pub fn is_cancelled() -> bool {
    CANCELLED.load(Ordering::SeqCst) && SHIELDS.load(Ordering::SeqCst) == 0
}

/// Whether a cancel was asked for, shielded or not.
pub fn was_requested() -> bool {
    CANCELLED.load(Ordering::SeqCst)
}

/// While it lives, waits do not see a cancel.
pub struct Shield(());

/// Raises a shield: what runs under it (a rollback) is not cut short by a cancel.
pub fn shield() -> Shield {
    SHIELDS.fetch_add(1, Ordering::SeqCst);
    Shield(())
}

impl Drop for Shield {
    fn drop(&mut self) {
        SHIELDS.fetch_sub(1, Ordering::SeqCst);
    }
}
