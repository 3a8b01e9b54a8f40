//! One quoting helper per engine, for identifiers and literals in statements
//! that cannot take parameters (DDL, GRANT, CREATE USER).

/// PostgreSQL identifier: double quotes, inner ones doubled.
pub fn pg_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// PostgreSQL literal: single quotes doubled; with standard_conforming_strings
/// (on since 9.1) a backslash is an ordinary character. NUL cannot be sent.
pub fn pg_literal(value: &str) -> String {
    format!("'{}'", value.replace('\0', "").replace('\'', "''"))
}

/// MySQL/MariaDB identifier: backticks, inner ones doubled.
pub fn mysql_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// MySQL/MariaDB literal: backslash and single quote escaped (the default
/// sql_mode treats backslash as an escape character).
pub fn mysql_literal(value: &str) -> String {
    let escaped = value.replace('\0', "").replace('\\', "\\\\").replace('\'', "\\'");
    format!("'{escaped}'")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hostile names and passwords: quotes, terminators, comments, unicode,
    /// backslashes, maximum length.
    const CORPUS: &[&str] = &[
        "plain",
        "it's",
        "a\"b",
        "x`; DROP TABLE users; --",
        "'; DROP ROLE postgres; --",
        "\\'; SELECT 1; --",
        "/* comment */",
        "naïve—ünïcødé 🦀",
        "back\\slash\\",
        "$$dollar$$",
    ];

    /// Reads a quoted token back the way the server does, returning the
    /// content and what follows the closing quote.
    fn unquote(quoted: &str, quote: char, backslash_escapes: bool) -> (String, String) {
        let mut chars = quoted.chars();
        assert_eq!(chars.next(), Some(quote));
        let mut out = String::new();
        while let Some(c) = chars.next() {
            if backslash_escapes && c == '\\' {
                out.push(chars.next().expect("escape at end"));
            } else if c == quote {
                let rest: String = chars.clone().collect();
                if rest.starts_with(quote) {
                    out.push(quote);
                    chars.next();
                } else {
                    return (out, rest);
                }
            } else {
                out.push(c);
            }
        }
        panic!("unterminated: {quoted}");
    }

    #[test]
    fn every_value_round_trips_as_one_token() {
        let long = "x".repeat(1000);
        for value in CORPUS.iter().copied().chain([long.as_str()]) {
            for (quoted, quote, backslash) in [
                (pg_ident(value), '"', false),
                (pg_literal(value), '\'', false),
                (mysql_ident(value), '`', false),
                (mysql_literal(value), '\'', true),
            ] {
                let (content, rest) = unquote(&quoted, quote, backslash);
                assert_eq!(content, value, "{quoted}");
                assert_eq!(rest, "", "the token of {value:?} ended early: {quoted}");
            }
        }
    }
}
