//! The FEC (Fichier des Écritures Comptables, article A47 A-1 of the Livre des procédures
//! fiscales): the 18 legal columns in order, tab- or pipe-separated, dates `YYYYMMDD`,
//! amounts with a comma decimal separator, one file per company and fiscal year named
//! `<SIREN>FEC<closing date YYYYMMDD>.txt`.
//!
//! [`fec_records`] builds the records of one company from its ledger lines, sorted by
//! date, entry and line (it holds that company's lines: the file lists them all);
//! [`fec_records_of_year`] those of one fiscal year; [`write_fec`] writes them to any
//! [`std::io::Write`] the caller gives; [`parse_fec`] reads a file back (tab or pipe,
//! detected from the header); [`check_fec`] applies the norm's controls to a file (its
//! name and text), [`validate`] those that bear on the records. Choices where the
//! doors give no data:
//!
//! - `EcritureNum` is the entry id; `PieceRef` the document reference, else the entry id;
//!   `PieceDate` and `ValidDate` the accounting date (neither door exposes a validation
//!   date); `Montantdevise` and `Idevise` empty (amounts are in euros).
//! - `DateLet`, the lettering date, which neither door gives either, is the date of the
//!   latest line of the lettered group (same company, account and code) among the lines
//!   given: a lettering cannot be made before the lines it matches exist.
//! - An auxiliary account ([`pcg::is_auxiliary`], `411DUPONT`) goes to `CompAuxNum`,
//!   with the third party's name (else its label) in `CompAuxLib`; `CompteNum` is then
//!   its root (`411`), labelled from the chart when the root exists there, else
//!   `Clients` / `Fournisseurs` / the auxiliary's label.
//! - Tabs, pipes and line breaks inside text are replaced by spaces when writing.
//!
//! The controls ([`check_fec`]), those DGFiP's *Test Compta Demat* applies to a file in
//! the debit/credit layout:
//!
//! | control | issue |
//! |---|---|
//! | file named `<SIREN>FEC<closing date>.txt`, the closing date the fiscal year's last day | [`FecIssue::BadFileName`] |
//! | first line: the 18 column names, in order, tab- or pipe-separated | [`FecIssue::BadHeader`] |
//! | 18 fields on every line, with the header's separator | [`FecIssue::FieldCount`] |
//! | dates `YYYYMMDD`, amounts digits with a comma decimal separator | [`FecIssue::BadField`] |
//! | required fields non-empty (all but `CompAuxNum`, `CompAuxLib`, `EcritureLet`, `DateLet`, `Montantdevise`, `Idevise`) | [`FecIssue::MissingField`] |
//! | `CompteNum` starting with three digits | [`FecIssue::BadAccountNumber`] |
//! | `CompAuxNum` and `CompAuxLib` both set or both empty | [`FecIssue::IncompleteAuxiliary`] |
//! | `DateLet` set exactly when `EcritureLet` is | [`FecIssue::LetteringDate`] |
//! | amounts non-negative, not both debit and credit | [`FecIssue::BadAmounts`] |
//! | each entry (`EcritureNum`) balanced | [`FecIssue::UnbalancedEntry`] |
//! | the file's debits equal its credits (a trial balance of zero) | [`FecIssue::UnbalancedFile`] |
//! | one fiscal year: every `EcritureDate` within it | [`FecIssue::OutsideFiscalYear`] |
//! | records ordered by `ValidDate`, then `EcritureNum` | [`FecIssue::NotInOrder`] |

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

/// A control of the norm a FEC breaks ([`check_fec`], [`validate`]). Records are
/// numbered from 0 in file order (the header excluded); lines from 1 (the header is
/// line 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FecIssue {
    /// The file is not named `<SIREN>FEC<closing date YYYYMMDD>.txt`.
    #[error(
        "file name `{found}`: expected `{expected}` (the SIREN, `FEC`, the fiscal year's closing date)"
    )]
    BadFileName {
        /// The name given.
        found: String,
        /// The name the norm gives it (`<9 digits>FEC<closing date>.txt` when the
        /// SIREN part is not nine digits).
        expected: String,
    },
    /// The first line is not the 18 legal column names, in order, separated by tabs
    /// or pipes.
    #[error(
        "header `{found}`: expected the 18 column names {FEC_COLUMNS:?}, in order, separated by tabs or by pipes"
    )]
    BadHeader {
        /// The first line.
        found: String,
    },
    /// A line has not 18 fields with the header's separator.
    #[error("line {line}: {found} fields with the header's separator, expected 18")]
    FieldCount {
        /// 1-based line number.
        line: usize,
        /// Fields found.
        found: usize,
    },
    /// A date that is not `YYYYMMDD`, or an amount that is not digits with a comma
    /// decimal separator.
    #[error("line {line}, {column}: `{value}` is not {expected}")]
    BadField {
        /// 1-based line number.
        line: usize,
        /// The column.
        column: &'static str,
        /// The field.
        value: String,
        /// What the norm wants there.
        expected: &'static str,
    },
    /// A required field is empty.
    #[error("record {record}: {column} is empty")]
    MissingField {
        /// 0-based record index.
        record: usize,
        /// The column.
        column: &'static str,
    },
    /// `CompteNum` does not start with three digits.
    #[error("record {record}: CompteNum `{value}` does not start with three digits")]
    BadAccountNumber {
        /// 0-based record index.
        record: usize,
        /// The value.
        value: String,
    },
    /// Only one of `CompAuxNum` and `CompAuxLib` is set.
    #[error("record {record}: CompAuxNum and CompAuxLib go together")]
    IncompleteAuxiliary {
        /// 0-based record index.
        record: usize,
    },
    /// `DateLet` without `EcritureLet`, or `EcritureLet` without `DateLet`.
    #[error("record {record}: EcritureLet and DateLet go together")]
    LetteringDate {
        /// 0-based record index.
        record: usize,
    },
    /// A negative amount, or both debit and credit non-zero.
    #[error("record {record}: Debit and Credit must be non-negative, one of them zero")]
    BadAmounts {
        /// 0-based record index.
        record: usize,
    },
    /// An entry whose debits and credits differ.
    #[error(
        "entry {ecriture_num} (journal {journal_code}): debits {debit} and credits {credit} differ"
    )]
    UnbalancedEntry {
        /// JournalCode (of the entry's first record).
        journal_code: String,
        /// EcritureNum.
        ecriture_num: String,
        /// Total debit.
        debit: Decimal,
        /// Total credit.
        credit: Decimal,
    },
    /// The file's debits and credits differ: its trial balance is not zero.
    #[error("the file's debits {debit} and credits {credit} differ: its trial balance is not zero")]
    UnbalancedFile {
        /// Total debit.
        debit: Decimal,
        /// Total credit.
        credit: Decimal,
    },
    /// An `EcritureDate` outside the fiscal year of the file.
    #[error("record {record}: EcritureDate {date} is outside the fiscal year {start} to {end}")]
    OutsideFiscalYear {
        /// 0-based record index.
        record: usize,
        /// The date.
        date: NaiveDate,
        /// The fiscal year's first day.
        start: NaiveDate,
        /// Its last day.
        end: NaiveDate,
    },
    /// A record before the one above it by `ValidDate`, then `EcritureNum`.
    #[error("record {record}: not in order of ValidDate, then EcritureNum, after the record above")]
    NotInOrder {
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

/// The FEC records of one company's lines, sorted by date, entry id and line id;
/// `DateLet` is the latest date of the lettered group among these lines.
pub fn fec_records<'a>(
    lines: impl IntoIterator<Item = &'a LedgerLine>,
    books: &Books,
    company_id: i64,
) -> Vec<FecRecord> {
    let own: Vec<&LedgerLine> = lines
        .into_iter()
        .filter(|l| l.company_id == company_id)
        .collect();
    let lettered = lettering_dates(own.iter().copied());
    records_of(own, books, company_id, &lettered)
}

/// The FEC records of one company's fiscal year `start..=end`: its lines dated within
/// it, sorted as [`fec_records`] sorts them, with `DateLet` the latest date of the
/// lettered group among all the lines given (a payment of the next year letters an
/// invoice of this one on its own date).
pub fn fec_records_of_year<'a>(
    lines: impl IntoIterator<Item = &'a LedgerLine>,
    books: &Books,
    company_id: i64,
    start: NaiveDate,
    end: NaiveDate,
) -> Vec<FecRecord> {
    let own: Vec<&LedgerLine> = lines
        .into_iter()
        .filter(|l| l.company_id == company_id)
        .collect();
    let lettered = lettering_dates(own.iter().copied());
    let in_year = own
        .into_iter()
        .filter(|l| start <= l.date && l.date <= end)
        .collect();
    records_of(in_year, books, company_id, &lettered)
}

/// Per (account, lettering code), the latest date of its lines.
fn lettering_dates<'a>(
    lines: impl IntoIterator<Item = &'a LedgerLine>,
) -> std::collections::HashMap<(&'a str, &'a str), NaiveDate> {
    let mut out = std::collections::HashMap::new();
    for l in lines {
        if let Some(code) = l.lettering.as_deref() {
            let d = out.entry((&*l.account_number, code)).or_insert(l.date);
            *d = (*d).max(l.date);
        }
    }
    out
}

fn records_of(
    mut own: Vec<&LedgerLine>,
    books: &Books,
    company_id: i64,
    lettered: &std::collections::HashMap<(&str, &str), NaiveDate>,
) -> Vec<FecRecord> {
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
                date_let: l
                    .lettering
                    .as_deref()
                    .and_then(|code| lettered.get(&(&*l.account_number, code)).copied()),
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

/// Parses a FEC file's text (tab or pipe separated, detected from the header); the
/// first line that breaks the format is the error.
pub fn parse_fec(text: &str) -> Result<Vec<FecRecord>, FecError> {
    let (separator, lines) = header(text)?;
    let mut out = Vec::new();
    for (line_no, line) in lines {
        let f: Vec<&str> = line.split(separator.char()).collect();
        out.push(parse_record(&f, line_no)?);
    }
    Ok(out)
}

/// The non-empty lines after the header, each with its 1-based number.
type NumberedLines<'a> = Vec<(usize, &'a str)>;

/// The separator the header uses, and the numbered non-empty lines after it.
fn header(text: &str) -> Result<(Separator, NumberedLines<'_>), FecError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let separator = [Separator::Tab, Separator::Pipe]
        .into_iter()
        .find(|s| {
            header
                .trim_end_matches('\r')
                .split(s.char())
                .eq(FEC_COLUMNS.iter().copied())
        })
        .ok_or_else(|| FecError::BadHeader {
            found: header.to_owned(),
        })?;
    let lines = lines
        .enumerate()
        .map(|(i, line)| (i + 2, line.trim_end_matches('\r')))
        .filter(|(_, line)| !line.is_empty())
        .collect();
    Ok((separator, lines))
}

/// One line's fields as a record.
fn parse_record(f: &[&str], line_no: usize) -> Result<FecRecord, FecError> {
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
    // Digits, an optional sign, a comma before the decimals: no point, no thousands.
    let parse_amount = |col: usize| {
        let v = f[col];
        let digits = v.strip_prefix(['-', '+']).unwrap_or(v);
        let (units, cents) = digits.split_once(',').unwrap_or((digits, "0"));
        let well_formed = !units.is_empty()
            && !cents.is_empty()
            && units.bytes().all(|b| b.is_ascii_digit())
            && cents.bytes().all(|b| b.is_ascii_digit());
        well_formed
            .then(|| Decimal::from_str(&v.replace(',', ".")).ok())
            .flatten()
            .ok_or_else(|| field_err(col, "an amount with a comma decimal separator"))
    };
    let opt_text = |col: usize| (!f[col].is_empty()).then(|| f[col].to_owned());
    Ok(FecRecord {
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
    })
}

/// Applies the norm's controls (see the module docs) to a FEC file: its name
/// `file_name` and its `text`, for the fiscal year `start..=end`. Every issue found is
/// listed (empty: the file passes); a line that breaks the format is reported once and
/// left out of the checks on records.
pub fn check_fec(file_name: &str, text: &str, start: NaiveDate, end: NaiveDate) -> Vec<FecIssue> {
    let mut issues = Vec::new();
    let siren = file_name.split("FEC").next().unwrap_or_default();
    let expected = fec_file_name(siren, end)
        .unwrap_or_else(|_| format!("<SIREN>FEC{}.txt", end.format("%Y%m%d")));
    if file_name != expected {
        issues.push(FecIssue::BadFileName {
            found: file_name.to_owned(),
            expected,
        });
    }
    let (separator, lines) = match header(text) {
        Ok(h) => h,
        Err(_) => {
            let text = text.strip_prefix('\u{feff}').unwrap_or(text);
            issues.push(FecIssue::BadHeader {
                found: text.lines().next().unwrap_or_default().to_owned(),
            });
            return issues;
        }
    };
    let mut records = Vec::with_capacity(lines.len());
    for (line_no, line) in lines {
        let f: Vec<&str> = line.split(separator.char()).collect();
        match parse_record(&f, line_no) {
            Ok(r) => records.push(r),
            Err(FecError::FieldCount { line, found }) => {
                issues.push(FecIssue::FieldCount { line, found })
            }
            Err(FecError::Field {
                line,
                column,
                value,
                expected,
            }) => issues.push(FecIssue::BadField {
                line,
                column,
                value,
                expected,
            }),
            Err(other) => unreachable!("a record's parse fails on its fields only: {other}"),
        }
    }
    issues.extend(validate(&records));
    for (record, r) in records.iter().enumerate() {
        if r.ecriture_date < start || r.ecriture_date > end {
            issues.push(FecIssue::OutsideFiscalYear {
                record,
                date: r.ecriture_date,
                start,
                end,
            });
        }
    }
    issues
}

/// The controls that bear on the records alone (all but the file's name, header,
/// fields' format and fiscal year: see [`check_fec`]); an empty result means valid.
pub fn validate(records: &[FecRecord]) -> Vec<FecIssue> {
    let mut issues = Vec::new();
    // Per EcritureNum: the first journal, debits, credits (in order of first record).
    let mut entries: BTreeMap<&str, (usize, &str, Decimal, Decimal)> = BTreeMap::new();
    let (mut debit, mut credit) = (Decimal::ZERO, Decimal::ZERO);
    let mut last: Option<&FecRecord> = None;
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
        if r.ecriture_let.is_some() != r.date_let.is_some() {
            issues.push(FecIssue::LetteringDate { record: i });
        }
        if r.debit.is_sign_negative() && !r.debit.is_zero()
            || r.credit.is_sign_negative() && !r.credit.is_zero()
            || (!r.debit.is_zero() && !r.credit.is_zero())
        {
            issues.push(FecIssue::BadAmounts { record: i });
        }
        if last.is_some_and(|p| order_key(r) < order_key(p)) {
            issues.push(FecIssue::NotInOrder { record: i });
        }
        last = Some(r);
        let e = entries.entry(&r.ecriture_num).or_insert((
            i,
            &r.journal_code,
            Decimal::ZERO,
            Decimal::ZERO,
        ));
        e.2 += r.debit;
        e.3 += r.credit;
        debit += r.debit;
        credit += r.credit;
    }
    let mut unbalanced: Vec<_> = entries
        .into_iter()
        .filter(|(_, (_, _, d, c))| d != c)
        .map(|(num, (first, journal, debit, credit))| {
            (
                first,
                FecIssue::UnbalancedEntry {
                    journal_code: journal.to_owned(),
                    ecriture_num: num.to_owned(),
                    debit,
                    credit,
                },
            )
        })
        .collect();
    unbalanced.sort_by_key(|(first, _)| *first);
    issues.extend(unbalanced.into_iter().map(|(_, issue)| issue));
    if debit != credit {
        issues.push(FecIssue::UnbalancedFile { debit, credit });
    }
    issues
}

/// A record's place in the file: `ValidDate`, then `EcritureNum` (by number when both
/// are numbers, else as text).
fn order_key(r: &FecRecord) -> (NaiveDate, Option<u128>, &str) {
    let number = r.ecriture_num.parse::<u128>().ok();
    (r.valid_date, number, &r.ecriture_num)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::{Account, Journal};

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).expect("date")
    }

    const YEAR: (u32, u32) = (1, 12);
    const NAME: &str = "123456789FEC20261231.txt";

    /// A clean year of company 1: a sale lettered with its payment, and the payment of
    /// the next year's invoice (outside the year).
    fn clean_records() -> Vec<FecRecord> {
        let line = |entry,
                    id,
                    date,
                    journal: &str,
                    account: &str,
                    debit,
                    credit,
                    lettering: Option<&str>| {
            LedgerLine {
                company_id: 1,
                entry_id: entry,
                line_id: id,
                date,
                journal_code: journal.into(),
                account_number: account.into(),
                label: format!("Ecriture {entry}"),
                debit: Decimal::new(debit, 2),
                credit: Decimal::new(credit, 2),
                third_party: None,
                document_ref: Some(format!("P{entry}")),
                due_date: None,
                lettering: lettering.map(str::to_owned),
                categories: None,
            }
        };
        let lines = [
            line(7, 1, day(3, 2), "VT", "411DUPONT", 120_000, 0, Some("A")),
            line(7, 2, day(3, 2), "VT", "706000", 0, 100_000, None),
            line(7, 3, day(3, 2), "VT", "445710", 0, 20_000, None),
            line(12, 4, day(4, 9), "BQ", "512000", 120_000, 0, None),
            line(12, 5, day(4, 9), "BQ", "411DUPONT", 0, 120_000, Some("A")),
            // Next year: lettered with nothing here, left out of the year.
            line(
                20,
                6,
                NaiveDate::from_ymd_opt(2027, 1, 4).expect("date"),
                "BQ",
                "512000",
                1_000,
                0,
                None,
            ),
            line(
                20,
                7,
                NaiveDate::from_ymd_opt(2027, 1, 4).expect("date"),
                "BQ",
                "411DUPONT",
                0,
                1_000,
                Some("B"),
            ),
        ];
        let accounts = [
            ("411", "Clients"),
            ("706000", "Ventes"),
            ("445710", "TVA collectée"),
            ("512000", "Banque"),
            ("411DUPONT", "Dupont"),
        ];
        let books = Books {
            accounts: accounts
                .iter()
                .map(|(n, l)| Account {
                    company_id: 1,
                    number: (*n).into(),
                    label: (*l).into(),
                })
                .collect(),
            journals: vec![
                Journal {
                    company_id: 1,
                    code: "VT".into(),
                    label: "Ventes".into(),
                    opening: false,
                },
                Journal {
                    company_id: 1,
                    code: "BQ".into(),
                    label: "Banque".into(),
                    opening: false,
                },
            ],
            ..Books::default()
        };
        fec_records_of_year(&lines, &books, 1, day(YEAR.0, 1), day(YEAR.1, 31))
    }

    fn text_of(records: &[FecRecord], separator: Separator) -> String {
        let mut out = Vec::new();
        write_fec(&mut out, records, separator).expect("write");
        String::from_utf8(out).expect("utf-8")
    }

    fn check(name: &str, text: &str) -> Vec<FecIssue> {
        check_fec(name, text, day(YEAR.0, 1), day(YEAR.1, 31))
    }

    /// The issues of the clean year with its records changed by `change`.
    fn with_records(change: impl FnOnce(&mut Vec<FecRecord>)) -> Vec<FecIssue> {
        let mut records = clean_records();
        change(&mut records);
        check(NAME, &text_of(&records, Separator::Tab))
    }

    /// The issues of the clean year's text with `from` replaced by `to` (once).
    fn with_text(from: &str, to: &str) -> Vec<FecIssue> {
        let text = text_of(&clean_records(), Separator::Tab);
        assert!(text.contains(from), "`{from}` in {text}");
        check(NAME, &text.replacen(from, to, 1))
    }

    #[test]
    fn pennys_output_for_a_clean_year_passes_every_control() {
        let records = clean_records();
        assert_eq!(records.len(), 5, "the next year's lines are left out");
        // Lettered on the date of the group's last line.
        assert_eq!(records[0].date_let, Some(day(4, 9)));
        assert_eq!(records[4].date_let, Some(day(4, 9)));
        assert_eq!(records[1].date_let, None);
        for separator in [Separator::Tab, Separator::Pipe] {
            assert_eq!(check(NAME, &text_of(&records, separator)), []);
        }
    }

    #[test]
    fn the_file_is_named_by_siren_and_closing_date() {
        let text = text_of(&clean_records(), Separator::Tab);
        for name in [
            "123456789FEC20260630.txt",
            "12345678FEC20261231.txt",
            "123456789FEC20261231.csv",
            "123456789_FEC20261231.txt",
        ] {
            let issues = check(name, &text);
            assert!(
                matches!(&issues[..], [FecIssue::BadFileName { found, .. }] if found == name),
                "{name}: {issues:?}"
            );
        }
    }

    #[test]
    fn the_header_names_the_18_columns_in_order() {
        let renamed = with_text("EcritureLib", "Libelle");
        assert!(
            matches!(&renamed[..], [FecIssue::BadHeader { .. }]),
            "{renamed:?}"
        );
        let swapped = with_text("Debit\tCredit", "Credit\tDebit");
        assert!(
            matches!(&swapped[..], [FecIssue::BadHeader { .. }]),
            "{swapped:?}"
        );
        let semicolons = check(
            NAME,
            &text_of(&clean_records(), Separator::Tab).replace('\t', ";"),
        );
        assert!(
            matches!(&semicolons[..], [FecIssue::BadHeader { .. }]),
            "{semicolons:?}"
        );
    }

    #[test]
    fn every_line_has_18_fields_with_the_headers_separator() {
        let text = text_of(&clean_records(), Separator::Tab);
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines[2] = lines[2].replace('\t', "|");
        lines[3].push_str("\textra");
        let issues = check(NAME, &lines.join("\n"));
        assert!(
            issues.contains(&FecIssue::FieldCount { line: 3, found: 1 }),
            "{issues:?}"
        );
        assert!(
            issues.contains(&FecIssue::FieldCount { line: 4, found: 19 }),
            "{issues:?}"
        );
    }

    #[test]
    fn dates_are_yyyymmdd() {
        let issues = with_text("\t20260302\t", "\t2026-03-02\t");
        assert!(
            matches!(
                &issues[0],
                FecIssue::BadField {
                    line: 2,
                    column: "EcritureDate",
                    ..
                }
            ),
            "{issues:?}"
        );
        let issues = with_text("\t20260302\t", "\t20260231\t");
        assert!(
            matches!(
                &issues[0],
                FecIssue::BadField {
                    column: "EcritureDate",
                    ..
                }
            ),
            "{issues:?}"
        );
    }

    #[test]
    fn amounts_have_a_comma_decimal_separator() {
        for bad in ["1200.00", "1 200,00", "1200,"] {
            let issues = with_text("\t1200,00\t", &format!("\t{bad}\t"));
            assert!(
                matches!(
                    &issues[0],
                    FecIssue::BadField {
                        line: 2,
                        column: "Debit",
                        ..
                    }
                ),
                "{bad}: {issues:?}"
            );
        }
    }

    #[test]
    fn required_fields_are_not_empty() {
        let issues = with_records(|r| r[1].ecriture_lib = String::new());
        assert_eq!(
            issues,
            [FecIssue::MissingField {
                record: 1,
                column: "EcritureLib"
            }]
        );
        let issues = with_records(|r| r[2].piece_ref = " ".into());
        assert_eq!(
            issues,
            [FecIssue::MissingField {
                record: 2,
                column: "PieceRef"
            }]
        );
    }

    #[test]
    fn lettering_date_goes_with_the_lettering() {
        let issues = with_records(|r| r[0].date_let = None);
        assert_eq!(issues, [FecIssue::LetteringDate { record: 0 }]);
        let issues = with_records(|r| r[1].date_let = Some(day(4, 9)));
        assert_eq!(issues, [FecIssue::LetteringDate { record: 1 }]);
    }

    #[test]
    fn each_entry_and_the_file_are_balanced() {
        let issues = with_records(|r| r[2].credit = Decimal::new(19_999, 2));
        assert_eq!(
            issues,
            [
                FecIssue::UnbalancedEntry {
                    journal_code: "VT".into(),
                    ecriture_num: "7".into(),
                    debit: Decimal::new(120_000, 2),
                    credit: Decimal::new(119_999, 2),
                },
                FecIssue::UnbalancedFile {
                    debit: Decimal::new(240_000, 2),
                    credit: Decimal::new(239_999, 2),
                },
            ]
        );
        // Two entries off by opposite amounts: the file balances, the entries do not.
        let issues = with_records(|r| {
            r[2].credit = Decimal::new(19_000, 2);
            r[3].debit = Decimal::new(119_000, 2);
        });
        assert_eq!(issues.len(), 2, "{issues:?}");
        assert!(
            issues
                .iter()
                .all(|i| matches!(i, FecIssue::UnbalancedEntry { .. }))
        );
    }

    #[test]
    fn one_fiscal_year_per_file() {
        let next = NaiveDate::from_ymd_opt(2027, 1, 4).expect("date");
        let issues = with_records(|r| {
            for x in r.iter_mut().skip(3) {
                (x.ecriture_date, x.piece_date, x.valid_date) = (next, next, next);
            }
        });
        assert_eq!(
            issues
                .iter()
                .filter(|i| matches!(i, FecIssue::OutsideFiscalYear { date, .. } if *date == next))
                .count(),
            2,
            "{issues:?}"
        );
        assert_eq!(issues.len(), 2, "{issues:?}");
    }

    #[test]
    fn records_are_ordered_by_validation_date_then_entry_number() {
        // The bank entry of April first: the sale of March after it goes back in time.
        let issues = with_records(|r| r.swap(0, 3));
        assert_eq!(issues, [FecIssue::NotInOrder { record: 1 }]);
        // Same day: by entry number, as numbers (9 before 10).
        let issues = with_records(|r| {
            for x in r.iter_mut() {
                x.valid_date = day(4, 9);
            }
            for x in r.iter_mut().take(3) {
                x.ecriture_num = "10".into();
            }
            for x in r.iter_mut().skip(3) {
                x.ecriture_num = "9".into();
            }
        });
        assert_eq!(issues, [FecIssue::NotInOrder { record: 3 }]);
    }

    #[test]
    fn accounts_auxiliaries_and_amounts_are_well_formed() {
        let issues = with_records(|r| r[1].compte_num = "X06000".into());
        assert_eq!(
            issues,
            [FecIssue::BadAccountNumber {
                record: 1,
                value: "X06000".into()
            }]
        );
        let issues = with_records(|r| r[0].comp_aux_lib = None);
        assert_eq!(issues, [FecIssue::IncompleteAuxiliary { record: 0 }]);
        let issues = with_records(|r| {
            r[1].credit = Decimal::new(-100_000, 2);
            r[1].debit = Decimal::ZERO;
            r[0].debit = Decimal::ZERO;
            r[0].credit = Decimal::new(-120_000, 2);
            r[2].debit = Decimal::new(1, 2);
        });
        assert!(
            issues.contains(&FecIssue::BadAmounts { record: 1 }),
            "{issues:?}"
        );
        assert!(
            issues.contains(&FecIssue::BadAmounts { record: 2 }),
            "{issues:?}"
        );
    }

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
