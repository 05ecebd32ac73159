//! # penny-sync
//!
//! The engine of [Penny](https://github.com/penny-rs/penny): it runs many streams of
//! any [`Source`](penny_transform::Source) into raw tables (stage 1), then transforms
//! them into the canonical accounting model, the star schema and the reports (stage 2),
//! rebuilt whole or kept up to date by what the load changed; once, or on a
//! [`schedule`].
//!
//! - [`run`]: one run of a source into [`Targets`](run::Targets) (raw tables, then the
//!   transformation);
//! - [`pipeline`]: the streams of one run, concurrently;
//! - [`transform`]: stage 2;
//! - [`schedule`]: runs on a cadence with backoff and a graceful stop;
//! - [`target`]: the targets (PostgreSQL, feature `postgres`; a folder of CSV files,
//!   feature `csv`);
//! - [`progress`]: what a run reports as it goes; [`error`]: what failed.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod changes;
pub mod combined;
pub mod duration;
pub mod error;
pub mod pipeline;
pub mod progress;
pub mod run;
pub mod schedule;
pub mod target;
pub mod transform;

pub use error::SyncError;
pub use progress::{NoProgress, Progress, StreamObserver};

/// The README's examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
