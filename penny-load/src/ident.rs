//! Quoting and deriving PostgreSQL identifiers. Names from outside are always quoted,
//! never spliced raw into SQL.

use crate::error::LoadError;

/// The longest identifier PostgreSQL keeps unchanged (`NAMEDATALEN - 1`); longer ones
/// are silently truncated by the server, so they are refused here instead.
pub const MAX_IDENTIFIER_BYTES: usize = 63;

pub(crate) use penny_transform::ident::{qualified, quote_ident as quote};

/// Refuses names PostgreSQL would change or reject.
pub(crate) fn check(what: &'static str, name: &str) -> Result<(), LoadError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > MAX_IDENTIFIER_BYTES {
        Some("it is longer than 63 bytes, and PostgreSQL would truncate it")
    } else if name.contains('\0') {
        Some("it contains a NUL byte")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(LoadError::BadIdentifier {
            what,
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// A stable 64-bit hash of some text (FNV-1a), for derived names and lock keys: the
/// same in every build and every process, so two penny processes agree on a lock key.
pub(crate) fn stable_hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in p.as_bytes().iter().chain(std::iter::once(&0xffu8)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// `base` followed by `suffix`, shortened (at a character boundary, with a hash of the
/// full name) so that the result fits in [`MAX_IDENTIFIER_BYTES`].
pub(crate) fn derived(base: &str, suffix: &str) -> String {
    let full = format!("{base}{suffix}");
    if full.len() <= MAX_IDENTIFIER_BYTES {
        return full;
    }
    let tag = format!("_{:08x}", stable_hash(&[&full]) as u32);
    if suffix.len() + tag.len() >= MAX_IDENTIFIER_BYTES {
        return format!("{}{tag}", prefix(&full, MAX_IDENTIFIER_BYTES - tag.len()));
    }
    let room = MAX_IDENTIFIER_BYTES - suffix.len() - tag.len();
    format!("{}{tag}{suffix}", prefix(base, room))
}

/// The longest prefix of `text` of at most `bytes` bytes ending at a character boundary.
fn prefix(text: &str, bytes: usize) -> &str {
    let mut cut = bytes.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_names_postgres_would_change() {
        assert!(check("table", "journals").is_ok());
        assert!(check("table", "").is_err());
        assert!(check("table", &"x".repeat(64)).is_err());
        assert!(check("column", "a\0b").is_err());
    }

    #[test]
    fn hashes_are_stable_across_builds() {
        assert_eq!(stable_hash(&[]), 0xcbf2_9ce4_8422_2325);
        assert_ne!(stable_hash(&["ab", "c"]), stable_hash(&["a", "bc"]));
    }

    #[test]
    fn derived_names_fit() {
        assert_eq!(derived("t", "_pkey"), "t_pkey");
        let long = "é".repeat(40);
        let d = derived(&long, "_ledger_account_id_idx");
        assert!(d.len() <= MAX_IDENTIFIER_BYTES, "{d}");
        assert!(d.ends_with("_ledger_account_id_idx"));
        assert_ne!(d, derived(&"é".repeat(41), "_ledger_account_id_idx"));
        let huge_suffix = format!("_{}_idx", "c".repeat(63));
        assert!(derived("t", &huge_suffix).len() <= MAX_IDENTIFIER_BYTES);
    }
}
