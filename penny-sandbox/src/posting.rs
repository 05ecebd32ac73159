//! A posting: an amount on one side of one account, the line every ledger entry is made of.

use rust_decimal::Decimal;

use crate::chart;

/// Which ledger account a line is on: an index into the ledger accounts table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AccountRef {
    /// A general account (index into `chart::GENERAL_ACCOUNTS`).
    General(usize),
    /// The auxiliary account of customer `c` (411...).
    Customer(usize),
    /// The auxiliary account of supplier `s` (401...).
    Supplier(usize),
}

/// A ledger entry line.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub account: AccountRef,
    pub debit: Decimal,
    pub credit: Decimal,
}

/// A line of `amount` on `account`, on the debit side when `debit_side`.
pub(crate) fn posting(account: AccountRef, amount: Decimal, debit_side: bool) -> Line {
    // A negative amount (credit note) goes on the other side, so both stay >= 0.
    let debit_side = debit_side ^ amount.is_sign_negative();
    let amount = amount.abs();
    if debit_side {
        Line {
            account,
            debit: amount,
            credit: Decimal::ZERO,
        }
    } else {
        Line {
            account,
            debit: Decimal::ZERO,
            credit: amount,
        }
    }
}

/// The general account numbered `number`.
pub(crate) fn general(number: &str) -> AccountRef {
    AccountRef::General(chart::account(number))
}
