//! The CSV metadata-action reads its inputs with: csv-parse (7.x), called twice. First on a whole list input, as
//! actions-toolkit's `Util.getInputList(name, {ignoreComma: true, comment: '#', commentNoInfix: true})` does
//! (`relax_quotes`, `relax_column_count`, `skip_empty_lines`, `comment: '#'` at the start of a record only): that
//! splits the input into entries and drops comment lines and blank lines. Then on each `tags:`/`flavor:` entry, as
//! its `tag.ts`/`flavor.ts` do (`relax_column_count`, `skip_empty_lines`, strict quotes): that splits the entry into
//! fields, and a quote anywhere but around a whole field is an error there. Pure.
//!
//! Two choices where csv-parse would surprise: a comment line may be indented (csv-parse takes `  # x` for an
//! entry, which metadata-action then turns into a tag; here it is skipped, as the reader of the block expects), and
//! a `tags:`/`flavor:` entry keeps its quotes for the second pass, so a quoted field keeps its commas
//! (`type=match,"pattern=\d{1,2}"`, as metadata-action's own tests and README write it; the toolkit's join of the
//! first pass's fields would split it there).

/// csv-parse's quote and escape character (its defaults, which metadata-action keeps).
const QUOTE: char = '"';
const COMMENT: char = '#';

/// One entry of a list input: its text as written (trimmed; a `tags:`/`flavor:` entry, parsed again), and its
/// fields joined with `,`, as the toolkit hands it on (a `labels:`/`annotations:` entry, used as it is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub text: String,
    pub joined: String,
}

/// A record of csv-parse: its fields, and where it starts and ends in the input (characters).
struct Record {
    fields: Vec<String>,
    span: (usize, usize),
}

/// The entries of one list input, in order, comment and blank lines left out. The error says what csv-parse
/// refuses (only a quote left open, since the first pass relaxes quotes).
pub fn input_entries(input: &str) -> Result<Vec<Entry>, String> {
    let chars: Vec<char> = js_trim(input).chars().collect();
    let records = records(&chars, true)?;
    Ok(records
        .into_iter()
        .map(|record| Entry {
            text: js_trim(&chars[record.span.0..record.span.1].iter().collect::<String>()).to_string(),
            joined: js_trim(&record.fields.join(",")).to_string(),
        })
        .filter(|entry| !entry.text.is_empty() && !entry.joined.is_empty())
        .collect())
}

/// The fields of one `tags:` or `flavor:` entry: the first record of csv-parse with strict quotes. The error says
/// what csv-parse refuses (a quote inside a field, text after a closing quote, a quote left open).
pub fn entry_fields(entry: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = entry.chars().collect();
    let mut records = records(&chars, false)?;
    Ok(if records.is_empty() { vec![String::new()] } else { records.swap_remove(0).fields })
}

/// JavaScript's `String.prototype.trim` (what `core.getInput` and the toolkit trim with): ECMAScript white space
/// and line terminators, which include U+FEFF and exclude U+0085.
fn js_trim(text: &str) -> &str {
    text.trim_matches(|c: char| (c.is_whitespace() && c != '\u{85}') || c == '\u{feff}')
}

/// csv-parse over `chars`: `,` between fields, the record delimiter found as csv-parse finds it (the first `\r\n`,
/// `\n` or `\r` outside quotes, then only that one), `"` quotes a field and `""` inside quotes is a quote, empty
/// lines skipped. `list` is the first pass: relaxed quotes (a quote inside a field, or after a closing quote, is
/// text) and `#` comments at the start of a record (after blanks, see the module's note).
fn records(chars: &[char], list: bool) -> Result<Vec<Record>, String> {
    let at = |i: usize| chars.get(i).copied();
    let mut delimiter: Option<&'static [char]> = None;
    let mut records = Vec::new();
    let (mut record, mut field) = (Vec::new(), String::new());
    let (mut quoting, mut was_quoting, mut commenting, mut escaping) = (false, false, false, false);
    let mut start = 0;
    let mut i = 0;
    let line_of = |i: usize| chars[..i.min(chars.len())].iter().filter(|c| **c == '\n').count() + 1;
    while i < chars.len() {
        if !quoting && delimiter.is_none() {
            delimiter_at(chars, i, &mut delimiter);
        }
        let c = chars[i];
        if escaping {
            escaping = false;
        } else {
            if quoting && c == QUOTE && at(i + 1) == Some(QUOTE) {
                escaping = true;
                i += 1;
                continue;
            }
            if !commenting && c == QUOTE {
                if quoting {
                    let next = at(i + 1);
                    if next.is_none()
                        || next == Some(',')
                        || delimiter_at(chars, i + 1, &mut delimiter) != 0
                        || (list && next == Some(COMMENT))
                    {
                        quoting = false;
                        was_quoting = true;
                        i += 1;
                        continue;
                    }
                    if !list {
                        return Err(format!(
                            "text after the closing quote of field {} (a quoted field ends at its quote: write \
                             \"\" for a quote inside it)",
                            record.len() + 1
                        ));
                    }
                    quoting = false;
                    was_quoting = true;
                    field.insert(0, QUOTE);
                } else if field.is_empty() {
                    quoting = true;
                    i += 1;
                    continue;
                } else if !list {
                    return Err(format!(
                        "a quote (\") inside field {} '{field}\"…', as metadata-action's CSV parser refuses it; \
                         quote the whole field instead (\"key=value\", a quote inside it written \"\")",
                        record.len() + 1
                    ));
                }
            }
            if !quoting {
                let length = delimiter_at(chars, i, &mut delimiter);
                if length != 0 {
                    let comment_line = commenting && !was_quoting && record.is_empty() && field.is_empty();
                    let empty_line = !was_quoting && record.is_empty() && field.is_empty();
                    if !comment_line && !empty_line {
                        record.push(std::mem::take(&mut field));
                        records.push(Record { fields: std::mem::take(&mut record), span: (start, i) });
                    }
                    (commenting, was_quoting) = (false, false);
                    field.clear();
                    i += length;
                    start = i;
                    continue;
                }
                if commenting {
                    i += 1;
                    continue;
                }
                let record_start = record.is_empty() && field.chars().all(|b| b == ' ' || b == '\t');
                if list && c == COMMENT && record_start {
                    commenting = true;
                    field.clear();
                    i += 1;
                    continue;
                }
                if c == ',' {
                    record.push(std::mem::take(&mut field));
                    was_quoting = false;
                    i += 1;
                    continue;
                }
            }
        }
        field.push(c);
        i += 1;
    }
    if quoting {
        let line: String = chars[start..].iter().take_while(|c| **c != '\n' && **c != '\r').collect();
        return Err(format!("a quote (\") in the line '{line}' (line {}) is never closed", line_of(start)));
    }
    if was_quoting || !record.is_empty() || !field.is_empty() {
        record.push(field);
        records.push(Record { fields: record, span: (start, chars.len()) });
    }
    Ok(records)
}

/// The record delimiter's length at `i` (0 when there is none), discovering it first as csv-parse does when none
/// is known yet: the first `\r\n`, `\n` or `\r`.
fn delimiter_at(chars: &[char], i: usize, delimiter: &mut Option<&'static [char]>) -> usize {
    if delimiter.is_none() {
        *delimiter = match (chars.get(i), chars.get(i + 1)) {
            (Some('\r'), Some('\n')) => Some(&['\r', '\n']),
            (Some('\n'), _) => Some(&['\n']),
            (Some('\r'), _) => Some(&['\r']),
            _ => None,
        };
    }
    match delimiter {
        Some(d) if chars.get(i..i + d.len()) == Some(*d) => d.len(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(input: &str) -> Vec<String> {
        input_entries(input).unwrap().into_iter().map(|entry| entry.text).collect()
    }

    #[test]
    fn list_inputs_split_as_the_toolkit_splits_them() {
        // actions-toolkit's and metadata-action's own cases (util.test.ts, context.test.ts), then ours.
        let cases: &[(&str, &[&str])] = &[
            ("foo=bar\nbar=qux#baz", &["foo=bar", "bar=qux#baz"]),
            ("# ignore this\nfoo=bar\nbar=qux#baz", &["foo=bar", "bar=qux#baz"]),
            ("mylabel=foo#bar\n#comment\nanother=bar", &["mylabel=foo#bar", "another=bar"]),
            ("type=raw,value=foo#bar\n#comment", &["type=raw,value=foo#bar"]),
            ("prefix=v#1\n#comment", &["prefix=v#1"]),
            ("user/app:cache\r\ntype=local,src=path/to/dir", &["user/app:cache", "type=local,src=path/to/dir"]),
            ("# Tag with branch name\ntype=ref,event=branch\n\n\ntype=sha", &["type=ref,event=branch", "type=sha"]),
            ("  a\n  # indented comment\n   \n\tb  \n", &["a", "b"]),
            ("#only comments\n# here", &[]),
            ("", &[]),
            ("type=match,\"pattern=\\d{1,2}\",group=0", &["type=match,\"pattern=\\d{1,2}\",group=0"]),
            ("type=raw,value=x\"", &["type=raw,value=x\""]),
            ("\"a\nb\"\nc", &["\"a\nb\"", "c"]),
            ("\"# not a comment\"", &["\"# not a comment\""]),
        ];
        for (input, expected) in cases {
            assert_eq!(texts(input), *expected, "{input:?}");
        }
    }

    #[test]
    fn list_entries_are_joined_as_the_toolkit_joins_them() {
        let joined = |input: &str| input_entries(input).unwrap().into_iter().map(|e| e.joined).collect::<Vec<_>>();
        assert_eq!(
            joined("\"org.opencontainers.image.description=a, b\"\nk=\"v\""),
            ["org.opencontainers.image.description=a, b", "k=\"v\""]
        );
        assert_eq!(joined("a=\"x\"y,z"), ["a=\"x\"y,z"], "relaxed quotes are text");
        assert_eq!(joined("\"a\"\"b\""), ["a\"b"]);
    }

    #[test]
    fn an_unclosed_quote_fails_the_list() {
        assert!(input_entries("a\n\"b,c\nd").unwrap_err().contains("line 2"));
    }

    #[test]
    fn entries_split_into_fields_with_strict_quotes() {
        let ok: &[(&str, &[&str])] = &[
            ("type=raw,value=x", &["type=raw", "value=x"]),
            ("type=raw,\"value=x\"", &["type=raw", "value=x"]),
            ("type=raw,\"value=a,b\"", &["type=raw", "value=a,b"]),
            ("type=raw,\"value=a\"\"b\"", &["type=raw", "value=a\"b"]),
            ("\"type=raw\",value=x", &["type=raw", "value=x"]),
            ("a,,b,", &["a", "", "b", ""]),
            ("\"\"", &[""]),
            ("a\nb", &["a"]),
        ];
        for (entry, expected) in ok {
            assert_eq!(entry_fields(entry).unwrap(), *expected, "{entry:?}");
        }
        for entry in [
            "type=raw,value=x\"",
            "type=raw,value=\"x\"y",
            "type=raw,\"value=x\"y",
            "type=raw,\"value=x",
            "type=raw,value=x\"\"",
            "type=raw,\"value=x\" ",
            "a\n\"b",
        ] {
            assert!(entry_fields(entry).is_err(), "{entry:?} is refused by csv-parse");
        }
    }
}
