//! Hooks for showing progress of long work; the library never prints. `main.rs` draws a bar on
//! a terminal and nothing elsewhere.

/// What is being counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Distinct source files read and minified.
    Sources,
    /// Bytes uploaded.
    Bytes,
}

pub trait Progress: Sync {
    /// `total` units of `work` are about to be done.
    fn start(&self, _work: Work, _total: u64) {}
    /// `done` more units were done.
    fn advance(&self, _done: u64) {}
    /// What the work is doing besides progressing (retrying, waiting), in a few words.
    fn status(&self, _text: &str) {}
    /// The work ended, well or not.
    fn finish(&self) {}
}

/// Progress that shows nothing.
pub struct Quiet;

impl Progress for Quiet {}
