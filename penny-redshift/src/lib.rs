//! # penny-redshift
//!
//! Not implemented yet: this crate reserves its name in the Penny workspace and
//! exports nothing. See the crate README for what it will hold.
