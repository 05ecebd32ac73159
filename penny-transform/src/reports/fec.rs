//! The FEC (Fichier des Écritures Comptables, article A47 A-1 of the Livre des procédures
//! fiscales): the 18 legal columns in order, tab- or pipe-separated, dates `YYYYMMDD`,
//! amounts with a comma decimal separator, one file per company named
//! `<SIREN>FEC<closing date YYYYMMDD>.txt`.
//!
//! [`fec_records`] builds the records of one company from its ledger lines, sorted by
//! date, entry and line (it holds that company's lines: the file lists them all);
//! [`write_fec`] writes them to any [`std::io::Write`] the caller gives; [`parse_fec`]
//! reads a file back (tab or pipe, detected from the header); [`validate`] runs the
//! checks below. Choices where the doors give no data:
//!
//! - `EcritureNum` is the entry id; `PieceRef` the document reference, else the entry id;
//!   `PieceDate` and `ValidDate` the accounting date (neither door exposes a validation
//!   date); `DateLet` is empty (no lettering date); `Montantdevise` and `Idevise` empty
//!   (amounts are in euros).
//! - An auxiliary account ([`pcg::is_auxiliary`], `411DUPONT`) goes to `CompAuxNum`,
//!   with the third party's name (else its label) in `CompAuxLib`; `CompteNum` is then
//!   its root (`411`), labelled from the chart when the root exists there, else
//!   `Clients` / `Fournisseurs` / the auxiliary's label.
//! - Tabs, pipes and line breaks inside text are replaced by spaces when writing.
//!
//! Checks ([`validate`]): required fields present, `CompteNum` starting with three
//! digits, `CompAuxNum` and `CompAuxLib` both set or both empty, amounts non-negative
//! and not both non-zero, each entry (journal + `EcritureNum`) balanced, `ValidDate`
//! in chronological order.

use std::collections::BTreeMap;
use std::io::Write;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::canonical::{Books, LedgerLine};
use crate::pcg;

/// The 18 columns, in their legal order.
pub const FEC_COLUMNS: [&str; 18] = [
    "JournalCode",
    "JournalLib",
    "EcritureNum",
    "EcritureDate",
    "CompteNum",
    "CompteLib",
    "CompAuxNum",
    "CompAuxLib",
    "PieceRef",
    "PieceDate",
    "EcritureLib",
    "Debit",
    "Credit",
    "EcritureLet",
    "DateLet",
    "ValidDate",
    "Montantdevise",
    "Idevise",
];

/// The field separator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Separator {
    /// Tabulation.
    #[default]
    Tab,
    /// Vertical bar `|`.
    Pipe,
}

impl Separator {
    fn char(self) -> char {
        match self {
            Separator::Tab => '\t',
            Separator::Pipe => '|',
        }
    }
}

/// One FEC line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FecRecord {
    /// JournalCode.
    pub journal_code: String,
    /// JournalLib.
    pub journal_lib: String,
    /// EcritureNum.
    pub ecriture_num: String,
    /// EcritureDate.
    pub ecriture_date: NaiveDate,
    /// CompteNum.
    pub compte_num: String,
    /// CompteLib.
    pub compte_lib: String,
    /// CompAuxNum.
    pub comp_aux_num: Option<String>,
    /// CompAuxLib.
    pub comp_aux_lib: Option<String>,
    /// PieceRef.
    pub piece_ref: String,
    /// PieceDate.
    pub piece_date: NaiveDate,
    /// EcritureLib.
    pub ecriture_lib: String,
    /// Debit.
    pub debit: Decimal,
    /// Credit.
    pub credit: Decimal,
    /// EcritureLet.
    pub ecriture_let: Option<String>,
    /// DateLet.
    pub date_let: Option<NaiveDate>,
    /// ValidDate.
    pub valid_date: NaiveDate,
    /// Montantdevise.
    pub montant_devise: Option<Decimal>,
    /// Idevise.
    pub idevise: Option<String>,
}

/// Why a FEC could not be written, read or named.
#[derive(Debug, thiserror::Error)]
pub enum FecError {
    /// The writer failed.
    #[error("writing the FEC: {0}")]
    Io(#[from] std::io::Error),
    /// The first line is not the 18 legal column names.
    #[error(
        "FEC header: expected the 18 legal column names separated by tabs or pipes, found `{found}`"
    )]
    BadHeader {
        /// The first line.
        found: String,
    },
    /// A line has the wrong number of fields.
    #[error("FEC line {line}: expected 18 fields, found {found}")]
    FieldCount {
        /// 1-based line number in the file (the header is line 1).
        line: usize,
        /// Fields found.
        found: usize,
    },
    /// A field could not be read.
    #[error("FEC line {line}, column {column}: `{value}` is not {expected}")]
    Field {
        /// 1-based line number in the file.
        line: usize,
        /// The column's legal name.
        column: &'static str,
        /// The field.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// The SIREN is not nine digits.
    #[error("FEC file name: SIREN `{0}` is not nine digits")]
    BadSiren(String),
}

/// A problem [`validate`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FecIssue {
    /// A required field is empty.
    MissingField {
        /// 0-based record index.
        record: usize,
        /// The column.
        column: &'static str,
    },
    /// `CompteNum` does not start with three digits.
    BadAccountNumber {
        /// 0-based record index.
        record: usize,
        /// The value.
        value: String,
    },
    /// Only one of `CompAuxNum` and `CompAuxLib` is set.
    IncompleteAuxiliary {
        /// 0-based record index.
        record: usize,
    },
    /// A negative amount, or both debit and credit non-zero.
    BadAmounts {
        /// 0-based record index.
        record: usize,
    },
    /// An entry whose debits and credits differ.
    UnbalancedEntry {
        /// JournalCode.
        journal_code: String,
        /// EcritureNum.
        ecriture_num: String,
        /// Total debit.
        debit: Decimal,
        /// Total credit.
        credit: Decimal,
    },
    /// `ValidDate` goes back in time.
    NotChronological {
        /// 0-based record index.
        record: usize,
    },
}

/// `<SIREN>FEC<YYYYMMDD>.txt` for the fiscal year closing on `closing`.
pub fn fec_file_name(siren: &str, closing: NaiveDate) -> Result<String, FecError> {
    if siren.len() != 9 || !siren.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FecError::BadSiren(siren.to_owned()));
    }
    Ok(format!("{siren}FEC{}.txt", closing.format("%Y%m%d")))
}

fn root_label(books: &Books, company_id: i64, root: &str, own: &str) -> String {
    if let Some(l) = books.account_label(company_id, root) {
        return l.to_owned();
    }
    if root.starts_with("41") {
        "Clients".to_owned()
    } else if root.starts_with("40") {
        "Fournisseurs".to_owned()
    } else {
        own.to_owned()
    }
}

/// The FEC records of one company's lines, sorted by date, entry id and line id.
pub fn fec_records<'a>(
    lines: impl IntoIterator<Item = &'a LedgerLine>,
    books: &Books,
    company_id: i64,
) -> Vec<FecRecord> {
    let mut own: Vec<&LedgerLine> = lines
        .into_iter()
        .filter(|l| l.company_id == company_id)
        .collect();
    own.sort_by_key(|l| (l.date, l.entry_id, l.line_id));
    own.into_iter()
        .map(|l| {
            let account_label = books
                .account_label(company_id, &l.account_number)
                .unwrap_or(&l.account_number)
                .to_owned();
            let journal_lib = books
                .journal_label(company_id, &l.journal_code)
                .filter(|s| !s.is_empty())
                .unwrap_or(&l.journal_code)
                .to_owned();
            let (compte_num, compte_lib, aux_num, aux_lib) = if pcg::is_auxiliary(&l.account_number)
            {
                let root = pcg::auxiliary_root(&l.account_number).to_owned();
                let lib = root_label(books, company_id, &root, &account_label);
                let aux_name = l
                    .third_party
                    .and_then(|t| books.third_party(company_id, t))
                    .map(|t| t.name.clone())
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| account_label.clone());
                (
                    root,
                    lib,
                    Some(l.account_number.to_string()),
                    Some(aux_name),
                )
            } else {
                (
                    l.account_number.to_string(),
                    account_label.clone(),
                    None,
                    None,
                )
            };
            let ecriture_lib = if l.label.is_empty() {
                account_label
            } else {
                l.label.clone()
            };
            FecRecord {
                journal_code: l.journal_code.to_string(),
                journal_lib,
                ecriture_num: l.entry_id.to_string(),
                ecriture_date: l.date,
                compte_num,
                compte_lib,
                comp_aux_num: aux_num,
                comp_aux_lib: aux_lib,
                piece_ref: l
                    .document_ref
                    .clone()
                    .filter(|r| !r.is_empty())
                    .unwrap_or_else(|| l.entry_id.to_string()),
                piece_date: l.date,
                ecriture_lib,
                debit: l.debit,
                credit: l.credit,
                ecriture_let: l.lettering.clone(),
                date_let: None,
                valid_date: l.date,
                montant_devise: None,
                idevise: None,
            }
        })
        .collect()
}

fn clean(text: &str) -> String {
    text.chars()
        .map(|c| {
            if matches!(c, '\t' | '|' | '\n' | '\r') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

fn amount(d: Decimal) -> String {
    let mut d = d.round_dp(2);
    d.rescale(2);
    d.to_string().replace('.', ",")
}

fn date(d: NaiveDate) -> String {
    d.format("%Y%m%d").to_string()
}

/// Writes the header and the records, one per line (`\r\n` endings are not used: `\n`).
pub fn write_fec<'a, W: Write>(
    out: &mut W,
    records: impl IntoIterator<Item = &'a FecRecord>,
    separator: Separator,
) -> Result<(), FecError> {
    let sep = separator.char().to_string();
    writeln!(out, "{}", FEC_COLUMNS.join(&sep))?;
    for r in records {
        let opt = |s: &Option<String>| s.as_deref().map(clean).unwrap_or_default();
        let fields = [
            clean(&r.journal_code),
            clean(&r.journal_lib),
            clean(&r.ecriture_num),
            date(r.ecriture_date),
            clean(&r.compte_num),
            clean(&r.compte_lib),
            opt(&r.comp_aux_num),
            opt(&r.comp_aux_lib),
            clean(&r.piece_ref),
            date(r.piece_date),
            clean(&r.ecriture_lib),
            amount(r.debit),
            amount(r.credit),
            opt(&r.ecriture_let),
            r.date_let.map(date).unwrap_or_default(),
            date(r.valid_date),
            r.montant_devise.map(amount).unwrap_or_default(),
            opt(&r.idevise),
        ];
        writeln!(out, "{}", fields.join(&sep))?;
    }
    Ok(())
}

/// Parses a FEC file's text (tab or pipe separated, detected from the header).
pub fn parse_fec(text: &str) -> Result<Vec<FecRecord>, FecError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let separator = [Separator::Tab, Separator::Pipe]
        .into_iter()
        .find(|s| {
            header
                .trim_end_matches('\r')
                .split(s.char())
                .map(str::trim)
                .eq(FEC_COLUMNS.iter().copied())
        })
        .ok_or_else(|| FecError::BadHeader {
            found: header.to_owned(),
        })?;
    let mut out = Vec::new();
    for (i, line) in lines.enumerate() {
        let line_no = i + 2;
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(separator.char()).collect();
        if f.len() != 18 {
            return Err(FecError::FieldCount {
                line: line_no,
                found: f.len(),
            });
        }
        let field_err = |col: usize, expected: &'static str| FecError::Field {
            line: line_no,
            column: FEC_COLUMNS[col],
            value: f[col].to_owned(),
            expected,
        };
        let parse_date = |col: usize| {
            let v = f[col];
            if v.len() != 8 || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(field_err(col, "a date YYYYMMDD"));
            }
            NaiveDate::parse_from_str(v, "%Y%m%d").map_err(|_| field_err(col, "a date YYYYMMDD"))
        };
        let opt_date = |col: usize| {
            if f[col].is_empty() {
                Ok(None)
            } else {
                parse_date(col).map(Some)
            }
        };
        let parse_amount = |col: usize| {
            Decimal::from_str(&f[col].replace(',', "."))
                .map_err(|_| field_err(col, "an amount with a comma decimal separator"))
        };
        let opt_text = |col: usize| (!f[col].is_empty()).then(|| f[col].to_owned());
        out.push(FecRecord {
            journal_code: f[0].to_owned(),
            journal_lib: f[1].to_owned(),
            ecriture_num: f[2].to_owned(),
            ecriture_date: parse_date(3)?,
            compte_num: f[4].to_owned(),
            compte_lib: f[5].to_owned(),
            comp_aux_num: opt_text(6),
            comp_aux_lib: opt_text(7),
            piece_ref: f[8].to_owned(),
            piece_date: parse_date(9)?,
            ecriture_lib: f[10].to_owned(),
            debit: parse_amount(11)?,
            credit: parse_amount(12)?,
            ecriture_let: opt_text(13),
            date_let: opt_date(14)?,
            valid_date: parse_date(15)?,
            montant_devise: if f[16].is_empty() {
                None
            } else {
                Some(parse_amount(16)?)
            },
            idevise: opt_text(17),
        });
    }
    Ok(out)
}

/// Runs the FEC checks (see the module docs); an empty result means valid.
pub fn validate(records: &[FecRecord]) -> Vec<FecIssue> {
    let mut issues = Vec::new();
    let mut entries: BTreeMap<(&str, &str), (Decimal, Decimal)> = BTreeMap::new();
    let mut last_valid: Option<NaiveDate> = None;
    for (i, r) in records.iter().enumerate() {
        for (column, value) in [
            ("JournalCode", &r.journal_code),
            ("JournalLib", &r.journal_lib),
            ("EcritureNum", &r.ecriture_num),
            ("CompteNum", &r.compte_num),
            ("CompteLib", &r.compte_lib),
            ("PieceRef", &r.piece_ref),
            ("EcritureLib", &r.ecriture_lib),
        ] {
            if value.trim().is_empty() {
                issues.push(FecIssue::MissingField { record: i, column });
            }
        }
        if r.compte_num.len() < 3 || !r.compte_num.bytes().take(3).all(|b| b.is_ascii_digit()) {
            issues.push(FecIssue::BadAccountNumber {
                record: i,
                value: r.compte_num.clone(),
            });
        }
        if r.comp_aux_num.is_some() != r.comp_aux_lib.is_some() {
            issues.push(FecIssue::IncompleteAuxiliary { record: i });
        }
        if r.debit.is_sign_negative() && !r.debit.is_zero()
            || r.credit.is_sign_negative() && !r.credit.is_zero()
            || (!r.debit.is_zero() && !r.credit.is_zero())
        {
            issues.push(FecIssue::BadAmounts { record: i });
        }
        if last_valid.is_some_and(|d| r.valid_date < d) {
            issues.push(FecIssue::NotChronological { record: i });
        }
        last_valid = Some(r.valid_date);
        let e = entries
            .entry((&r.journal_code, &r.ecriture_num))
            .or_default();
        e.0 += r.debit;
        e.1 += r.credit;
    }
    for ((journal, num), (debit, credit)) in entries {
        if debit != credit {
            issues.push(FecIssue::UnbalancedEntry {
                journal_code: journal.to_owned(),
                ecriture_num: num.to_owned(),
                debit,
                credit,
            });
        }
    }
    issues
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_name_and_amounts() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 31).expect("date");
        assert_eq!(
            fec_file_name("123456789", d).expect("valid"),
            "123456789FEC20261231.txt"
        );
        assert!(matches!(
            fec_file_name("12345", d),
            Err(FecError::BadSiren(_))
        ));
        assert_eq!(amount(Decimal::new(123456, 2)), "1234,56");
        assert_eq!(amount(Decimal::from(5)), "5,00");
    }

    #[test]
    fn bad_header_and_fields_are_named() {
        assert!(matches!(
            parse_fec("a\tb\n"),
            Err(FecError::BadHeader { .. })
        ));
        let mut text = FEC_COLUMNS.join("|");
        text.push_str("\nVT|Ventes|1|2026013|411|Clients||||20260131|x|1,00|0,00|||20260131||\n");
        let err = parse_fec(&text).expect_err("bad date");
        assert_eq!(
            err.to_string(),
            "FEC line 2, column EcritureDate: `2026013` is not a date YYYYMMDD"
        );
    }
}
