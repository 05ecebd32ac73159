//! SQL identifiers: table, schema and column names from outside are always quoted,
//! never spliced raw into SQL. One implementation for every Penny crate that writes
//! SQL (the PostgreSQL loader, the Data Sharing client, the command line).

/// `name` as a quoted SQL identifier (PostgreSQL and Redshift dialect): `"name"`,
/// inner double quotes doubled. Reserved words (`order`, `table`, `user`) and mixed
/// case survive as they are.
///
/// A NUL cannot be part of an identifier; it is dropped rather than allowed to cut
/// the statement (callers that must refuse such names check them first).
///
/// ```
/// use penny_transform::ident::quote_ident;
/// assert_eq!(quote_ident("order"), r#""order""#);
/// assert_eq!(quote_ident(r#"a"b"#), r#""a""b""#);
/// ```
pub fn quote_ident(name: &str) -> String {
    let mut quoted = String::with_capacity(name.len() + 2);
    quoted.push('"');
    for c in name.chars() {
        if c == '"' {
            quoted.push('"');
        }
        if c != '\0' {
            quoted.push(c);
        }
    }
    quoted.push('"');
    quoted
}

/// `"schema"."table"`, both quoted.
///
/// ```
/// use penny_transform::ident::qualified;
/// assert_eq!(qualified("penny", "user"), r#""penny"."user""#);
/// ```
pub fn qualified(schema: &str, table: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(table))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_doubles_and_drops_nul() {
        assert_eq!(quote_ident("Compte"), "\"Compte\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_ident("a\0b"), "\"ab\"");
        assert_eq!(qualified("s", "t\"x"), "\"s\".\"t\"\"x\"");
    }
}
