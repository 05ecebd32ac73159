//! The French chart of accounts (Plan comptable général, PCG): classes, their names,
//! nature (balance sheet or profit and loss), normal side, and auxiliary-account roots.
//!
//! Account numbers are text: Pennylane uses numeric numbers (`"411008"`, `"445710"`) and
//! auxiliary accounts may carry letters (`"411DUPONT"`). The class is the first digit.

/// Whether an account belongs to the balance sheet (classes 1 to 5) or to the profit and
/// loss (classes 6 and 7). Class 8 (special accounts) and unknown numbers are `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Nature {
    /// Classes 1 to 5.
    BalanceSheet,
    /// Classes 6 and 7.
    ProfitAndLoss,
    /// Class 8, class 0 or a number that does not start with a digit.
    Other,
}

impl Nature {
    /// The name used in tables: `balance_sheet`, `profit_and_loss`, `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            Nature::BalanceSheet => "balance_sheet",
            Nature::ProfitAndLoss => "profit_and_loss",
            Nature::Other => "other",
        }
    }
}

/// The side on which an account's balance normally sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NormalSide {
    /// Assets, expenses, receivables: the balance is normally a debit.
    Debit,
    /// Equity, liabilities, revenue, payables: the balance is normally a credit.
    Credit,
}

impl NormalSide {
    /// `debit` or `credit`.
    pub fn as_str(self) -> &'static str {
        match self {
            NormalSide::Debit => "debit",
            NormalSide::Credit => "credit",
        }
    }
}

/// The PCG class of an account number (its first digit), if it starts with a digit 1 to 9.
///
/// ```
/// assert_eq!(penny_transform::pcg::class("411DUPONT"), Some(4));
/// assert_eq!(penny_transform::pcg::class("X1"), None);
/// ```
pub fn class(number: &str) -> Option<u8> {
    let first = *number.as_bytes().first()?;
    match first {
        b'1'..=b'9' => Some(first - b'0'),
        _ => None,
    }
}

/// The French name of a PCG class.
pub fn class_name(class: u8) -> &'static str {
    match class {
        1 => "Comptes de capitaux",
        2 => "Comptes d'immobilisations",
        3 => "Comptes de stocks et en-cours",
        4 => "Comptes de tiers",
        5 => "Comptes financiers",
        6 => "Comptes de charges",
        7 => "Comptes de produits",
        8 => "Comptes spéciaux",
        _ => "Hors plan",
    }
}

/// Balance sheet for classes 1 to 5, profit and loss for 6 and 7.
pub fn nature(number: &str) -> Nature {
    match class(number) {
        Some(1..=5) => Nature::BalanceSheet,
        Some(6 | 7) => Nature::ProfitAndLoss,
        _ => Nature::Other,
    }
}

/// The side on which the account's balance normally sits.
///
/// Credit-normal: class 1 (equity, provisions, borrowings), 40 (suppliers), 42-44
/// (staff, social bodies, State), 4457 (VAT collected), 7 (revenue), and the
/// depreciation accounts 28, 29, 39, 49, 59. Everything else is debit-normal (assets,
/// 41 customers, 4456 deductible VAT, 5 cash, 6 expenses).
pub fn normal_side(number: &str) -> NormalSide {
    let digits = leading_digits(number);
    let starts = |p: &str| digits.starts_with(p);
    if starts("4456") || starts("4458") {
        return NormalSide::Debit;
    }
    if starts("1")
        || starts("40")
        || starts("42")
        || starts("43")
        || starts("44")
        || starts("7")
        || starts("28")
        || starts("29")
        || starts("39")
        || starts("49")
        || starts("59")
    {
        NormalSide::Credit
    } else {
        NormalSide::Debit
    }
}

/// The first `n` characters of the number (the two- or three-digit group), or the whole
/// number when it is shorter.
pub fn group(number: &str, n: usize) -> &str {
    match number.char_indices().nth(n) {
        Some((i, _)) => &number[..i],
        None => number,
    }
}

/// The leading run of ASCII digits of an account number.
pub fn leading_digits(number: &str) -> &str {
    let end = number
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(number.len());
    &number[..end]
}

/// Whether the number is an auxiliary (third-party) account: it carries letters after
/// its digits (`411DUPONT`), or it is a numeric customer/supplier sub-account longer than
/// its three-digit root (`411008`, `401002`).
pub fn is_auxiliary(number: &str) -> bool {
    let digits = leading_digits(number);
    digits.len() < number.len()
        || ((digits.starts_with("40") || digits.starts_with("41")) && digits.len() > 3)
}

/// The root account an auxiliary account aggregates into: the first three digits of a
/// customer/supplier account (`411DUPONT` and `411008` give `411`), the leading digits of
/// any other account with letters (`467ASSOC` gives `467`); other numbers are unchanged.
///
/// ```
/// use penny_transform::pcg::auxiliary_root;
/// assert_eq!(auxiliary_root("411DUPONT"), "411");
/// assert_eq!(auxiliary_root("401002"), "401");
/// assert_eq!(auxiliary_root("512001"), "512001");
/// ```
pub fn auxiliary_root(number: &str) -> &str {
    let digits = leading_digits(number);
    if digits.starts_with("40") || digits.starts_with("41") {
        return group(digits, 3);
    }
    if digits.is_empty() { number } else { digits }
}

/// The account of the year's profit (résultat de l'exercice, bénéfice) when the chart
/// has none starting with `120`.
pub const DEFAULT_PROFIT_ACCOUNT: &str = "120000";

/// The account of the year's loss (résultat de l'exercice, perte) when the chart has
/// none starting with `129`.
pub const DEFAULT_LOSS_ACCOUNT: &str = "129000";

/// Where a fiscal year's result goes when its closing is carried into the next year:
/// a profit on the profit account (120), a loss on the loss account (129).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResultAccounts {
    /// The account a profit is credited to (`120...`).
    pub profit: String,
    /// The account a loss is debited to (`129...`).
    pub loss: String,
}

impl Default for ResultAccounts {
    fn default() -> Self {
        ResultAccounts {
            profit: DEFAULT_PROFIT_ACCOUNT.to_owned(),
            loss: DEFAULT_LOSS_ACCOUNT.to_owned(),
        }
    }
}

impl ResultAccounts {
    /// The result accounts of a company's chart (its account numbers): the smallest
    /// number starting with `120` for a profit and with `129` for a loss, else
    /// [`DEFAULT_PROFIT_ACCOUNT`] and [`DEFAULT_LOSS_ACCOUNT`].
    ///
    /// ```
    /// use penny_transform::pcg::ResultAccounts;
    /// let r = ResultAccounts::from_chart(["120100", "1290", "411DUPONT", "120000000"]);
    /// assert_eq!((r.profit.as_str(), r.loss.as_str()), ("120000000", "1290"));
    /// assert_eq!(ResultAccounts::from_chart(["512000"]), ResultAccounts::default());
    /// ```
    pub fn from_chart<'a>(numbers: impl IntoIterator<Item = &'a str>) -> Self {
        let (mut profit, mut loss): (Option<&str>, Option<&str>) = (None, None);
        for n in numbers {
            let slot = if n.starts_with("120") {
                &mut profit
            } else if n.starts_with("129") {
                &mut loss
            } else {
                continue;
            };
            if slot.is_none_or(|s| n < s) {
                *slot = Some(n);
            }
        }
        ResultAccounts {
            profit: profit.unwrap_or(DEFAULT_PROFIT_ACCOUNT).to_owned(),
            loss: loss.unwrap_or(DEFAULT_LOSS_ACCOUNT).to_owned(),
        }
    }

    /// The account a result goes to: the profit account when `balance` (debit minus
    /// credit of classes 6 and 7) is a credit (a profit), the loss account otherwise.
    pub fn for_balance(&self, balance: rust_decimal::Decimal) -> &str {
        if balance.is_sign_negative() && !balance.is_zero() {
            &self.profit
        } else {
            &self.loss
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_nature_and_sides() {
        assert_eq!(class("607000"), Some(6));
        assert_eq!(class_name(7), "Comptes de produits");
        assert_eq!(nature("512000"), Nature::BalanceSheet);
        assert_eq!(nature("706000"), Nature::ProfitAndLoss);
        assert_eq!(nature("ABC"), Nature::Other);
        assert_eq!(normal_side("401ACME"), NormalSide::Credit);
        assert_eq!(normal_side("411DUPONT"), NormalSide::Debit);
        assert_eq!(normal_side("445660"), NormalSide::Debit);
        assert_eq!(normal_side("445710"), NormalSide::Credit);
        assert_eq!(normal_side("281830"), NormalSide::Credit);
        assert_eq!(normal_side("606100"), NormalSide::Debit);
        assert_eq!(normal_side("101000"), NormalSide::Credit);
    }

    #[test]
    fn groups_and_roots() {
        assert_eq!(group("411DUPONT", 2), "41");
        assert_eq!(group("6", 3), "6");
        assert!(is_auxiliary("411DUPONT"));
        assert!(is_auxiliary("401002"));
        assert!(!is_auxiliary("512000"));
        assert!(!is_auxiliary("411"));
        assert_eq!(auxiliary_root("467ASSOC"), "467");
        assert_eq!(auxiliary_root("411"), "411");
    }
}
