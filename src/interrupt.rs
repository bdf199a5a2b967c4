//! SIGINT and SIGTERM, as CI sends them to a cancelled job. By default the first one stops the
//! run at once: the temporary files writes go through are removed (so the previous manifest and
//! every finished file stay as they were) and the exit code is 128 + the signal's number. A
//! publish instead [`Cooperating`] stops itself at the next safe point (no new upload, the
//! manifest not sent if it has not been, its pending record and lock removed) and exits with
//! its own codes. A second signal always stops at once.

use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::time::Duration;

/// The first signal received, 0 while none has been.
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// How many parts of the run handle the first signal themselves.
static COOPERATING: AtomicUsize = AtomicUsize::new(0);

/// Starts listening for SIGINT and SIGTERM; once per process, before any work.
pub fn install() {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
            return;
        };
        std::thread::Builder::new()
            .name("stapler-signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    let first = RECEIVED
                        .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst)
                        .is_ok();
                    if first && COOPERATING.load(Ordering::SeqCst) > 0 {
                        continue;
                    }
                    crate::output::remove_temporaries();
                    eprintln!(
                        "stapler: stopped by {}; temporary files removed, the previous manifest is untouched",
                        name(signal)
                    );
                    std::process::exit(128 + signal);
                }
            })
            .ok();
    }
}

/// `SIGINT` or `SIGTERM`.
pub fn name(signal: i32) -> &'static str {
    match signal {
        2 => "SIGINT",
        15 => "SIGTERM",
        _ => "a signal",
    }
}

/// The signal that asked the run to stop, if one has.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// Resolves once a signal has asked the run to stop.
pub async fn stopping() -> i32 {
    loop {
        if let Some(signal) = received() {
            return signal;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// While one lives, the first signal is left to the run to act on ([`received`]).
pub struct Cooperating(());

impl Cooperating {
    pub fn start() -> Cooperating {
        COOPERATING.fetch_add(1, Ordering::SeqCst);
        Cooperating(())
    }
}

impl Drop for Cooperating {
    fn drop(&mut self) {
        COOPERATING.fetch_sub(1, Ordering::SeqCst);
    }
}
