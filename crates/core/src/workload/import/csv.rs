//! Splitting one CSV record into fields (RFC 4180 quoting, on one line).

use std::borrow::Cow;

/// Splits `line` at `separator` (`,` for traces; benchmark files may use `;` or tabs) into
/// `fields`, trimming spaces around each field. Quoted fields (`"a, b"`, with `""` for a quote)
/// may contain the separator; a record spanning several lines is not supported (traces have
/// none).
///
/// # Errors
///
/// Returns the 1-based column of a quoted field that is not closed or is followed by text.
pub fn split_fields<'a>(line: &'a str, separator: char, fields: &mut Vec<Cow<'a, str>>) -> Result<(), (usize, String)> {
    fields.clear();
    if !line.contains('"') {
        fields.extend(line.split(separator).map(|field| Cow::Borrowed(field.trim())));
        return Ok(());
    }
    let mut rest = line;
    loop {
        let column = fields.len() + 1;
        let trimmed = rest.trim_start();
        if let Some(quoted) = trimmed.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let after = loop {
                match chars.next() {
                    Some((i, '"')) if quoted[i + 1..].starts_with('"') => {
                        value.push('"');
                        chars.next();
                    }
                    Some((i, '"')) => break &quoted[i + 1..],
                    Some((_, c)) => value.push(c),
                    None => return Err((column, "a quoted field is not closed".to_owned())),
                }
            };
            fields.push(Cow::Owned(value));
            let after = after.trim_start();
            match after.strip_prefix(separator) {
                Some(next) => rest = next,
                None if after.is_empty() => return Ok(()),
                None => return Err((column, "text after a quoted field".to_owned())),
            }
        } else {
            match rest.split_once(separator) {
                Some((field, next)) => {
                    fields.push(Cow::Borrowed(field.trim()));
                    rest = next;
                }
                None => {
                    fields.push(Cow::Borrowed(rest.trim()));
                    return Ok(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str) -> Result<Vec<String>, (usize, String)> {
        let mut fields = Vec::new();
        split_fields(line, ',', &mut fields)?;
        Ok(fields.into_iter().map(Cow::into_owned).collect())
    }

    #[test]
    fn plain_and_quoted_fields() {
        assert_eq!(split("a, b ,c").unwrap(), ["a", "b", "c"]);
        assert_eq!(split("5,ChatGPT,472,,Conversation log").unwrap(), ["5", "ChatGPT", "472", "", "Conversation log"]);
        assert_eq!(split(r#"1,"x, ""y""", 3"#).unwrap(), ["1", r#"x, "y""#, "3"]);
        assert_eq!(split(r#""a","b""#).unwrap(), ["a", "b"]);
        assert_eq!(split(r#"1,"open"#).unwrap_err(), (2, "a quoted field is not closed".to_owned()));
        assert_eq!(split(r#""a"b,c"#).unwrap_err(), (1, "text after a quoted field".to_owned()));
        assert_eq!(split(r#"é,"ü""#).unwrap(), ["é", "ü"]);
    }
}
