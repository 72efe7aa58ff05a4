//! `Latch`: the one record of "this database failed" or "this database is closed",
//! which every write, flush, job and wait checks.
//!
//! A failure is the first error of a write the engine cannot take back: a WAL append
//! or fsync, a table or manifest write, a worker that panicked. Once latched, the
//! database refuses writes until it is reopened (what was acknowledged before stays
//! readable), as LevelDB's `bg_error_` and redb's `PreviousIo` do. The latch keeps the
//! original error, never a wrapped one, so however many layers report it the user
//! sees `Background(original)` once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use crate::{Error, Result};

/// "Failed" (with the first failure) and "closed", set once each, never cleared.
#[derive(Debug, Default)]
pub(crate) struct Latch {
    failure: OnceLock<Error>,
    closed: AtomicBool,
}

impl Latch {
    /// `Error::Closed` after `close`, else `Error::Background(first failure)` after a
    /// failure, else `Ok`.
    pub fn check(&self) -> Result<()> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        self.check_failed()
    }

    /// `Error::Background(first failure)` after a failure, whether or not closed.
    pub fn check_failed(&self) -> Result<()> {
        match self.failure.get() {
            Some(e) => Err(Error::Background(Box::new(e.clone()))),
            None => Ok(()),
        }
    }

    /// Records `e` as the database's failure unless one is recorded already. An
    /// `Error::Background` is unwrapped to the failure it carries, and `Error::Closed`
    /// (a write cut short by `close`) is no failure at all. True if `e` was recorded.
    pub fn fail(&self, e: &Error) -> bool {
        let mut e = e;
        while let Error::Background(inner) = e {
            e = inner;
        }
        if matches!(e, Error::Closed) {
            return false;
        }
        self.failure.set(e.clone()).is_ok()
    }

    /// The first failure, if any.
    pub fn failure(&self) -> Option<&Error> {
        self.failure.get()
    }

    /// Marks the database closed; true if it already was.
    pub fn close(&self) -> bool {
        self.closed.swap(true, Ordering::AcqRel)
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(msg: &str) -> Error {
        Error::from(std::io::Error::other(msg.to_string()))
    }

    /// Found by review: a write that met a flush failure recorded the already wrapped
    /// error as the WAL's own failure, so `close` returned `Background(Background(e))`
    /// ("refuses writes after an earlier failure: refuses writes after an earlier
    /// failure: ...").
    #[test]
    fn a_failure_reported_through_layers_is_wrapped_once() {
        let latch = Latch::default();
        assert!(latch.check().is_ok());
        let wrapped = Error::Background(Box::new(Error::Background(Box::new(io("disk")))));
        assert!(latch.fail(&wrapped));
        let e = latch.check().unwrap_err();
        match &e {
            Error::Background(inner) => assert!(matches!(**inner, Error::Io(_)), "{e}"),
            other => panic!("expected Background, got {other}"),
        }
        assert_eq!(e.to_string().matches("earlier failure").count(), 1, "{e}");
    }

    #[test]
    fn the_first_failure_wins_and_closed_is_not_a_failure() {
        let latch = Latch::default();
        assert!(!latch.fail(&Error::Closed));
        assert!(latch.failure().is_none());
        assert!(latch.fail(&io("first")));
        assert!(!latch.fail(&io("second")));
        assert!(latch.failure().unwrap().to_string().contains("first"));
        assert!(!latch.close());
        assert!(matches!(latch.check(), Err(Error::Closed)));
        assert!(matches!(latch.check_failed(), Err(Error::Background(_))));
        assert!(latch.close(), "a second close reports it was closed");
    }
}
