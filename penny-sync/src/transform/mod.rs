//! Stage 2: the raw tables read back and transformed into the canonical model, the
//! star schema and the reports, rebuilt whole ([`rebuild`]) or kept up to date by what
//! the raw load changed ([`update`]).

pub mod rebuild;
pub mod reports;
pub mod update;
