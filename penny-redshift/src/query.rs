//! Free-form, read-only queries: `penny redshift query "SELECT ..."`.
//!
//! A query written by a person is run the way [`TableCursor`](crate::TableCursor)
//! reads a table, but untyped:
//!
//! 1. the text is checked to be **one** statement that reads: it must start with
//!    `SELECT`, `WITH`, `VALUES`, `TABLE` or `(`, and a `;` outside string literals,
//!    quoted identifiers, comments and dollar-quoted bodies may only end it
//!    ([`check_single_select`]);
//! 2. it runs in a `READ ONLY` transaction ([`begin_read_only`](crate::begin_read_only())),
//!    as `DECLARE penny_query CURSOR FOR <query>`, so the server itself refuses
//!    any write a function or a data-modifying `WITH` would attempt;
//! 3. rows are fetched with the **simple (text) protocol** in bounded chunks
//!    (`FETCH FORWARD n`), so memory stays flat whatever the result's size, and no
//!    type lookup in `pg_type` is needed (Data Sharing users may not read it).
//!
//! Columns are reported by name (from the server's row description, so a query
//! returning no row still has its columns); values are the server's text, with
//! SQL `NULL` kept apart as `None`.
//!
//! ```no_run
//! # async fn run() -> Result<(), penny_redshift::QueryError> {
//! use penny_redshift::{DataSharingConfig, QueryCursor, QueryOptions, connect};
//!
//! let connection = connect(&DataSharingConfig::from_env()?).await?;
//! let mut cursor = QueryCursor::open(
//!     connection,
//!     "SELECT journal_code, sum(debit) FROM pennylane.general_ledger GROUP BY 1",
//!     QueryOptions::default(),
//! )
//! .await?;
//! println!("{}", cursor.columns().join(" | "));
//! while let Some(rows) = cursor.next_chunk().await? {
//!     for row in rows {
//!         let cells: Vec<&str> = row.iter().map(|v| v.as_deref().unwrap_or("NULL")).collect();
//!         println!("{}", cells.join(" | "));
//!     }
//! }
//! cursor.close().await?;
//! # Ok(()) }
//! ```

use tokio_postgres::SimpleQueryMessage;

use crate::connect::Connection;
use crate::cursor::{DEFAULT_FETCH_ROWS, begin_read_only};
use crate::error::Error;

/// The name of the cursor of a free-form query.
const CURSOR_NAME: &str = "penny_query";

/// One row of a query result: each value as the server's text, `None` for `NULL`.
pub type TextRow = Vec<Option<String>>;

/// A query that was not run, or failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The text is empty (or only comments).
    #[error("the query is empty")]
    Empty,
    /// The text holds more than one statement.
    #[error(
        "the query holds more than one statement (a `;` at byte {at} is followed by `{next}`); \
         run one SELECT at a time"
    )]
    SeveralStatements {
        /// The byte offset of the `;` that ends the first statement.
        at: usize,
        /// The start of what follows it (at most 40 characters).
        next: String,
    },
    /// The statement is not a read.
    #[error(
        "only a read may be run: the query starts with `{start}`; expected SELECT, WITH, VALUES, TABLE or `(`"
    )]
    NotASelect {
        /// The first word of the statement.
        start: String,
    },
    /// A string literal, quoted identifier, comment or dollar-quoted body is not closed.
    #[error("the query ends inside {what} opened at byte {at}")]
    Unterminated {
        /// What is open (`a string literal`, `a quoted identifier`...).
        what: &'static str,
        /// Its byte offset.
        at: usize,
    },
    /// The options are invalid.
    #[error("query options: {what}")]
    Options {
        /// What is wrong.
        what: String,
    },
    /// The warehouse refused the query or the connection failed.
    #[error(transparent)]
    Server(#[from] Error),
}

/// How a query's result is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryOptions {
    /// Rows asked for by one `FETCH FORWARD` (at most 1000 on single-node Redshift).
    pub fetch_rows: usize,
    /// Rows per chunk handed to the caller; bounds memory.
    pub chunk_rows: usize,
    /// Stop after this many rows (`None`: the whole result). The query itself is
    /// not rewritten: the cursor is simply not read further.
    pub limit: Option<u64>,
}

impl Default for QueryOptions {
    fn default() -> Self {
        QueryOptions {
            fetch_rows: DEFAULT_FETCH_ROWS,
            chunk_rows: DEFAULT_FETCH_ROWS,
            limit: None,
        }
    }
}

/// A free-form read-only query being read through a server-side cursor.
#[derive(Debug)]
pub struct QueryCursor {
    connection: Connection,
    columns: Vec<String>,
    /// Rows of the first fetch (read by [`open`](Self::open) to learn the columns).
    pending: Vec<TextRow>,
    options: QueryOptions,
    /// Rows handed to the caller.
    rows_read: u64,
    /// Rows fetched from the server (handed out or pending).
    fetched: u64,
    exhausted: bool,
}

impl QueryCursor {
    /// Checks `sql` ([`check_single_select`]), starts a read-only transaction on
    /// `connection`, declares a cursor over the query and reads its first fetch
    /// (to learn the column names, even of an empty result).
    pub async fn open(
        connection: Connection,
        sql: &str,
        options: QueryOptions,
    ) -> Result<QueryCursor, QueryError> {
        if options.fetch_rows == 0 || options.chunk_rows == 0 {
            return Err(QueryError::Options {
                what: format!(
                    "fetch_rows ({}) and chunk_rows ({}) must be positive",
                    options.fetch_rows, options.chunk_rows
                ),
            });
        }
        let statement = check_single_select(sql)?;
        begin_read_only(&connection).await?;
        connection
            .simple_query(
                &format!("DECLARE {CURSOR_NAME} CURSOR FOR {statement}"),
                "declaring a cursor over the query",
            )
            .await?;
        let mut cursor = QueryCursor {
            connection,
            columns: Vec::new(),
            pending: Vec::new(),
            options,
            rows_read: 0,
            fetched: 0,
            exhausted: false,
        };
        let first = cursor.fetch(cursor.want(cursor.options.fetch_rows)).await?;
        cursor.pending = first;
        Ok(cursor)
    }

    /// The result's column names, in order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Rows handed out so far.
    pub fn rows_read(&self) -> u64 {
        self.rows_read
    }

    /// The next chunk of at most `chunk_rows` rows, or `None` at the end (or at the limit).
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<TextRow>>, QueryError> {
        let mut chunk: Vec<TextRow> = Vec::new();
        if !self.pending.is_empty() {
            let take = self.pending.len().min(self.options.chunk_rows);
            chunk.extend(self.pending.drain(..take));
        }
        while chunk.len() < self.options.chunk_rows && !self.exhausted {
            let want = self.want(self.options.chunk_rows - chunk.len());
            if want == 0 {
                self.exhausted = true;
                break;
            }
            let rows = self.fetch(want).await?;
            chunk.extend(rows);
        }
        if chunk.is_empty() {
            return Ok(None);
        }
        self.rows_read += chunk.len() as u64;
        Ok(Some(chunk))
    }

    /// Closes the cursor and ends the transaction, giving the connection back.
    pub async fn close(self) -> Result<Connection, QueryError> {
        self.connection
            .simple_query(
                &format!("CLOSE {CURSOR_NAME}; COMMIT"),
                "closing the query's cursor",
            )
            .await?;
        Ok(self.connection)
    }

    /// Rows to ask for next: at most `room` and `fetch_rows`, and no more than the
    /// limit leaves.
    fn want(&self, room: usize) -> usize {
        let mut want = room.min(self.options.fetch_rows);
        if let Some(limit) = self.options.limit {
            let left = limit.saturating_sub(self.fetched);
            want = want.min(usize::try_from(left).unwrap_or(usize::MAX));
        }
        want
    }

    /// One `FETCH FORWARD want`; records the columns and marks the end.
    async fn fetch(&mut self, want: usize) -> Result<Vec<TextRow>, QueryError> {
        if want == 0 {
            // The limit is reached (or zero): learn the columns without reading a row.
            self.exhausted = true;
            if self.columns.is_empty() {
                self.fetch_rows_of(0).await?;
            }
            return Ok(Vec::new());
        }
        let rows = self.fetch_rows_of(want).await?;
        if rows.len() < want {
            self.exhausted = true;
        }
        Ok(rows)
    }

    /// `FETCH FORWARD want`. With `want` 0 it is only called before any row was
    /// read, where it returns no row (`FORWARD 0` re-reads the *current* row, and
    /// there is none yet) but still describes the columns.
    async fn fetch_rows_of(&mut self, want: usize) -> Result<Vec<TextRow>, QueryError> {
        let messages = self
            .connection
            .simple_query(
                &format!("FETCH FORWARD {want} FROM {CURSOR_NAME}"),
                "fetching the query's rows",
            )
            .await?;
        let mut rows = Vec::with_capacity(want);
        for message in messages {
            match message {
                SimpleQueryMessage::RowDescription(columns) if self.columns.is_empty() => {
                    self.columns = columns.iter().map(|c| c.name().to_owned()).collect();
                }
                SimpleQueryMessage::Row(row) => {
                    if self.columns.is_empty() {
                        self.columns = row.columns().iter().map(|c| c.name().to_owned()).collect();
                    }
                    rows.push(
                        (0..row.len())
                            .map(|i| row.get(i).map(str::to_owned))
                            .collect(),
                    );
                }
                _ => {}
            }
        }
        self.fetched += rows.len() as u64;
        Ok(rows)
    }
}

/// Checks that `sql` is one statement that reads, and returns it without the
/// spaces, comments and `;` around it.
///
/// The scan knows PostgreSQL's and Redshift's lexical forms: `'...'` literals
/// (with `''` inside, and backslash escapes in `E'...'`), `"..."` identifiers,
/// `--` and nested `/* */` comments, and `$tag$ ... $tag$` bodies. This is a guard
/// against running a script by mistake; what may be *done* is bounded by the
/// read-only transaction the query runs in.
///
/// ```
/// use penny_redshift::check_single_select;
/// assert_eq!(check_single_select("select ';' ; -- done").unwrap(), "select ';'");
/// assert!(check_single_select("SELECT 1; DROP TABLE t").is_err());
/// assert!(check_single_select("DELETE FROM t").is_err());
/// ```
pub fn check_single_select(sql: &str) -> Result<&str, QueryError> {
    let bytes = sql.as_bytes();
    let mut i = 0;
    // Byte offset just after the last significant character of the first statement.
    let mut end = 0;
    let mut first_word: Option<(usize, usize)> = None;
    let mut terminator: Option<usize> = None;
    while i < bytes.len() {
        let c = bytes[i];
        // Skips comments and whitespace everywhere.
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'-' && bytes.get(i + 1) == Some(&b'-') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && bytes.get(i + 1) == Some(&b'*') {
            let start = i;
            let mut depth = 0usize;
            loop {
                if i >= bytes.len() {
                    return Err(QueryError::Unterminated {
                        what: "a /* comment */",
                        at: start,
                    });
                }
                if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            continue;
        }
        if c == b';' {
            terminator.get_or_insert(i);
            i += 1;
            continue;
        }
        if let Some(at) = terminator {
            let next: String = sql[i..].chars().take(40).collect();
            return Err(QueryError::SeveralStatements { at, next });
        }
        // A significant token of the first statement.
        let start = i;
        match c {
            b'\'' => {
                let escapes = start > 0
                    && matches!(bytes[start - 1], b'e' | b'E')
                    && (start < 2 || !is_ident_byte(bytes[start - 2]));
                i = skip_quoted(bytes, i, b'\'', escapes).ok_or(QueryError::Unterminated {
                    what: "a string literal",
                    at: start,
                })?;
            }
            b'"' => {
                i = skip_quoted(bytes, i, b'"', false).ok_or(QueryError::Unterminated {
                    what: "a quoted identifier",
                    at: start,
                })?;
            }
            b'$' => match dollar_tag(bytes, i) {
                Some(tag_end) => {
                    let tag = &sql[i..tag_end];
                    match sql[tag_end..].find(tag) {
                        Some(close) => i = tag_end + close + tag.len(),
                        None => {
                            return Err(QueryError::Unterminated {
                                what: "a dollar-quoted body",
                                at: start,
                            });
                        }
                    }
                }
                // `$1`, or a `$` inside an identifier.
                None => i += 1,
            },
            _ if is_ident_byte(c) => {
                while i < bytes.len() && (is_ident_byte(bytes[i]) || bytes[i] == b'$') {
                    i += 1;
                }
            }
            // Punctuation and operators (ASCII: bytes of other characters are identifier bytes).
            _ => i += 1,
        }
        first_word.get_or_insert((start, i));
        end = i;
    }
    let Some((word_start, word_end)) = first_word else {
        return Err(QueryError::Empty);
    };
    let word = &sql[word_start..word_end];
    let reads = ["select", "with", "values", "table", "("]
        .iter()
        .any(|k| word.eq_ignore_ascii_case(k));
    if !reads {
        return Err(QueryError::NotASelect {
            start: word.chars().take(40).collect(),
        });
    }
    Ok(&sql[word_start..end])
}

fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

/// The offset after the closing quote of a literal opened at `open`, `''` (or
/// `""`) standing for one quote, and `\x` skipped when `escapes`.
fn skip_quoted(bytes: &[u8], open: usize, quote: u8, escapes: bool) -> Option<usize> {
    let mut i = open + 1;
    while i < bytes.len() {
        let c = bytes[i];
        if escapes && c == b'\\' {
            i += 2;
            continue;
        }
        if c == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return Some(i + 1);
        }
        i += 1;
    }
    None
}

/// When a `$tag$` (or `$$`) opens at `i`, the offset after it.
fn dollar_tag(bytes: &[u8], i: usize) -> Option<usize> {
    // `a$b` is an identifier, not a tag.
    if i > 0 && is_ident_byte(bytes[i - 1]) {
        return None;
    }
    let mut j = i + 1;
    if bytes.get(j).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    while j < bytes.len()
        && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_' || bytes[j] >= 0x80)
    {
        j += 1;
    }
    (bytes.get(j) == Some(&b'$')).then_some(j + 1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn one_select_passes_without_its_terminator() {
        assert_eq!(check_single_select("  SELECT 1  ").unwrap(), "SELECT 1");
        assert_eq!(
            check_single_select("select 1;;  -- the end\n /* really */").unwrap(),
            "select 1"
        );
        assert_eq!(
            check_single_select("-- a note\nWITH a AS (SELECT 1) SELECT * FROM a;").unwrap(),
            "WITH a AS (SELECT 1) SELECT * FROM a"
        );
        assert!(check_single_select("(SELECT 1) UNION (SELECT 2)").is_ok());
        assert!(check_single_select("VALUES (1), (2)").is_ok());
        assert!(check_single_select("table etl.general_ledger").is_ok());
    }

    #[test]
    fn semicolons_inside_literals_comments_and_bodies_do_not_count() {
        for sql in [
            "SELECT ';' AS a",
            "SELECT 'it''s; fine'",
            "SELECT E'a\\'; b'",
            "SELECT \"we;ird\" FROM t",
            "SELECT 1 /* ; /* nested ; */ ; */",
            "SELECT 1 -- ; trailing\n",
            "SELECT $$ ; $$, $body$ ; $ ; $body$",
            "SELECT a$b FROM t WHERE x = $1",
        ] {
            assert!(check_single_select(sql).is_ok(), "{sql}");
        }
    }

    #[test]
    fn several_statements_are_refused() {
        let err = check_single_select("SELECT 1; DROP TABLE t").unwrap_err();
        assert!(
            matches!(&err, QueryError::SeveralStatements { at: 8, next } if next == "DROP TABLE t"),
            "{err}"
        );
        assert!(check_single_select("SELECT ';'; SELECT 2").is_err());
        assert!(check_single_select("SELECT 1 /* x */ ; -- y\n SELECT 2").is_err());
    }

    #[test]
    fn writes_and_empty_texts_are_refused() {
        for sql in [
            "DELETE FROM t",
            "update t set a = 1",
            "INSERT INTO t VALUES (1)",
            "DROP TABLE t",
            "COPY t TO STDOUT",
            "SET search_path = x",
            "BEGIN",
        ] {
            let err = check_single_select(sql).unwrap_err();
            assert!(matches!(err, QueryError::NotASelect { .. }), "{sql}: {err}");
        }
        assert!(matches!(
            check_single_select("  -- nothing\n ; "),
            Err(QueryError::Empty)
        ));
        assert!(matches!(
            check_single_select("SELECT 'open"),
            Err(QueryError::Unterminated {
                what: "a string literal",
                at: 7
            })
        ));
        assert!(check_single_select("SELECT 1 /* open").is_err());
        assert!(check_single_select("SELECT $x$ open").is_err());
    }

    #[test]
    fn non_ascii_text_is_scanned_by_characters() {
        assert_eq!(
            check_single_select("SELECT 'café' AS \"né\", 1 ; ").unwrap(),
            "SELECT 'café' AS \"né\", 1"
        );
        assert!(check_single_select("SÉLECT 1").is_err());
    }
}
