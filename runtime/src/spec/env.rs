//! `${VAR}` and `${VAR:-default}` substitution in pipeline files, done on the
//! text before it is parsed (as Vector does), with `$${` for a literal `${`.

/// An environment variable the file uses but nothing defines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingVar {
    /// The variable's name.
    pub name: String,
    /// 1-based line of the reference.
    pub line: usize,
}

/// Replaces every `${NAME}` and `${NAME:-default}` in `text` using `lookup`.
/// Returns every reference without a value or default, or the new text.
pub fn substitute(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, Vec<MissingVar>> {
    let mut out = String::with_capacity(text.len());
    let mut missing = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        if rest[..at].ends_with('$') {
            // `$${` is a literal `${`.
            out.push_str(&rest[..at - 1]);
            out.push_str("${");
            rest = &rest[at + 2..];
            continue;
        }
        out.push_str(&rest[..at]);
        let Some(end) = rest[at..].find('}') else {
            out.push_str(&rest[at..]);
            rest = "";
            break;
        };
        let reference = &rest[at + 2..at + end];
        let (name, default) = match reference.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (reference, None),
        };
        match lookup(name).or_else(|| default.map(str::to_string)) {
            Some(value) => out.push_str(&value),
            None => missing.push(MissingVar {
                name: name.to_string(),
                line: text[..text.len() - rest.len() + at].matches('\n').count() + 1,
            }),
        }
        rest = &rest[at + end + 1..];
    }
    out.push_str(rest);
    match missing.is_empty() {
        true => Ok(out),
        false => Err(missing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "HOST").then(|| "db.local".to_string())
    }

    #[test]
    fn substitutes_values_and_defaults() {
        let text = "a: ${HOST}\nb: ${PORT:-5432}\nc: $${HOST}\n";
        assert_eq!(
            substitute(text, env).unwrap(),
            "a: db.local\nb: 5432\nc: ${HOST}\n"
        );
    }

    #[test]
    fn reports_every_missing_variable_with_its_line() {
        let missing = substitute("a: 1\nb: ${USER_X}\nc: ${PASS_Y}\n", env).unwrap_err();
        assert_eq!(
            missing,
            vec![
                MissingVar {
                    name: "USER_X".into(),
                    line: 2
                },
                MissingVar {
                    name: "PASS_Y".into(),
                    line: 3
                },
            ]
        );
    }
}
