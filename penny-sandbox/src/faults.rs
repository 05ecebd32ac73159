//! Fault injection: the next requests fail the way real servers and networks do.

use std::collections::VecDeque;
use std::time::Duration;

/// A fault served to the next `count` requests (whatever their path), in the order
/// injected. Rate-limited requests do not consume faults.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// A 429 storm: `count` answers 429 with `retry-after: retry_after_secs` and the
    /// plain-text body, whatever the token's budget.
    TooManyRequests {
        /// Requests affected.
        count: u32,
        /// The `retry-after` header, in seconds.
        retry_after_secs: u64,
    },
    /// `count` answers with HTTP `status` (500, 502, 503...) and a JSON error body.
    ServerError {
        /// Requests affected.
        count: u32,
        /// The status.
        status: u16,
    },
    /// `count` normal answers delayed by `delay`.
    Latency {
        /// Requests affected.
        count: u32,
        /// The delay.
        delay: Duration,
    },
    /// `count` answers 200 whose JSON body is cut in the middle.
    MalformedJson {
        /// Requests affected.
        count: u32,
    },
}

impl Fault {
    fn count(&self) -> u32 {
        match self {
            Fault::TooManyRequests { count, .. }
            | Fault::ServerError { count, .. }
            | Fault::Latency { count, .. }
            | Fault::MalformedJson { count } => *count,
        }
    }
}

/// The queue of pending faults.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    queue: VecDeque<(Fault, u32)>,
}

impl Faults {
    pub(crate) fn push(&mut self, fault: Fault) {
        let n = fault.count();
        if n > 0 {
            self.queue.push_back((fault, n));
        }
    }

    /// The fault for the next request, if any (consumes one of its count).
    pub(crate) fn next(&mut self) -> Option<Fault> {
        let (fault, left) = self.queue.front_mut()?;
        let fault = fault.clone();
        *left -= 1;
        if *left == 0 {
            self.queue.pop_front();
        }
        Some(fault)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn faults_apply_in_order_for_their_count() {
        let mut faults = Faults::default();
        faults.push(Fault::ServerError {
            count: 2,
            status: 503,
        });
        faults.push(Fault::MalformedJson { count: 1 });
        faults.push(Fault::MalformedJson { count: 0 });
        assert_eq!(
            faults.next(),
            Some(Fault::ServerError {
                count: 2,
                status: 503
            })
        );
        assert_eq!(
            faults.next(),
            Some(Fault::ServerError {
                count: 2,
                status: 503
            })
        );
        assert_eq!(faults.next(), Some(Fault::MalformedJson { count: 1 }));
        assert_eq!(faults.next(), None);
    }
}
